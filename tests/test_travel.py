"""The built-in `travel` corpus: an unambiguous grammar with exact probabilities, and the entropy floor."""

from __future__ import annotations

import json
import math
import random
import re

import pytest

from rnngen.corpus import BUILTIN, load_corpus
from rnngen.corpus.grammar import Grammar
from rnngen.corpus.stats import true_perplexity
from rnngen.corpus.travel import CITIES, AIRPORTS, load_travel, sample_sentences, travel_grammar

TOY = {
    "S": [(("NP", "VP"), 3), (("VP",), 1)],
    "NP": [(("the", "N"), 1), (("a", "N"), 1)],
    "N": [(("cat",), 2), (("dog",), 1), (("big", "dog"), 1)],
    "VP": [(("sleeps",), 1), (("sees", "NP"), 1), (("OPT", "runs"), 2)],
    "OPT": [((), 1), (("quickly",), 1)],
}


def test_toy_grammar_enumerated_exhaustively_sums_to_one():
    g = Grammar(TOY)
    language = g.enumerate()
    assert len(language) == 6 * 9 + 9  # NP: 2 determiners x 3 nouns; VP: 1 + 6 + 2
    assert math.isclose(sum(p for p, _ in language.values()), 1.0, abs_tol=1e-12)
    assert all(n == 1 for _, n in language.values())  # unambiguous: one derivation per sentence
    for words, (p, _) in language.items():
        assert math.isclose(g.logprob(words), math.log(p), abs_tol=1e-12)
        assert g.derivations(words) == 1
    # P(the big dog sees a cat) = S:3/4 * NP:1/2 * N:1/4 * VP:1/4 * NP:1/2 * N:1/2
    assert language[tuple("the big dog sees a cat".split())][0] == 3 / 4 * 1 / 2 * 1 / 4 * 1 / 4 * 1 / 2 * 1 / 2
    assert g.logprob(["the", "cat"]) == -math.inf and g.logprob([]) == -math.inf
    assert math.isclose(g.entropy(), -sum(p * math.log(p) for p, _ in language.values()), abs_tol=1e-12)
    assert math.isclose(g.expected_length(), sum(p * len(w) for w, (p, _) in language.items()), abs_tol=1e-12)


def test_ambiguity_is_detected_by_the_parser():
    g = Grammar({"S": [(("A", "x"), 1), (("x", "B"), 1)], "A": [(("x",), 1)], "B": [(("x",), 1)]})
    assert g.derivations(["x", "x"]) == 2
    assert math.isclose(g.logprob(["x", "x"]), 0.0)  # both halves of the mass land on one sentence
    assert g.enumerate() == {("x", "x"): (1.0, 2)}


def test_recursive_grammar_is_rejected():
    with pytest.raises(ValueError, match="recursive: S -> A -> S"):
        Grammar({"S": [(("A",), 1), (("x",), 1)], "A": [(("S", "y"), 1)]})


def test_sampling_tracks_the_exact_probability():
    g = Grammar(TOY)
    language = g.enumerate()
    rng = random.Random(3)
    for _ in range(200):
        words, logp = g.sample(rng)
        assert math.isclose(logp, math.log(language[tuple(words)][0]), abs_tol=1e-12)


def trimmed_travel() -> Grammar:
    """The travel grammar with one word per word list and one origin city: small enough to enumerate."""
    g = travel_grammar()
    rules = {}
    for lhs, rs in g.rules.items():
        if lhs in g._lexical or lhs in ("ROUTE_FROM_TO", "ROUTE_BETWEEN", "ROUND_ROUTE", "DAY", "TIME", "CLOCK",
                                        "NUMBER", "AIRPORT_CITY"):
            rs = rs[:1]
        rules[lhs] = [(r.rhs, r.prob) for r in rs]
    return Grammar(rules)


def test_travel_structure_is_unambiguous_and_normalised():
    g = trimmed_travel()
    language = g.enumerate()
    assert len(language) > 20_000
    assert math.isclose(sum(p for p, _ in language.values()), 1.0, abs_tol=1e-9)
    ambiguous = [" ".join(w) for w, (_, n) in language.items() if n != 1]
    assert ambiguous == []


@pytest.mark.parametrize("symbol", ["WHEN", "FMODS_SG", "FMODS_PL"])
def test_travel_modifiers_are_unambiguous(symbol):
    """Dates, times and flight modifiers with their full structure (one word per list)."""
    g = travel_grammar()
    rules = {lhs: [(r.rhs, r.prob) for r in (rs[:1] if lhs in g._lexical or lhs.startswith(("ROUTE_", "TO_")) else rs)]
             for lhs, rs in g.rules.items()}
    language = Grammar(rules).enumerate(symbol)
    assert math.isclose(sum(p for p, _ in language.values()), 1.0, abs_tol=1e-9)
    assert all(n == 1 for _, n in language.values())


