"""Corpus tokenizing at scale: exactly what NLTK's tokenizers give (`rnngen.tokenize`), several times faster.

NLTK 3.10 routes every pattern through nltk/redos.py: compiled with the `regex` engine and matched
under a wall-clock timeout, which costs about 2 µs a call (a clock read and a Python wrapper) and
made corpus preparation several times slower than its regular expressions. The fast path runs
NLTK's own code (NLTKWordTokenizer's steps in its order, PunktTrainer, PunktSentenceTokenizer) with
NLTK's own patterns, recompiled from their source and flags with the same `regex` engine and
matched without the timeout, on the same pieces of text as the slow path. Bypassing the guard is
safe here: it exists for patterns a caller supplies, and these are NLTK's constants (linear, or
made so in NLTK itself, like the possessive `*+` of the final-period rule) run on pieces of bounded
length (`pieces`: PIECE characters, 50 * PIECE to train Punkt). Keeping `regex` keeps its Unicode
classes: the stdlib `re` has other \\w, \\d and \\s on ~30,000 code points (combining marks, newer
digits, \\x1c-\\x1f), and measured only 4% faster on the word tokenizer. A splitter of another kind
given by a caller (another Punkt class or language) is used as it is: still guarded, and a timeout
is still the one-line error of `_nltk`. Large texts are tokenized in spawned worker processes, which
import only this module, `rnngen.tokenize` and NLTK.
"""

from __future__ import annotations

import contextlib
import os
import re
from functools import lru_cache
from itertools import islice
from typing import Callable, Iterator

from rnngen.tokenize import (PIECE, TokenizerSettings, _BLANK_LINES, _SPACES, _nltk, paragraphs, pieces,
                             tokenize_words)

_CHUNK = 4_000_000  # characters a worker tokenizes at once (at most)
_CHUNK_MIN = 250_000
PARALLEL_MIN = 4_000_000  # shorter text is tokenized in this process: two workers cost ~1 CPU-second to start


def _untimed(pattern):
    """A redos.TimedPattern's source and flags compiled by `regex` itself: matched without a timeout."""
    from nltk import redos

    if isinstance(pattern, redos.TimedPattern):
        import regex

        return regex.compile(pattern.pattern, pattern.flags)
    return pattern


# A pattern can only match text that holds one of these strings (the pattern's required literal:
# every match contains one of its characters), so the call is skipped when none is there; a skipped
# call changes nothing, and a pattern not listed here (a newer NLTK's) always runs. The contractions
# are (?i) patterns of the stdlib `re`: they are screened in the lower-cased text with letters whose
# only case-insensitive matches are the letter and its capital (not i, s or k, which also match ı, İ,
# ſ, K; tests/test_fast_tokenize.py checks this over every code point).
_SCREENS: dict[str, tuple[str, ...]] = {
    "([«“‘„]|[`]+)": ("«", "“", "‘", "„", "`"),
    '^\\"': ('"',),
    "(``)": ("``",),
    "([ \\(\\[{<])(\\\"|\\'{2})": ('"', "''"),
    "(?i)(?<!\\w)(\\')(?!(?:re|ve|ll|m|t|s|d|n)\\b)(?=\\w)": ("'",),
    "([^\\.])(\\.)([\\]\\)}>\"\\'" "»”’ " "]*+)\\s*$": (".",),
    "([:,])([^\\d])": (":", ","),
    "([:,])$": (":", ","),
    "\\.{2,}": ("..",),
    "[;@#$%&]": tuple(";@#$%&"),
    "[\\u2012-\\u2015]": ("\u2012", "\u2013", "\u2014", "\u2015"),
    "([^\\.])(\\.)([\\]\\)}>\"\\']*)\\s*$": (".",),
    "[?!]": ("?", "!"),
    "([^'])' ": ("' ",),
    "[*]": ("*",),
    "[\\]\\[\\(\\)\\{\\}\\<\\>]": tuple("[](){}<>"),
    "--": ("--",),
    "([»”’])": ("»", "”", "’"),
    "''": ("''",),
    '"': ('"',),
    "([^' ])('[sS]|'[mM]|'[dD]|') ": ("'",),
    "([^' ])('ll|'LL|'re|'RE|'ve|'VE|n't|N'T) ": ("'",),
}
_LOWER_SCREENS: dict[str, tuple[str, ...]] = {
    "(?i)\\b(can)(?#X)(not)\\b": ("cannot",),
    "(?i)\\b(d)(?#X)('ye)\\b": ("d'ye",),
    "(?i)\\b(gim)(?#X)(me)\\b": ("mme",),
    "(?i)\\b(gon)(?#X)(na)\\b": ("gonna",),
    "(?i)\\b(got)(?#X)(ta)\\b": ("gotta",),
    "(?i)\\b(lem)(?#X)(me)\\b": ("lemme",),
    "(?i)\\b(more)(?#X)('n)\\b": ("more'n",),
    "(?i)\\b(wan)(?#X)(na)(?=\\s)": ("wanna",),
    "(?i) ('t)(?#X)(is)\\b": ("'t",),
    "(?i) ('t)(?#X)(was)\\b": ("'tw",),
}


