"""Typed text on models of pre-tokenized corpora: detokenize a corpus's lines, rewrite them, compare.

Each line of a tokenized corpus (PTB, WikiText, a Moses-tokenized book) is turned back into the raw
text a person would type, with a real detokenizer (NLTK's Treebank detokenizer; sacremoses' Moses
detokenizer when it is installed), then rewritten by `rnngen.conventions` with the conventions learned
from the training split's words. A line counts as exact when the tokens come back as the corpus's own.
With a model, the perplexity of the rewritten lines is compared with that of the corpus's tokens.

    python -m rnngen.bench.conventions ../shared/corpora/ptb/valid.txt ../shared/corpora/ptb/test.txt
    python -m rnngen.bench.conventions TRAIN TEST --model NAME   # perplexity too
"""

from __future__ import annotations

import argparse
import difflib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from rnngen.conventions import Conventions, apply

_MARKERS = ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", "."))


@dataclass
class RoundTrip:
    """How many lines came back exactly, and what the others got wrong (corpus tokens -> ours)."""

    lines: int = 0
    exact: int = 0
    differences: Counter = field(default_factory=Counter)

    @property
    def share(self) -> float:
        return self.exact / self.lines if self.lines else 0.0


def treebank_detokenizer() -> Callable[[list[str]], str]:
    """NLTK's Treebank detokenizer, after WikiText's @-@ @,@ @.@ are joined back."""
    from nltk.tokenize.treebank import TreebankWordDetokenizer

    detok = TreebankWordDetokenizer()
    return lambda tokens: detok.detokenize(_unmark(" ".join(tokens)).split())


def moses_detokenizer() -> Callable[[list[str]], str]:
    """sacremoses' Moses detokenizer (English), after the markers are joined back."""
    from sacremoses import MosesDetokenizer

    detok = MosesDetokenizer("en")
    return lambda tokens: detok.detokenize(_unmark(" ".join(tokens)).split())


def _unmark(text: str) -> str:
    for marker, plain in _MARKERS:
        text = text.replace(marker, plain)
    return text


def read_lines(path: Path) -> list[list[str]]:
    """Tokenized lines, without blank lines and WikiText's ` = Heading = ` lines."""
    lines = (line.split() for line in path.read_text(encoding="utf-8").splitlines())
    return [tokens for tokens in lines if tokens and not (tokens[0] == "=" and tokens[-1] == "=")]


def round_trip(lines: Sequence[list[str]], conventions: Conventions, known: Callable[[str], bool],
               detokenize: Callable[[list[str]], str]) -> RoundTrip:
    """Detokenize each line, rewrite it to the conventions, count the lines that come back exactly."""
    result = RoundTrip()
    for tokens in lines:
        ours = apply(detokenize(tokens), conventions, known)
        result.lines += 1
        if ours == tokens:
            result.exact += 1
            continue
        for op, a, b, c, d in difflib.SequenceMatcher(a=tokens, b=ours, autojunk=False).get_opcodes():
            if op != "equal":
                result.differences[(" ".join(tokens[a:b]), " ".join(ours[c:d]))] += 1
    return result


def perplexities(lm, lines: Sequence[list[str]], detokenize: Callable[[list[str]], str]) -> tuple[float, float]:
    """(perplexity of the corpus's tokens, perplexity of the typed text as rnngen rewrites it)."""
    tokenized = lm.score_tokens(lines)
    typed = lm.score([detokenize(t) for t in lines], allow_empty=True)
    return tuple(math.exp(-math.fsum(s.logprob for s in scores) / sum(s.num_tokens for s in scores))
                 for scores in (tokenized, typed))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rnngen.bench.conventions", description=__doc__.split("\n\n")[0])
    parser.add_argument("train", type=Path, help="the tokenized text whose words the conventions are learned from")
    parser.add_argument("test", type=Path, help="tokenized lines to detokenize and rewrite")
    parser.add_argument("--lines", type=int, default=0, help="use the first N lines of TEST (0 = all)")
    parser.add_argument("--detokenizer", choices=("treebank", "moses"), default="treebank")
    parser.add_argument("--model", help="also compare perplexities under this model (trained on TRAIN)")
    parser.add_argument("--capitalize", action="store_true", help="capitalize each line's first letter, as typed")
    args = parser.parse_args(argv)
    counts = Counter(w for tokens in read_lines(args.train) for w in tokens)
    conventions = Conventions.learn([w for w, _ in counts.most_common()])
    lines = read_lines(args.test)[: args.lines or None]
    detokenize = treebank_detokenizer() if args.detokenizer == "treebank" else moses_detokenizer()
    if args.capitalize:
        plain = detokenize
        detokenize = lambda tokens: re.sub(r"^\w", lambda m: m.group().upper(), plain(tokens))  # noqa: E731
    known = counts.__contains__
    if args.model:
        from rnngen.lm import LanguageModel

        lm = LanguageModel.load(args.model)
        conventions, known = lm.conventions, lm.vocab.__contains__
    result = round_trip(lines, conventions, known, detokenize)
    print(f"conventions: {conventions.describe()}")
    print(f"exact: {result.exact:,} of {result.lines:,} lines ({100 * result.share:.1f}%)")
    for (theirs, ours), n in result.differences.most_common(8):
        print(f"  {n:5,}  corpus {theirs!r:24} rnngen {ours!r}")
    if args.model:
        tokenized, typed = perplexities(lm, lines, detokenize)
        print(f"perplexity: tokens {tokenized:.2f}, typed {typed:.2f} ({100 * (typed / tokenized - 1):+.2f}%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