def test_every_rule_set_sums_to_one_and_vocabulary_is_large():
    g = travel_grammar()
    for lhs, rules in g.rules.items():
        assert math.isclose(sum(r.prob for r in rules), 1.0, abs_tol=1e-12), lhs
    assert 300 <= len(g.vocabulary) <= 600
    assert all(w == w.lower() and " " not in w for w in g.vocabulary)


def test_sampled_sentences_have_their_parse_probability():
    g = travel_grammar()
    for words, logp in sample_sentences(1500, seed=11):
        assert -math.inf < logp < 0
        assert math.isclose(g.logprob(words), logp, rel_tol=1e-9, abs_tol=1e-9), " ".join(words)


def test_sampling_is_deterministic_for_a_seed():
    assert sample_sentences(50, seed=5) == sample_sentences(50, seed=5)
    assert sample_sentences(50, seed=5) != sample_sentences(50, seed=6)


def test_exact_entropy_matches_the_sample():
    g = travel_grammar()
    sample = sample_sentences(4000, seed=2)
    mean_nll = -sum(lp for _, lp in sample) / len(sample)
    assert abs(mean_nll - g.entropy()) < 0.02 * g.entropy()
    assert abs(sum(len(w) for w, _ in sample) / len(sample) - g.expected_length()) < 0.3
    assert 3.5 < g.perplexity_floor() < 5.5


def test_long_range_dependencies_hold():
    sents = [" ".join(w) for w, _ in sample_sentences(6000, seed=4)]
    by_start = {"?": ("what", "which", "how", "when", "where", "does", "do", "is", "are", "can", "could", "would"),
                ".": ("i", "we", "my", "show", "give", "find", "tell", "list", "book", "please", "now", "the", "our",
                      "if", "i'd", "i'm")}
    for s in sents:
        first = s.split()[0]
        end = s.split()[-1]
        assert first in by_start[end], s
    agree = [s for s in sents if re.match(r"(the|my|our) (\w+ )?flights? ", s) and s.endswith(" .")]
    assert len(agree) > 200
    for s in agree:
        plural = bool(re.match(r"(the|our) (\w+ )?flights ", s))
        verb = re.search(r" (is|are|was|were|has|have|leaves|leave|arrives|arrive|does|do|costs|cost|seems|seem) ",
                         s.split(" from ")[-1] if " from " in s else s).group(1)
        assert (verb in ("are", "were", "have", "leave", "arrive", "do", "cost", "seem")) == plural, s
    trips = [s for s in sents if " returning to " in s]
    assert len(trips) > 50
    for s in trips:
        origin = re.search(r" from (.+?) to ", s).group(1)
        assert s.split(" returning to ")[1].startswith(origin + " "), s
    for s in (s for s in sents if s.startswith("how far is ")):
        city = s.split(" from downtown ")[1][: -len(" ?")]
        airport = s[len("how far is "): s.index(" airport ")]
        assert airport in AIRPORTS[city], s
    for s in sents:
        if s.startswith("if there is "):
            assert s.endswith(" it ."), s
        if s.startswith("if there are "):
            assert s.endswith(" them ."), s


def test_travel_corpus_is_builtin_and_split_90_5_5():
    corpus = load_corpus("travel")
    assert "travel" in BUILTIN
    assert (len(corpus.train), len(corpus.valid), len(corpus.test)) == (21_600, 1_200, 1_200)
    assert corpus.settings.words == "whitespace" and corpus.settings.lowercase
    assert corpus.train[0] == sample_sentences(1, seed=1)[0][0]
    assert any(c in " ".join(corpus.train[i]) for i in range(50) for c in CITIES)
    floor = true_perplexity(corpus, "test")
    assert abs(floor - travel_grammar().perplexity_floor()) < 0.15
    # the floor counts one end-of-sentence token per sentence, like the model's evaluation
    total = sum(corpus.true_logprob(s) for s in corpus.test)
    assert math.isclose(floor, math.exp(-total / (sum(map(len, corpus.test)) + len(corpus.test))))
    # sentences outside the sample are parsed; words outside the grammar have probability zero
    assert math.isclose(corpus.true_logprob(["what", "flights", "leave", "boston", "?"]),
                        travel_grammar().logprob("what flights leave boston ?".split()))
    assert corpus.true_logprob(["flights", "to", "mars", "."]) == -math.inf