class _FastWordTokenizer:
    """`NLTKWordTokenizer.tokenize` (convert_parentheses=False): its class patterns, in its order, each
    skipped where its screen shows it cannot match."""

    def __init__(self) -> None:
        from nltk.tokenize import NLTKWordTokenizer as W

        def step(rx, sub, screens):  # "" is in every text: a pattern without a screen always runs
            return _untimed(rx), sub, screens.get(rx.pattern, ("",))

        self.before = [step(rx, sub, _SCREENS) for rx, sub in
                       [*W.STARTING_QUOTES, *W.PUNCTUATION, W.PARENS_BRACKETS, W.DOUBLE_DASHES]]
        self.after = [step(rx, sub, _SCREENS) for rx, sub in W.ENDING_QUOTES]
        self.contractions = [step(rx, r" \1 \2 ", _LOWER_SCREENS) for rx in [*W.CONTRACTIONS2, *W.CONTRACTIONS3]]

    def tokenize(self, text: str) -> list[str]:
        for rx, sub, screen in self.before:
            for s in screen:
                if s in text:
                    text = rx.sub(sub, text)
                    break
        text = " " + text + " "
        for rx, sub, screen in self.after:
            for s in screen:
                if s in text:
                    text = rx.sub(sub, text)
                    break
        lower = text.lower()
        for rx, sub, screen in self.contractions:
            for s in screen:
                if s in lower:
                    text = rx.sub(sub, text)
                    break
        return text.split()


# every step of NLTKWordTokenizer.tokenize changes this; a newer NLTK that tokenizes it otherwise
# makes the fast path use NLTK itself
_PROBE = ('"Hello," said «he» — ‘cannot’ (or [won\'t]) {gonna} <wanna> go? \'Tis 3.5%... '
          '"I\'d" she\'ll; @home #1 $2 & *that* -- “d\'ye” \'twas lemme gimme gotta more\'n... ok.\'" ')


@lru_cache(maxsize=1)
def _fast_word_tokenizer():
    from nltk.tokenize import NLTKWordTokenizer

    fast = _FastWordTokenizer()
    probe = _SPACES.sub(" ", _PROBE).strip()
    return fast if fast.tokenize(probe) == NLTKWordTokenizer().tokenize(probe) else NLTKWordTokenizer()


