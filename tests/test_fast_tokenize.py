"""The fast tokenization path gives exactly what NLTK itself gives, in one process or several.

The reference is always the pre-existing slow path: `train_punkt`, `split_sentences` and `tokenize_words`
run NLTK's own `PunktTrainer`, `PunktSentenceTokenizer` and `NLTKWordTokenizer` (with NLTK's ReDoS
guard); the fast path must match them token for token and sentence for sentence.
"""

from __future__ import annotations

import random
import re
import sys

import pytest

from rnngen.errors import InputError
from rnngen.fast_tokenize import fast_sentences, fast_splitter, fast_words, iter_tokenized, train_punkt_fast
from rnngen.tokenize import PIECE, TokenizerSettings, split_sentences, tokenize_words, train_punkt

NLTK = TokenizerSettings()


def reference(text: str, settings: TokenizerSettings, splitter=None) -> list[list[str]]:
    return [w for w in (tokenize_words(s, settings) for s in split_sentences(text, settings, splitter)) if w]


def fast(text: str, settings: TokenizerSettings, splitter=None, **options) -> list[list[str]]:
    return [words for batch in iter_tokenized(text, settings, splitter, **options) for words in batch]


def old_text_to_sentences(text: str, tokenized: bool | None, lowercase: bool):
    """`text_to_sentences` as it was before the fast path (NLTK all the way, four scans per abbreviation)."""
    from rnngen.corpus.local import PUNKT_SAMPLE, _plausible_abbreviation, prepare_raw, settings_for

    settings = settings_for(text, tokenized, lowercase)
    if settings.words == "nltk":
        text = prepare_raw(text)
    splitter = None
    if settings.sentences == "punkt":
        sample = text[:PUNKT_SAMPLE]
        splitter = train_punkt(sample)
        params = splitter._params
        params.abbrev_types = {a for a in params.abbrev_types if _plausible_abbreviation(a, sample)}
    return reference(text, settings, splitter), settings


def params_of(splitter) -> tuple:
    p = splitter._params
    return p.abbrev_types, p.collocations, p.sent_starters, dict(p.ortho_context)


# -- every shared corpus -----------------------------------------------------------------------
CORPORA = [("wikitext-2/valid.txt", 100_000), ("ptb/valid.txt", 80_000), ("grimm/train.txt", 80_000)]


@pytest.mark.shared
@pytest.mark.parametrize("name,size", CORPORA, ids=[c[0] for c in CORPORA])
def test_the_fast_path_equals_nltk_on_a_shared_corpus(shared_corpora, name, size):
    """Tokenized files are read as raw text here (tokenized=False), so NLTK sees their odd characters (the
    whole files as `rnngen` reads them: `test_every_shared_file_whole_is_prepared_as_nltk_prepares_it`)."""
    from rnngen.corpus.local import prepare_raw, read_text, strip_gutenberg, text_to_sentences

    text = strip_gutenberg(read_text(shared_corpora / name)[0])[:size]
    old, settings = old_text_to_sentences(text, False, False)
    new, new_settings = text_to_sentences(text, False, False)
    assert new_settings == settings and settings.words == "nltk"
    assert len(new) == len(old) and new == old
    prepared = prepare_raw(text)
    assert params_of(train_punkt_fast(prepared)) == params_of(train_punkt(prepared))


EVERY_FILE = ["grimm/raw.txt", "grimm/train.txt", "grimm/valid.txt", "grimm/test.txt",
              "japanese-fairy-tales/raw.txt", "japanese-fairy-tales/train.txt", "japanese-fairy-tales/valid.txt",
              "japanese-fairy-tales/test.txt", "tinyshakespeare/input.txt", "bench/shakespeare/train.txt",
              "bench/shakespeare/valid.txt", "bench/shakespeare/test.txt", "ptb/valid.txt", "ptb/test.txt",
              "wikitext-2/valid.txt", "wikitext-2/test.txt", "bench/wt2-mini/train.txt", "bench/wt2-mini/valid.txt",
              "bench/wt2-mini/test.txt"]


@pytest.mark.shared
@pytest.mark.parametrize("name", EVERY_FILE)
def test_every_shared_file_whole_is_prepared_as_nltk_prepares_it(shared_corpora, name):
    """Each whole file, read as `rnngen` reads it (its tokenization detected): the corpus path
    (`text_to_split`, one process here) and two workers cutting it into small chunks both give exactly
    what NLTK's own tokenizers give; pre-tokenized files go through the line-block path instead."""
    from rnngen.corpus.arrays import SplitBuilder, WordTable
    from rnngen.corpus.local import corpus_punkt, prepare_raw, read_text, strip_gutenberg, text_to_split

    text = strip_gutenberg(read_text(shared_corpora / name)[0])
    expected, settings = old_text_to_sentences(text, None, False)
    builder = SplitBuilder(WordTable())
    assert text_to_split(text, None, False, builder)[0] == settings
    assert [list(s) for s in builder.build()] == expected
    if settings.words == "nltk":
        prepared = prepare_raw(text)
        splitter = corpus_punkt(prepared) if settings.sentences == "punkt" else None
        assert fast(prepared, settings, splitter, workers=2, chunk_chars=150_000, min_parallel_chars=0) == expected