def test_small_corpus_and_other_seed():
    a, b = load_travel(sentences=100, seed=1), load_travel(sentences=100, seed=2)
    assert (len(a.train), len(a.valid), len(a.test)) == (90, 5, 5)
    assert a.train != b.train and a.fingerprint != b.fingerprint


def agreement_pairs(per_group: int = 30) -> list[dict]:
    """Minimal pairs from the grammar's own sentences: number agreement across a long description."""
    groups = {"is there / are there ... it / them": [], "the flight(s) ... is / are": []}
    swap = {"it": "them", "them": "it", "is": "are", "are": "is"}
    for tokens, _ in sample_sentences(20_000, seed=9):
        if tokens[:3] in (["if", "there", "is"], ["if", "there", "are"]) and tokens[-2] in ("it", "them"):
            group, bad = "is there / are there ... it / them", tokens[:-2] + [swap[tokens[-2]], tokens[-1]]
        elif tokens[0] == "the" and ("is" in tokens or "are" in tokens):
            i = next(i for i, t in enumerate(tokens) if t in ("is", "are"))
            group, bad = "the flight(s) ... is / are", tokens[:i] + [swap[tokens[i]]] + tokens[i + 1:]
        else:
            continue
        if len(tokens) >= 10 and len(groups[group]) < per_group and travel_grammar().logprob(bad) == -math.inf:
            groups[group].append({"sentence_good": " ".join(tokens), "sentence_bad": " ".join(bad), "UID": group})
    return [p for group in groups.values() for p in group]


def test_trained_model_lies_above_the_floor_and_near_it(tmp_path, capsys):
    """Acceptance: a small LSTM trained briefly through the real CLI.

    Measured (seed 1, 6,000 sentences, 1-layer LSTM 64, 4 epochs, about 10 s on
    one free CPU thread): test perplexity 5.11 against the source's floor of
    4.35, a ratio of 1.18. The test allows up to 1.35.
    """
    import torch

    from rnngen.cli import main
    import rnngen.corpus as corpus_pkg

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a shared CI machine is faster with one thread than with contended ones
    small = lambda lowercase=False: load_travel(lowercase=lowercase, sentences=6000)  # noqa: E731
    original = corpus_pkg.BUILTIN["travel"]
    corpus_pkg.BUILTIN["travel"] = small
    try:
        out = str(tmp_path / "demo")
        assert main(["train", "travel", "--out", out, "--quiet", "--preset", "small", "--model", "lstm", "--emb", "64", "--hidden", "64",
                     "--layers", "1", "--dropout", "0", "--epochs", "4", "--batch-size", "32", "--lr", "0.01",
                     "--seed", "1", "--patience", "0", "--sample-every", "0"]) == 0
        capsys.readouterr()
        assert main(["eval", out, "travel", "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        pairs_file = tmp_path / "agreement.jsonl"
        pairs = agreement_pairs()
        pairs_file.write_text("".join(json.dumps(p) + "\n" for p in pairs))
        assert main(["pairs", out, str(pairs_file), "--format", "json"]) == 0
        judged = json.loads(capsys.readouterr().out)
    finally:
        corpus_pkg.BUILTIN["travel"] = original
        torch.set_num_threads(threads)
    # minimal pairs written from the grammar: the source itself gets every one right, exactly
    assert len(pairs) == 60
    assert all(travel_grammar().logprob(p["sentence_good"].split()) > -math.inf for p in pairs)
    assert all(travel_grammar().logprob(p["sentence_bad"].split()) == -math.inf for p in pairs)
    from rnngen.lm import LanguageModel

    lm = LanguageModel.load(out)  # and `rnngen pairs` counts what comparing the two scores gives
    scores = lm.score([t for p in pairs for t in (p["sentence_good"], p["sentence_bad"])])
    expected = {"is there / are there ... it / them": 0, "the flight(s) ... is / are": 0}
    for p, good, bad in zip(pairs, scores[0::2], scores[1::2]):
        expected[p["UID"]] += good.logprob > bad.logprob
    assert {g: t["correct"] for g, t in judged["groups"].items()} == expected
    assert {g: t["pairs"] for g, t in judged["groups"].items()} == {g: 30 for g in expected}
    assert judged["correct"] == sum(expected.values()) and judged["unknown_only"] == 0
    assert judged["correct"] >= 45  # the agreement is learned, if not perfectly, after 4 epochs
    floor = report["true_perplexity_floor"]
    assert report["tokens"] == sum(len(s) + 1 for s in small().test)
    assert report["oov"] == 0
    assert 4.0 < floor < 4.7
    assert floor < report["perplexity"] < 1.35 * floor