@lru_cache(maxsize=1)
def _fast_punkt_classes():
    """PunktLanguageVars and PunktToken with NLTK's patterns matched without the timeout."""
    from nltk.tokenize.punkt import PunktLanguageVars, PunktToken

    class FastLanguageVars(PunktLanguageVars):
        __slots__ = ()
        re_boundary_realignment = _untimed(PunktLanguageVars.re_boundary_realignment)

        def _word_tokenizer_re(self):
            try:
                return self._re_word_tokenizer
            except AttributeError:
                self._re_word_tokenizer = _untimed(super()._word_tokenizer_re())
                return self._re_word_tokenizer

        def period_context_re(self):
            try:
                return self._re_period_context
            except AttributeError:
                self._re_period_context = _untimed(super().period_context_re())
                return self._re_period_context

    types: dict[str, str] = {}
    plain_init = PunktToken._properties == ["parastart", "linestart", "sentbreak", "abbr", "ellipsis"]

    class FastToken(PunktToken):
        __slots__ = ()

        if plain_init:  # PunktToken.__init__ without its loops of setattr calls; the type memoized
            def __init__(self, tok, parastart=None, linestart=None, **params):
                self.tok = tok
                typ = types.get(tok)
                self.type = typ if typ is not None else self._get_type(tok)
                self.period_final = tok.endswith(".")
                self.parastart, self.linestart = parastart, linestart
                self.sentbreak = self.abbr = self.ellipsis = None
                for k in params:
                    setattr(self, k, params[k])

        _RE_ELLIPSIS = _untimed(PunktToken._RE_ELLIPSIS)
        _RE_NUMERIC = _untimed(PunktToken._RE_NUMERIC)
        _RE_INITIAL = _untimed(PunktToken._RE_INITIAL)
        _RE_ALPHA = _untimed(PunktToken._RE_ALPHA)

        def _get_type(self, tok):
            typ = types.get(tok)
            if typ is None:
                if len(types) > 500_000:
                    types.clear()
                typ = types[tok] = PunktToken._get_type(self, tok)
            return typ

    return FastLanguageVars, FastToken


def _is_plain_punkt(splitter) -> bool:
    from nltk.tokenize.punkt import PunktLanguageVars, PunktSentenceTokenizer, PunktToken

    return (type(splitter) is PunktSentenceTokenizer and type(splitter._lang_vars) is PunktLanguageVars
            and splitter._Token is PunktToken)