@pytest.mark.shared
def test_lines_mode_and_lowercase_equal_nltk(shared_corpora):
    from rnngen.corpus.local import read_text

    text = read_text(shared_corpora / "wikitext-2" / "valid.txt")[0][:60_000]
    for settings in (TokenizerSettings(sentences="lines"), TokenizerSettings(lowercase=True),
                     TokenizerSettings(words="whitespace", sentences="punkt", lowercase=True)):
        assert fast(text, settings) == reference(text, settings)


@pytest.mark.shared
def test_the_abbreviation_filter_in_one_scan_keeps_what_four_scans_keep(shared_corpora):
    from rnngen.corpus.local import _plausible_abbreviation, _plausible_abbreviations, read_text

    words = {"mr", "mrs", "dr", "st", "i", "is", "k", "s", "sat", "the", "a", "he", "said", "ſ", "o'er", "e.g", "n",
             "vol", "no", "1", "x_y", "é"}
    tricky = ("Mr. Smith saw MR. X. mr. y. İs. is. ıs. ſt. st. ST. Kk. kk. K. k. sat.\nsat.\n ſat. sat. Mrs. mrs. "
              "mrs\nmr\nNo. 5 no. 1. 1. a. A. vol. Vol. x_y. é. É. dr. Dr. Dr.") * 3
    for text in [tricky] + [read_text(shared_corpora / name)[0][:150_000] for name in
                            ("grimm/raw.txt", "ptb/valid.txt", "wikitext-2/valid.txt")]:
        candidates = words | train_punkt(text[:50_000])._params.abbrev_types
        assert _plausible_abbreviations(candidates, text) == {a for a in candidates if _plausible_abbreviation(a, text)}


