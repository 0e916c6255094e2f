"""`rnngen score`: sentence log-probabilities, perplexities and per-token scores."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import (add_ngram_flags, add_threads_flag, emit, err, fmt_ppl, load_model, out, read_lines,
                                with_ngram)
from rnngen.cli._display import safe, tsv_field


def register(sub) -> None:
    p = sub.add_parser("score", help="score sentences, one per line",
                       description="Score each input line as a sentence: P(w1..wn, </s> | <s>). Log-probabilities "
                                   "are natural logs; log10 is given too. Words outside the vocabulary count as <unk>.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("input", metavar="FILE", nargs="?", default="-", help="sentences, one per line ('-' or nothing: stdin)")
    p.add_argument("--tokenized", "--pretokenized", dest="pretokenized", action="store_true",
                   help="the lines are tokens separated by spaces (as `rnngen generate --tokens` prints them): "
                        "score them as they are, without the model's tokenizer or its corpus's conventions")
    p.add_argument("--strict", action="store_true",
                   help="refuse the whole input when a line is empty or made only of unknown words (default: "
                        "score it, flag it in the output and name it on stderr)")
    p.add_argument("--given", default="", metavar="PREFIX",
                   help="score each line as a continuation of PREFIX: P(line | <s> PREFIX); the prefix is read, "
                        "not counted")
    p.add_argument("--details", action="store_true",
                   help="jsonl: add each token's rank among all words and the entropy of the distribution there "
                        "(one forward pass per sentence)")
    p.add_argument("--format", default="table", choices=("table", "tsv", "jsonl"), help="output format (default table)")
    add_ngram_flags(p)
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.errors import InputError
    from rnngen.score import check_scorable, flagged

    lm = with_ngram(load_model(args.model), args)
    lines = read_lines(args.input)
    if not any(line.strip() for line in lines):
        raise InputError("no sentences to score: the input is empty")
    if args.strict:
        for number, line in enumerate(lines, 1):
            check_scorable(lm.tokenize(line, args.pretokenized), lm.vocab, line, f"line {number}")
    scores = lm.score(lines, allow_empty=True, pretokenized=args.pretokenized, given=args.given)
    if args.details and args.given:
        raise InputError("--details is not available with --given yet: score the whole text with --details")
    _write(scores, args.format, lm if args.details else None)
    _warn(flagged(scores))
    return 0


def _write(scores, format: str, lm=None) -> None:
    """The scores in `format`; with `lm`, jsonl tokens carry their rank and the entropy where they stand."""
    if format == "jsonl":
        for s in scores:
            row = s.to_dict()
            if lm is not None:
                for token, detail in zip(row["token_scores"], lm.details([t.token for t in s.tokens[:-1]])):
                    token.update(rank=detail.rank, entropy_bits=detail.entropy_bits)
            emit(json.dumps(row, ensure_ascii=False))
    elif format == "tsv":
        emit("text\tlogprob\tlog10prob\ttokens\tperplexity\toov\tflag")
        for s in scores:
            emit(f"{tsv_field(s.text)}\t{s.logprob:.6f}\t{s.log10prob:.6f}\t{s.num_tokens}\t{s.perplexity:.4f}\t{s.oov_count}"
                 f"\t{s.flag}")
    else:
        out.print(_table(scores))


def _warn(flags: dict[str, list[int]]) -> None:
    """Name the lines whose numbers say little about the model, as `rnngen rerank` does."""
    for flag, what in (("empty", "empty line{s}"), ("unknown-only", "line{s} made only of unknown words")):
        numbers = flags.get(flag, [])
        if numbers:
            shown = ", ".join(map(str, numbers[:10])) + (", ..." if len(numbers) > 10 else "")
            err.print(f"rnngen: warning: {len(numbers):,} {what.format(s='s' if len(numbers) > 1 else '')} "
                      f"({shown}); scored as the model scores them and flagged {flag!r} (--strict refuses them)",
                      markup=False, highlight=False, soft_wrap=True)


def _table(scores):
    from rich.table import Table

    table = Table(show_lines=False)
    table.add_column("sentence", overflow="fold", ratio=1)
    for name in ("log P", "log10 P", "tokens", "ppl", "per token", "OOV"):
        table.add_column(name, justify="right", no_wrap=True)
    flags = any(s.flag for s in scores)
    if flags:
        table.add_column("flag", no_wrap=True)
    for s in scores:
        row = [safe(_shown(s)), f"{s.logprob:.3f}", f"{s.log10prob:.3f}", str(s.num_tokens), fmt_ppl(s.perplexity),
               f"{s.per_token:.3f}", str(s.oov_count)]
        table.add_row(*row, *([s.flag] if flags else []))
    return table


def _shown(score) -> str:
    """The sentence, and below it the tokens the model scored where they differ from its words."""
    return score.text if score.scored == " ".join(score.text.split()) else f"{score.text}\n→ {score.scored}"