def fast_splitter(splitter):
    """A Punkt splitter that splits as `splitter` does, on the fast path where it is NLTK's own class
    (its learned parameters are shared, not copied); any other splitter is returned as it is."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer

    if not _is_plain_punkt(splitter):
        return splitter
    lang_vars, token = _fast_punkt_classes()
    return PunktSentenceTokenizer(splitter._params, lang_vars=lang_vars(), token_cls=token)


def train_punkt_fast(text: str):
    """`train_punkt(text)` on the fast path: the same parameters, in a plain PunktSentenceTokenizer."""
    from nltk.tokenize.punkt import PunktSentenceTokenizer, PunktTrainer

    lang_vars, token = _fast_punkt_classes()
    trainer = PunktTrainer(lang_vars=lang_vars(), token_cls=token)
    trainer.INCLUDE_ALL_COLLOCS = False
    for piece in pieces(text, 50 * PIECE):
        trainer.train(piece, finalize=False)
    trainer.finalize_training()
    return PunktSentenceTokenizer(trainer.get_params())


def fast_words(sentence: str, settings: TokenizerSettings) -> list[str]:
    """`tokenize_words` on the fast path (the same tokens)."""
    return tokenize_words(sentence, settings, _fast_word_tokenizer)


def fast_sentences(text: str, settings: TokenizerSettings, splitter=None) -> list[str]:
    """`split_sentences` on the fast path (the same sentences); `splitter` as from `fast_splitter`."""
    if settings.sentences == "lines":
        return [line.strip() for line in text.splitlines() if line.strip()]
    splitter = fast_splitter(splitter or train_punkt_fast(text))
    return [s for block in paragraphs(text) for s in _punkt_pieces(pieces(block), splitter)]


def _punkt_pieces(parts: list[str], splitter) -> list[str]:
    out: list[str] = []
    for piece in parts:
        out.extend(s for s in _nltk(splitter.tokenize, piece) if s.strip())
    return out


def _words_of(sentences: list[str], settings: TokenizerSettings) -> list[list[str]]:
    """`fast_words` of each sentence, empty ones dropped; a sentence seen before in this batch is
    looked up (a copy: each sentence gets a list of its own)."""
    memo: dict[str, list[str]] = {}
    out: list[list[str]] = []
    for sentence in sentences:
        words = memo.get(sentence)
        if words is None:
            words = memo[sentence] = fast_words(sentence, settings)
        elif words:
            words = list(words)
        if words:
            out.append(words)
    return out


_NON_SPACE = re.compile(r"\S")


def _jobs(text: str, settings: TokenizerSettings, size: int) -> Iterator[tuple[str, object, int]]:
    """The text cut into pieces of work: ("text", chunk, chars) split as a whole text is, or ("pieces",
    [piece, ...], chars) given to Punkt piece by piece; chars is how much of `text` each covers.

    Lines never span a line break, so in `lines` mode the text is cut after one. In `punkt` mode it
    is cut at a blank-line separator (`_BLANK_LINES`), where `paragraphs` cuts it too: the search
    starts just after a non-space character, which no separator contains, so it finds the very
    separator that splitting the whole text finds. Text with no blank line for 2 * `size`
    characters is cut into paragraphs and `pieces` here, exactly as `split_sentences` cuts it.
    """
    start, n = 0, len(text)
    while start < n:
        target = start + size
        if target >= n:
            cut, after = n, n
        elif settings.sentences == "lines":
            cut = text.find("\n", target)
            cut, after = (n, n) if cut < 0 else (cut, cut + 1)
        else:
            solid = _NON_SPACE.search(text, target)
            gap = _BLANK_LINES.search(text, solid.end()) if solid else None
            cut, after = (gap.start(), gap.end()) if gap else (n, n)
        if settings.sentences == "punkt" and cut - start > 2 * size:
            yield from _piece_jobs(text[start:cut], size, after - start)
        else:
            yield "text", text[start:cut], after - start
        start = after


def _piece_jobs(text: str, size: int, chars: int) -> Iterator[tuple[str, object, int]]:
    groups: list[list[str]] = [[]]
    length = 0
    for block in paragraphs(text):
        for piece in pieces(block):
            if length >= size:
                groups.append([])
                length = 0
            groups[-1].append(piece)
            length += len(piece)
    for group in groups[:-1]:
        length = sum(map(len, group))
        chars -= length
        yield "pieces", group, length
    yield "pieces", groups[-1], chars  # with the white space and separators


def _run_job(job: tuple[str, object, int], settings: TokenizerSettings, splitter) -> list[list[str]]:
    kind, payload, _ = job
    if kind == "pieces":
        sentences = _punkt_pieces(payload, splitter)
    else:
        sentences = fast_sentences(payload, settings, splitter)
    return _words_of(sentences, settings)


_WORKER: dict = {}


def _worker_warm_up() -> None:
    """In a new worker process: import NLTK and build the fast tokenizers (while Punkt learns)."""
    _fast_word_tokenizer()
    _fast_punkt_classes()


def _worker_job(job: tuple) -> tuple:
    """In a worker process: one job's sentences as one string (a line a sentence, its tokens between
    single spaces: tokens never hold white space), which pickles much faster than lists of words; or
    the error a user should see. The job carries the Punkt parameters (pickled); a worker unpickles
    them once per `iter_tokenized` call (`key`)."""
    from rnngen.errors import RnngenError

    key, params, settings, work = job
    if _WORKER.get("key") != key:
        splitter = None
        if params is not None:
            import pickle

            from nltk.tokenize.punkt import PunktSentenceTokenizer

            splitter = fast_splitter(PunktSentenceTokenizer(pickle.loads(params)))
        _WORKER.update(key=key, splitter=splitter)
    try:
        batch = _run_job(work, settings, _WORKER["splitter"])
    except RnngenError as e:
        return "error", type(e), e.message, e.options
    return "ok", "\n".join(" ".join(words) for words in batch)


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def iter_tokenized(text: str, settings: TokenizerSettings, splitter=None, workers: int | None = None,
                   progress: Callable[[int, int], None] | None = None, *, chunk_chars: int | None = None,
                   min_parallel_chars: int = PARALLEL_MIN) -> Iterator[list[list[str]]]:
    """Tokenized sentences of `text`, in order, in batches: concatenated they are
    `[w for w in (tokenize_words(s, settings) for s in split_sentences(text, settings, splitter)) if w]`,
    only much faster. `progress(chars_done, chars_total)` is called after each batch.

    `splitter` may also be a function that returns one (`lambda: corpus_punkt(text)`): it is called
    once the workers are starting, so that Punkt learns while they load.

    Text of `min_parallel_chars` or more is cut (at paragraph or line boundaries, see `_jobs`) into
    chunks of about `chunk_chars` characters that `workers` processes (default: one per usable CPU)
    tokenize side by side, with NLTK's plain Punkt (another splitter is used in this process). They
    are started with `spawn`, never forked (the caller may hold torch and threads), import only this
    module and NLTK, and get the splitter's learned parameters.
    """
    total = len(text)
    workers = max(1, workers if workers is not None else usable_cpus())
    size = chunk_chars or min(_CHUNK, max(_CHUNK_MIN, total // (4 * workers)))
    pool = _start_workers(workers) if workers > 1 and total >= max(min_parallel_chars, size + 1) else None
    try:
        if callable(splitter) and not hasattr(splitter, "tokenize"):
            splitter = splitter()
        if settings.sentences == "punkt" and splitter is None:
            splitter = train_punkt_fast(text)
        if splitter is not None and not _is_plain_punkt(splitter):
            pool = _stop_workers(pool)
        fast = fast_splitter(splitter) if splitter is not None else None
        batches = (((job[2], _run_job(job, settings, fast)) for job in _jobs(text, settings, size)) if pool is None
                   else _in_workers(pool, workers, text, settings, splitter, size))
        if pool is not None:
            from concurrent.futures.process import BrokenProcessPool as broken
        else:
            broken = ()  # catches nothing
        done = count = 0
        try:
            for chars, batch in batches:
                done, count = done + chars, count + 1
                if progress:
                    progress(done, total)
                yield batch
        except broken:  # a worker died (killed, or a main script that starts work on import)
            pool = _stop_workers(pool)
            for job in islice(_jobs(text, settings, size), count, None):
                batch = _run_job(job, settings, fast)
                done += job[2]
                if progress:
                    progress(done, total)
                yield batch
        if progress and not total:
            progress(0, 0)
    finally:
        _stop_workers(pool)


@contextlib.contextmanager
def _stderr_with_a_descriptor():
    """The process's own stderr while workers start, where an app captured it (Textual's `sys.stderr` has
    the descriptor -1, which multiprocessing's resource tracker would be handed and refuse: "bad value(s) in
    fds_to_keep")."""
    import sys

    try:
        captured = sys.stderr is not None and sys.stderr.fileno() < 0
    except (AttributeError, OSError, ValueError):  # no descriptor at all: the tracker skips it by itself
        captured = False
    if not captured or sys.__stderr__ is None:
        yield
        return
    app_stderr, sys.stderr = sys.stderr, sys.__stderr__
    try:
        yield
    finally:
        sys.stderr = app_stderr