# -- strings that bend the rules ---------------------------------------------------------------
TRICKY = [
    "", " ", "\n\n\n", ".", "'", '"', "...", ". . .", "a", "A.", "Mr. Smith went to Washington. He left.",
    'He said, "I cannot go." She said: \'Tis gonna be fine, wanna come? Gimme that, lemme see, gotta go.',
    "\u201cHello,\u201d she said. \u2018Yes\u2019, he said\u2026 \u00abNon\u00bb, dit-il. \u201eJa\u201c.",
    "'Twas brillig, and more'n d'ye think; whaddya want? whatcha doing?", "CANNOT GONNA 'TIS 'TWAS D'YE",
    "(Sent1.) Sent2. [Sent3!] {Sent4?} <Sent5.> Sent6...Sent7.", "Wait... what?! No!!! Yes?? Ok.",
    "e.g. i.e. U.S.A. etc. a.m. p.m. Dr. St. vs. No. 5.", "3.14 1,000 $5.00 50% #tag @user a&b *x* a--b c - d",
    "x" * (PIECE + 500), "x." * (PIECE // 2 + 300), "!" * (PIECE + 100), ("word " * 5000).strip() + ".",
    "gİmme gımme GİMME 'tİs 'tıs ſ ſt. K. Kk. İs.",
    "cafe\u0301 nai\u0308ve \u0915\u093f \u0661\u0662\u0663 \U00010d40\U00010d41",
    "a\x1cb\x1dc\x1ed\x1ff. Next\x85line\u2028sep\u00a0nbsp.", "''Quoted'' ``quoted'' `single' \"double\"",
    "She's, I'm, he'd, we'll, they're, we've, don't, DON'T, ISN'T, y'all, o'clock, rock'n'roll.",
    "\u2012figure\u2013en\u2014em\u2015bar. A\u2026B.", "“‘Nested’ quotes” and «guillemets» end.” Next one.",
    "A. B. C. D. E. initials. J. S. Bach. 1. 2. 3. Item.", "Line one\nline two\n\nPara two.\n  \n\tPara three!",
]


@pytest.fixture(scope="module")
def splitter():
    return train_punkt("\n\n".join(TRICKY[:20]) * 3 + " Mr. Smith and Dr. Jones met St. Paul. Mr. X left. " * 20)


@pytest.mark.parametrize("text", TRICKY, ids=range(len(TRICKY)))
def test_tricky_strings_tokenize_as_nltk_does(text, splitter):
    for settings in (NLTK, TokenizerSettings(lowercase=True), TokenizerSettings(sentences="lines")):
        assert fast_words(text, settings) == tokenize_words(text, settings)
        sp = splitter if settings.sentences == "punkt" else None
        fast_sp = fast_splitter(sp) if sp else None
        assert fast_sentences(text, settings, fast_sp) == split_sentences(text, settings, sp)
        assert fast(text, settings, sp) == reference(text, settings, sp)


def test_all_tricky_strings_together_and_empty_text(splitter):
    text = "\n\n".join(TRICKY)
    assert fast(text, NLTK, splitter) == reference(text, NLTK, splitter)
    assert fast(text, NLTK) == reference(text, NLTK)  # Punkt learned from the text itself
    seen = []
    assert fast("", NLTK, splitter, progress=lambda done, total: seen.append((done, total))) == []
    assert seen == [(0, 0)]


def test_random_strings_tokenize_as_nltk_does(splitter):
    rng = random.Random(20240607)
    alphabet = list("aAbBcnotsSiIkK .,;:!?'\"`()[]{}<>-*&%$#@0123456789\t\n") + list(
        "\u201c\u201d\u2018\u2019\u00ab\u00bb\u201e\u2013\u2014\u2026İıſK\u0301\u0661\x1c\u00a0é")
    words = ["can", "not", "gon", "na", "'t", "is", "was", "Mr.", "e.g.", "...", "--", "''", "``", "n't", "'s", "'ll",
             "St.", "d'ye", "more'n", "wan", "gim", "me"]
    texts = []
    for _ in range(1500):
        parts = [rng.choice(words) if rng.random() < 0.3 else rng.choice(alphabet) for _ in range(rng.randint(1, 40))]
        texts.append("".join(parts) if rng.random() < 0.5 else " ".join(parts))
    for text in texts:
        assert fast_words(text, NLTK) == tokenize_words(text, NLTK), text
    paragraph = "\n\n".join(" ".join(texts[i:i + 7]) for i in range(0, len(texts), 7))
    assert fast(paragraph, NLTK, splitter) == reference(paragraph, NLTK, splitter)


# -- the proofs behind the screens -------------------------------------------------------------
ALL_CHARS = "".join(chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000)


def test_the_lower_cased_screens_see_every_case_insensitive_match():
    """A contraction (stdlib re, (?i)) is screened in the lower-cased text: each screen character must
    match (?i) only itself and its capital, so the lower-cased match holds the screen."""
    from rnngen.fast_tokenize import _LOWER_SCREENS

    for char in sorted(set("".join(s for screen in _LOWER_SCREENS.values() for s in screen))):
        assert set(re.findall(f"(?i){re.escape(char)}", ALL_CHARS)) <= {char, char.upper()}, char
    assert set(re.findall("(?i)i", ALL_CHARS)) > {"i", "I"}  # why no screen holds an i (nor s or k)


def test_every_word_pattern_is_screened_and_no_screen_hides_a_match():
    import regex
    from nltk.tokenize import NLTKWordTokenizer as W

    from rnngen.fast_tokenize import _LOWER_SCREENS, _SCREENS, _fast_word_tokenizer, _FastWordTokenizer

    assert isinstance(_fast_word_tokenizer(), _FastWordTokenizer)  # NLTK still tokenizes the probe the same
    steps = [*W.STARTING_QUOTES, *W.PUNCTUATION, W.PARENS_BRACKETS, W.DOUBLE_DASHES, *W.ENDING_QUOTES]
    patterns = [rx for rx, _ in steps]
    assert {rx.pattern for rx in patterns} - set(_SCREENS) == {r"\s+"}
    assert {rx.pattern for rx in [*W.CONTRACTIONS2, *W.CONTRACTIONS3]} == set(_LOWER_SCREENS)
    assert regex.findall("(?i)'", ALL_CHARS) == ["'"]
    rng = random.Random(7)
    alphabet = "abcdegilmnorstwyACDEGILMNORSTWY '\"`.,:;!?()[]{}<>-*@#$%&«»“”‘’„\u2012\u2013\u2014\u2015 0123"
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
        for rx in patterns:
            if not any(s in text for s in _SCREENS.get(rx.pattern, ("",))):
                assert rx.search(text) is None, (rx.pattern, text)
        for rx in [*W.CONTRACTIONS2, *W.CONTRACTIONS3]:
            if not any(s in text.lower() for s in _LOWER_SCREENS[rx.pattern]):
                assert rx.search(text) is None, (rx.pattern, text)


# -- several processes -------------------------------------------------------------------------
def _text_for_workers() -> str:
    rng = random.Random(3)
    names = ["Mr. Fox", "the Queen", "Dr. Owl", "little Gretel", "the miller's son", "St. George"]
    sentences = [f"{rng.choice(names)} said, \"I can't {rng.choice(['go', 'stay', 'sing'])} {i}.\" "
                 f"It was {rng.choice(['cold', 'late', 'dark'])}... wasn't it? ({i})" for i in range(560)]
    paragraphs = ["\n".join(sentences[i:i + 6]) for i in range(0, 300, 6)]
    giant = " ".join(sentences[300:])  # one paragraph of ~25,000 characters: cut into pieces before the workers
    return "\n\n".join(paragraphs[:30]) + "\n\n\n  \n" + giant + "\n\n" + "\n\n".join(paragraphs[30:])


def test_several_processes_give_what_one_gives_in_order_with_progress():
    from rnngen.fast_tokenize import _jobs

    text = _text_for_workers()
    assert {kind for kind, _, _ in _jobs(text, NLTK, 6_000)} == {"text", "pieces"}
    splitter = train_punkt("Mr. Fox ran. Dr. Owl sat. " * 40)  # learned elsewhere: the workers must get this one
    expected = reference(text, NLTK, splitter)
    assert expected != reference(text, NLTK)
    seen: list[tuple[int, int]] = []
    batches = list(iter_tokenized(text, NLTK, splitter, workers=2, progress=lambda d, t: seen.append((d, t)),
                                  chunk_chars=6_000, min_parallel_chars=0))
    assert len(batches) >= 4
    assert [words for batch in batches for words in batch] == expected
    assert [t for _, t in seen] == [len(text)] * len(seen) and seen[-1][0] == len(text)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert fast(text, NLTK, splitter, workers=1, chunk_chars=8_000) == expected


def test_several_processes_in_lines_mode_and_with_a_splitter_learned_first():
    text = _text_for_workers()
    lines = TokenizerSettings(sentences="lines", lowercase=True)
    assert fast(text, lines, workers=2, chunk_chars=10_000, min_parallel_chars=0) == reference(text, lines)
    learned = []

    def learn():
        learned.append(1)
        return train_punkt(text[:20_000])

    got = fast(text, NLTK, learn, workers=1, chunk_chars=10_000)
    assert learned == [1] and got == reference(text, NLTK, train_punkt(text[:20_000]))


def test_a_splitter_of_another_kind_stays_in_this_process(splitter):
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    class Mine(PunktSentenceTokenizer):
        pass

    text = _text_for_workers()[:30_000]
    mine = Mine(splitter._params)
    assert fast(text, NLTK, mine, workers=2, chunk_chars=5_000, min_parallel_chars=0) == reference(text, NLTK, mine)


def _worker_modules() -> list[str]:
    from rnngen.fast_tokenize import _worker_job

    assert _worker_job(("k", None, NLTK, ("text", "A cat sat. A dog ran.", 21)))[0] == "ok"
    return sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "textual", "rich", "rnngen"))


