"""The built-in corpus `travel`: travel-booking requests and questions from a probabilistic grammar.

It needs no file and no network, so rnngen works out of the box. The grammar
is written so that a recurrent model has something to learn that an n-gram
model cannot:

- number agreement across a long noun phrase ("the flight from boston to
  denver on monday morning is full" / "the flights ... are full"), and between
  an opening "is there" / "are there" and a closing "it" / "them";
- the question or request opening a sentence decides its final "?" or ".";
- a round trip returns to the city it started from ("from boston to denver on
  friday , returning to boston on sunday"), and an airport names its own city.

The grammar is unambiguous, so a sentence's probability is the product of its
rules' probabilities, and the true per-token entropy of the source is known
exactly: the floor no model's perplexity can go below.
"""

from __future__ import annotations

import random
from functools import lru_cache
from typing import Sequence

from rnngen.corpus.base import Corpus, Sentences
from rnngen.corpus.grammar import Grammar, Rhs
from rnngen.tokenize import TokenizerSettings

NAME = "travel"
DEFAULT_SENTENCES = 24_000
DEFAULT_SEED = 1
DESCRIPTION = "travel booking requests from a grammar; exact entropy known"

CITIES = (
    "boston", "denver", "new york", "san francisco", "los angeles", "chicago", "dallas", "houston", "atlanta",
    "seattle", "miami", "philadelphia", "pittsburgh", "baltimore", "washington", "detroit", "minneapolis",
    "saint louis", "phoenix", "las vegas", "salt lake city", "portland", "orlando", "tampa", "charlotte",
    "nashville", "memphis", "new orleans", "kansas city", "cleveland", "cincinnati", "indianapolis",
    "milwaukee", "san diego", "oakland", "toronto", "montreal", "london", "paris", "tokyo", "taipei",
    "hong kong", "frankfurt", "amsterdam",
)
AIRPORTS = {
    "boston": ("logan",), "new york": ("kennedy", "la guardia", "newark"), "chicago": ("o'hare", "midway"),
    "washington": ("dulles", "reagan national"), "dallas": ("love field", "dallas fort worth"),
    "houston": ("hobby", "bush intercontinental"), "atlanta": ("hartsfield",), "denver": ("stapleton",),
    "london": ("heathrow", "gatwick"), "paris": ("charles de gaulle", "orly"), "tokyo": ("narita", "haneda"),
    "taipei": ("taoyuan", "songshan"), "san francisco": ("sfo",), "los angeles": ("lax",),
}
AIRLINES = (
    "american", "american airlines", "united", "united airlines", "delta", "continental", "northwest", "southwest",
    "alaska airlines", "jetblue", "lufthansa", "british airways", "air canada", "air france", "klm",
    "eva air", "china airlines", "japan airlines", "cathay pacific", "us air",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december")
_UNITS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth")
ORDINALS = (*_UNITS, "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
            "seventeenth", "eighteenth", "nineteenth", "twentieth", *(f"twenty {u}" for u in _UNITS), "thirtieth",
            "thirty first")
HOURS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve")


def words(options: Sequence[str], weights: Sequence[float] | None = None) -> list[tuple[Rhs, float]]:
    """A word-list rule set: each option (possibly several words) with its weight (equal by default)."""
    weights = weights or [1.0] * len(options)
    return [(tuple(o.split()), w) for o, w in zip(options, weights)]


def alt(*options: tuple[str, float]) -> list[tuple[Rhs, float]]:
    """Rules from ('WORDS AND SYMBOLS', weight) pairs; '' is the empty right-hand side."""
    return [(tuple(rhs.split()), w) for rhs, w in options]


def _key(city: str) -> str:
    return city.upper().replace(" ", "_").replace("'", "")


@lru_cache(maxsize=1)
def travel_grammar() -> Grammar:
    """The grammar of the built-in corpus (cached: it never changes)."""
    g: dict[str, list[tuple[Rhs, float]]] = {}
    g["S"] = alt(("REQUEST PLEASE_END .", 34), ("WHQ ?", 22), ("YNQ ?", 16), ("STATEMENT .", 14),
                 ("CONDITIONAL .", 6), ("POLITE_Q ?", 8))

    # -- requests --------------------------------------------------------------
    g["REQUEST"] = alt(
        ("I_WANT_TO to fly TRIP", 14), ("I_WANT FLIGHT_SG_INDEF", 12), ("I_WANT FLIGHTS_PL_INDEF", 4),
        ("SHOW me FLIGHTS_PL_DEF", 14), ("PLEASE_START SHOW me FLIGHTS_PL_DEF", 4), ("list FLIGHTS_PL_DEF", 5),
        ("I_WANT_TO to book TICKET", 8), ("I_WANT_TO to arrive in CITY WHEN", 5), ("I_WANT_TO to leave CITY WHEN", 3),
        ("book me on FLIGHT_SG_DEF", 4), ("I_WANT ROUND_TRIP", 5), ("I_WANT_TO to fly ROUND_ROUTE", 3), ("SHOW me the FARE_N ROUTE WHEN", 5),
        ("I_WANT GROUND in CITY", 4), ("I_WANT a HOTEL in CITY STAY", 4), ("I_WANT_TO to reserve a SEAT_KIND seat", 2),
        ("I_WANT_TO to fly ON_AIRLINE", 2),
    )
    g["PLEASE_START"] = words(["please", "now please"], [4, 1])
    g["PLEASE_END"] = alt(("", 8), ("please", 1), ("for me", 1), ("if possible", 1))
    g["I_WANT"] = alt(("I_WANT_TO", 6), ("I_SEEK", 1))  # before a noun phrase
    g["I_WANT_TO"] = words(["i would like", "i want", "i need", "i'd like", "we would like", "we need",
                            "my wife and i would like", "we want"], [6, 4, 5, 2, 2, 2, 1, 1])
    g["I_SEEK"] = words(["i am looking for", "we are looking for", "i'm looking for"])
    g["SHOW"] = words(["show", "give", "find", "tell"], [6, 2, 2, 1])
    g["TRIP"] = alt(("ROUTE WHEN CARRIER", 10), ("to CITY WHEN CARRIER", 3), ("ROUTE ON_AIRLINE WHEN_SOME", 2))
    g["ON_AIRLINE"] = alt(("on AIRLINE", 3), ("with AIRLINE", 1))
    g["CARRIER"] = alt(("", 6), ("ON_AIRLINE", 1), ("nonstop", 1))

    # -- flights as noun phrases, singular and plural --------------------------------
    g["FLIGHT_SG_INDEF"] = alt(("a ADJ_C flight FMODS_SG", 4), ("an ADJ_V flight FMODS_SG", 2), ("a flight FMODS_SG", 5),
                               ("one ticket FMODS_SG", 1), ("a seat FMODS_SG", 1))
    g["FLIGHTS_PL_INDEF"] = alt(("some ADJ_ANY flights FMODS_PL", 1), ("two tickets FMODS_PL", 1),
                                ("flights FMODS_PL", 2), ("ADJ_ANY flights FMODS_PL", 2))
    g["FLIGHT_SG_DEF"] = alt(("the SUPERL flight FMODS_SG", 4), ("the flight FMODS_SG", 3),
                             ("flight NUMBER FMODS_SG", 1))
    g["FLIGHTS_PL_DEF"] = alt(("the flights FMODS_PL", 3), ("all flights FMODS_PL", 3), ("all the flights FMODS_PL", 1),
                              ("flights FMODS_PL", 4), ("the ADJ_ANY flights FMODS_PL", 2), ("ADJ_ANY flights FMODS_PL", 2),
                              ("the SUPERL flights FMODS_PL", 1))
    for num, that_stop, that_serve in (("SG", "that stops in", "that serves"), ("PL", "that stop in", "that serve")):
        # the relative clause agrees with the noun before the route: "a flight ... that stops in dallas"
        g[f"FMODS_{num}"] = alt(("ROUTE WHEN CARRIER", 8), ("ROUTE ON_AIRLINE WHEN_SOME", 3), ("to CITY WHEN", 2),
                                ("from CITY WHEN", 2), (f"ROUTE WHEN STOPS_{num}", 2), (f"ROUTE WHEN SERVING_{num}", 1))
        g[f"STOPS_{num}"] = alt(("with a stop in CITY", 2), ("with a stopover in CITY", 1), (f"{that_stop} CITY", 2))
        g[f"SERVING_{num}"] = alt(("with MEAL", 1), (f"{that_serve} MEAL", 1))
    g["ADJ_C"] = words(["cheap", "nonstop", "direct", "morning", "late", "first class", "business class",
                        "coach", "round trip", "one way", "red eye", "later", "cheaper", "connecting"])
    g["ADJ_V"] = words(["early", "afternoon", "evening", "economy", "overnight", "earlier", "inexpensive"])
    g["ADJ_ANY"] = alt(("ADJ_C", 2), ("ADJ_V", 1))
    g["SUPERL"] = words(["first", "last", "earliest", "latest", "cheapest", "next", "shortest", "fastest"])
    g["NUMBER"] = alt(("DIGIT DIGIT", 1), ("DIGIT DIGIT DIGIT", 2), ("DIGIT DIGIT DIGIT DIGIT", 1))
    g["DIGIT"] = words(["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "zero"])
    g["TICKET"] = alt(("a TICKET_KIND ticket ROUTE WHEN", 4), ("TICKET_COUNT tickets ROUTE WHEN", 2),
                      ("a ticket ROUTE WHEN", 3))
    g["TICKET_KIND"] = words(["one way", "round trip", "first class", "business class", "coach", "economy",
                              "refundable", "nonrefundable", "cheap"], [3, 3, 2, 2, 1, 1, 1, 1, 1])
    g["TICKET_COUNT"] = words(["two", "three", "four", "two round trip", "two one way", "two first class"])
    g["SEAT_KIND"] = words(["window", "aisle", "exit row", "front row"])
    g["MEAL"] = words(["breakfast", "lunch", "dinner", "a meal", "a snack", "meals", "a vegetarian meal"],
                      [3, 3, 3, 2, 1, 1, 1])
    g["GROUND"] = words(["a rental car", "a car", "a taxi", "ground transportation", "a limousine", "a shuttle"])
    g["HOTEL"] = words(["hotel", "room", "hotel room", "cheap hotel", "hotel near the airport", "room downtown"])
    g["STAY"] = alt(("for NIGHTS", 2), ("WHEN", 1))
    g["NIGHTS"] = words(["one night", "two nights", "three nights", "four nights", "a week", "the weekend"])
    g["FARE_N"] = words(["fares", "cheapest fares", "first class fares", "coach fares", "round trip fares",
                         "prices", "flight times", "schedule", "connections"])

    # -- routes: every origin has its own destinations (never itself) ----------------
    route, round_trip, between = [], [], []
    for origin in CITIES:
        key = _key(origin)
        g[f"TO_{key}"] = words([c for c in CITIES if c != origin])
        route.append((tuple(f"from {origin} to".split()) + (f"TO_{key}",), 1.0))
        between.append((tuple(f"between {origin} and".split()) + (f"TO_{key}",), 1.0))
        round_trip.append((tuple(f"from {origin} to".split()) + (f"TO_{key}", "WHEN", ",", "returning", "to")
                           + tuple(origin.split()) + ("WHEN",), 1.0))
    g["ROUTE"] = alt(("ROUTE_FROM_TO", 6), ("ROUTE_BETWEEN", 1))
    g["ROUTE_FROM_TO"] = route
    g["ROUTE_BETWEEN"] = between
    g["ROUND_TRIP"] = alt(("a round trip ROUND_ROUTE", 3), ("a round trip ticket ROUND_ROUTE", 2))
    g["ROUND_ROUTE"] = round_trip
    g["CITY"] = words(CITIES)
    g["AIRLINE"] = words(AIRLINES)

    # -- dates and times -------------------------------------------------------------
    g["WHEN"] = alt(("", 3), ("WHEN_SOME", 7))
    g["WHEN_SOME"] = alt(("DAY", 5), ("DAY TIME", 2), ("TIME", 3))
    g["DAY"] = alt(("on WEEKDAY", 6), ("on WEEKDAY DAYPART", 3), ("on MONTH ORDINAL", 5), ("on the ORDINAL of MONTH", 2),
                   ("today", 1), ("tomorrow", 2), ("tomorrow DAYPART", 1), ("next WEEKDAY", 2),
                   ("this WEEKDAY", 1), ("this weekend", 1), ("next week", 1))
    g["TIME"] = alt(("in the DAYPART", 4), ("at CLOCK", 4), ("before CLOCK", 3), ("after CLOCK", 3),
                    ("around CLOCK", 2), ("between CLOCK and CLOCK", 1), ("leaving at CLOCK", 1),
                    ("arriving by CLOCK", 1))
    g["WEEKDAY"] = words(WEEKDAYS)
    g["MONTH"] = words(MONTHS)
    g["ORDINAL"] = words(ORDINALS)
    g["DAYPART"] = words(["morning", "afternoon", "evening", "night"], [3, 2, 2, 1])
    g["CLOCK"] = alt(("HOUR AMPM", 6), ("HOUR MINUTES AMPM", 3), ("HOUR o'clock", 2), ("noon", 1), ("midnight", 1))
    g["HOUR"] = words(HOURS)
    g["MINUTES"] = words(["fifteen", "thirty", "forty five", "o five", "fifty"])
    g["AMPM"] = words(["am", "pm"])

    # -- questions ------------------------------------------------------------------
    g["WHQ"] = alt(
        ("what flights go ROUTE WHEN", 6), ("what flights are there ROUTE WHEN", 4),
        ("what flights leave CITY WHEN", 2), ("what flights arrive in CITY WHEN", 2),
        ("which airline flies ROUTE WHEN", 2), ("which airlines fly ROUTE WHEN", 2),
        ("what is the SUPERL_FARE ROUTE WHEN", 4), ("what are the FARE_N ROUTE WHEN", 3),
        ("how much is TICKET", 3), ("how much does TICKET cost", 2), ("how much do TICKET_COUNT tickets ROUTE cost", 1),
        ("when does the SUPERL flight FMODS_SG VERB_SG_BARE", 3), ("when do the flights FMODS_PL VERB_PL_BARE", 2),
        ("what time does the SUPERL flight FMODS_SG VERB_SG_BARE", 2), ("what time do the flights FMODS_PL VERB_PL_BARE", 1),
        ("how long is the flight ROUTE", 2), ("how long does it take to fly ROUTE", 1),
        ("what does fare code FARE_CODE mean", 1), ("what kind of aircraft is used on FLIGHT_SG_DEF", 1),
        ("what type of plane is flight NUMBER", 1), ("what ground transportation is available in CITY", 2),
        ("what meals are served on FLIGHT_SG_DEF", 1), ("where does the flight FMODS_SG stop", 1),
        ("how far is AIRPORT_CITY", 2), ("which airport in CITY is closest to downtown", 1),
    )
    g["SUPERL_FARE"] = words(["cheapest fare", "lowest fare", "fare", "first class fare", "round trip fare",
                              "coach fare", "cheapest one way fare"])
    g["FARE_CODE"] = words(["y", "q", "h", "b", "f", "m", "q x", "y n", "b h", "f n"])
    g["VERB_SG_BARE"] = words(["leave", "arrive", "depart", "land", "get in", "take off", "board"], [4, 4, 2, 1, 1, 1, 1])
    g["VERB_PL_BARE"] = g["VERB_SG_BARE"]
    airport = []
    for city, names in AIRPORTS.items():
        for name in names:
            airport.append((tuple(f"{name} airport from downtown {city}".split()), 1.0))
    g["AIRPORT_CITY"] = airport

    g["YNQ"] = alt(
        ("does the SUPERL_OPT flight FMODS_SG VP_BASE", 6), ("do the SUPERL_OPT flights FMODS_PL VP_BASE", 4),
        ("is there FLIGHT_SG_INDEF", 5), ("are there FLIGHTS_PL_INDEF", 4), ("is the flight FMODS_SG ADJ_STATE", 2),
        ("are the flights FMODS_PL ADJ_STATE", 2), ("can i get FLIGHT_SG_INDEF", 2), ("do you have FLIGHTS_PL_INDEF", 2),
        ("does AIRLINE fly ROUTE WHEN", 2), ("can i fly ROUTE WHEN CARRIER", 2), ("is it possible to fly ROUTE WHEN", 1),
    )
    g["SUPERL_OPT"] = alt(("", 4), ("SUPERL", 1))
    g["VP_BASE"] = alt(("stop in CITY", 4), ("serve MEAL", 3), ("leave before CLOCK", 2), ("arrive after CLOCK", 2),
                       ("have a first class section", 1), ("have any seats left", 2), ("go through CITY", 1),
                       ("use a jet", 1))
    g["POLITE_Q"] = alt(("could you tell me WHQ", 3), ("can you tell me WHQ", 2), ("could you SHOW me FLIGHTS_PL_DEF", 3),
                        ("can you book me FLIGHT_SG_INDEF", 2), ("would you please SHOW me FLIGHTS_PL_DEF", 1))

    # -- statements: the subject's number decides the verb after the whole noun phrase --
    g["STATEMENT"] = alt(("the SUPERL_OPT flight FMODS_SG PRED_SG", 5), ("the SUPERL_OPT flights FMODS_PL PRED_PL", 4),
                         ("my flight FMODS_SG PRED_SG", 2), ("our flights FMODS_PL PRED_PL", 1),
                         ("i have to be in CITY WHEN", 2), ("i prefer AIRLINE", 1), ("i prefer a SEAT_KIND seat", 1))
    g["PRED_SG"] = alt(("is ADJ_STATE", 5), ("was cancelled", 2), ("has been delayed", 2), ("leaves at CLOCK", 3),
                       ("arrives too late", 2), ("does not serve MEAL", 1), ("costs too much", 1), ("was full", 1),
                       ("seems to be full", 1))
    g["PRED_PL"] = alt(("are ADJ_STATE", 5), ("were cancelled", 2), ("have been delayed", 2), ("leave at CLOCK", 3),
                       ("arrive too late", 2), ("do not serve MEAL", 1), ("cost too much", 1), ("were full", 1),
                       ("seem to be full", 1))
    g["ADJ_STATE"] = words(["full", "too early", "too late", "too expensive", "sold out", "on time", "delayed",
                            "nonstop", "available", "cheaper"])
    # "if there is a flight ... , please book it" / "if there are flights ... , please book them"
    g["CONDITIONAL"] = alt(("if there is FLIGHT_SG_INDEF , please BOOK_VERB it", 3),
                           ("if there are FLIGHTS_PL_INDEF , please BOOK_VERB them", 2))
    g["BOOK_VERB"] = words(["book", "reserve", "hold", "show me"])
    return Grammar(g)


def sample_sentences(count: int = DEFAULT_SENTENCES, seed: int = DEFAULT_SEED) -> list[tuple[list[str], float]]:
    """`count` sentences with their exact natural-log probabilities, the same for the same seed."""
    grammar = travel_grammar()
    rng = random.Random(seed)
    return [grammar.sample(rng) for _ in range(count)]


def true_logprob(tokens: Sequence[str]) -> float:
    """log P(sentence) under the grammar (natural log; -inf outside its language)."""
    return travel_grammar().logprob(tokens)


def load_travel(lowercase: bool = False, sentences: int = DEFAULT_SENTENCES, seed: int = DEFAULT_SEED) -> Corpus:
    """The built-in corpus: one deterministic sample, split 90/5/5; already lower-case and tokenized."""
    from rnngen.corpus.base import split_90_5_5

    sample = sample_sentences(sentences, seed)
    known = {tuple(words): logp for words, logp in sample}

    def logprob(tokens: Sequence[str]) -> float:
        value = known.get(tuple(tokens))
        return value if value is not None else true_logprob(tokens)

    texts: Sentences = [words for words, _ in sample]
    train, valid, test = split_90_5_5(texts, NAME)
    grammar = travel_grammar()
    return Corpus(NAME, train, valid, test, TokenizerSettings.pretokenized(lowercase=True),
                  source=f"built-in grammar ({len(grammar.vocabulary)} words), seed {seed}",
                  fingerprint=f"travel-v1-{sentences}-{seed}", true_logprob=logprob)
