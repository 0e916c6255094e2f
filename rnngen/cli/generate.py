"""`rnngen generate`: sample sentences word by word, printed as they come."""

from __future__ import annotations

import argparse
import sys

from rnngen.cli._common import add_config_flags, add_ngram_flags, add_threads_flag, load_model, picked, with_ngram
from rnngen.cli._display import tsv_field, visible
from rnngen.sampling import MAX_COUNT, SamplingSettings


def register(sub) -> None:
    p = sub.add_parser("generate", help="generate text word by word",
                       description="Sample sentences from a model, streaming each word as it is drawn.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("--prompt", default="", help="text the sentences start with")
    p.add_argument("-n", "--count", type=int, default=1, help=f"number of sentences, 1 to {MAX_COUNT:,} (default 1)")
    p.add_argument("--tokens", action="store_true",
                   help="print the sampled tokens separated by spaces, not detokenized text: what "
                        "`rnngen score --pretokenized` scores exactly as sampled")
    p.add_argument("--show-probs", action="store_true", help="print each word with its probability and the top alternatives")
    add_config_flags(p, SamplingSettings, "sampling (the Generate tab's fields)")
    add_ngram_flags(p)
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.config import with_overrides
    from rnngen.sampling import check_count
    from rnngen.tokenize import StreamingDetokenizer

    check_count(args.count)
    settings = with_overrides(SamplingSettings(), picked(args, SamplingSettings)).validate()
    lm = with_ngram(load_model(args.model), args)

    def write(text: str) -> None:
        sys.stdout.write(visible(text))  # a sampled word holds what the corpus held: no control reaches the terminal

    current, detok = -1, None
    for n, step in lm.generate(args.prompt, settings, args.count, alternatives=5 if args.show_probs else 0):
        if n != current:
            if detok is not None:
                write(detok.finish() + "\n")
            current, detok = n, _Joiner() if args.tokens else StreamingDetokenizer(lm.tokenizer)
            if args.prompt and not args.show_probs:
                for w in lm.tokenize(args.prompt):
                    write(detok.feed(w))
        if args.show_probs:
            alts = ", ".join(f"{tsv_field(w)} {p:.3f}" for w, p in step.alternatives)
            sys.stdout.write(f"{tsv_field(step.word)}\t{step.prob:.4f}\t{alts}\n")
        elif not step.is_end:
            write(detok.feed(step.word))
        sys.stdout.flush()
    if detok is not None and not args.show_probs:
        write(detok.finish() + "\n")
    return 0


class _Joiner:
    """The tokens as they were sampled, separated by spaces (the `--tokens` output)."""

    def __init__(self) -> None:
        self.started = False

    def feed(self, word: str) -> str:
        text = (" " if self.started else "") + word
        self.started = True
        return text

    def finish(self) -> str:
        return ""