def test_a_worker_imports_neither_torch_nor_the_interface():
    """A spawned worker imports this module and NLTK (which brings numpy), nothing else of ours."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(_worker_modules) == ["rnngen", "rnngen.errors", "rnngen.fast_tokenize", "rnngen.tokenize"]


# -- errors ------------------------------------------------------------------------------------
def test_a_timeout_in_nltk_is_still_one_line(monkeypatch):
    import rnngen.fast_tokenize as tokenize

    class Slow:
        def tokenize(self, text):
            raise TimeoutError("regex timed out")

    monkeypatch.setattr(tokenize, "_fast_word_tokenizer", lambda: Slow())
    with pytest.raises(InputError, match="timed out on a passage of 9 characters"):
        fast_words("some text", NLTK)

    from nltk.tokenize.punkt import PunktSentenceTokenizer

    class SlowPunkt(PunktSentenceTokenizer):
        def tokenize(self, text, realign_boundaries=True):
            raise TimeoutError("regex timed out")

    with pytest.raises(InputError, match="timed out"):
        fast("A text. Another.", NLTK, SlowPunkt())


def test_workers_start_where_an_app_captured_stderr():
    """Textual replaces sys.stderr with an object whose descriptor is -1; multiprocessing's resource tracker
    must not be handed it ("bad value(s) in fds_to_keep" in the Corpus tab)."""
    import subprocess
    import sys

    script = """
import io, sys
class Captured(io.TextIOBase):
    def fileno(self): return -1
    def write(self, s): return len(s)
sys.stderr = Captured()
from rnngen.fast_tokenize import iter_tokenized
from rnngen.tokenize import TokenizerSettings
text = "One line here.\\nAnother line there.\\n" * 2000
batches = list(iter_tokenized(text, TokenizerSettings(sentences="lines"), workers=2, chunk_chars=10_000,
                              min_parallel_chars=0))
print(sum(len(b) for b in batches), type(sys.stderr).__name__)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == ["4000", "Captured"]