def _start_workers(workers: int):
    """A pool of `workers` spawned processes, already loading NLTK; None where processes cannot start."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    try:
        with _stderr_with_a_descriptor():  # its queues start multiprocessing's resource tracker
            pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            for _ in range(workers):  # each starts a process (they start on demand)
                pool.submit(_worker_warm_up)
    except (OSError, NotImplementedError):  # no semaphores or pipes here: one process it is
        return None
    return pool


def _stop_workers(pool) -> None:
    if pool is not None:
        pool.shutdown(wait=True, cancel_futures=True)  # waits for jobs under way only


def _in_workers(pool, workers: int, text: str, settings: TokenizerSettings, splitter, size: int):
    """(chars, batch) of each job, in order; at most two jobs a worker are out at once (memory)."""
    import pickle
    import uuid
    from collections import deque

    key = uuid.uuid4().hex
    params = pickle.dumps(splitter._params) if splitter is not None else None
    out: deque = deque()

    def result():
        chars, future = out.popleft()
        answer = future.result()
        if answer[0] == "error":
            _, kind, message, options = answer
            raise kind(message, options)
        return chars, [line.split(" ") for line in answer[1].split("\n")] if answer[1] else []

    for job in _jobs(text, settings, size):
        out.append((job[2], pool.submit(_worker_job, (key, params, settings, job))))
        if len(out) >= 2 * workers:
            yield result()
    while out:
        yield result()
