"""`rnngen rerank tune`: the LM weight, normalisation and OOV penalty that give the best BLEU against references.

This module has no `register`: `rnngen.cli.main` sends `rnngen rerank tune ...` here (`build_parser`)
before the command parser sees it, so `rnngen --help` lists one command, `rerank`, whose help points here.
"""

from __future__ import annotations

import argparse
import json
import sys

from rnngen.cli._common import add_threads_flag, emit, err, load_model, out

FORMATS = ("moses", "tsv", "lines")
PROG = "rnngen rerank tune"
TOP = 15


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Score every candidate of an n-best list with the language model once, then rerank it under "
                    "each setting of a grid and compute the corpus BLEU (sacreBLEU) of the 1-best against the "
                    "references: the weight W (0 = the decoder alone, 0.01 to 10 in 1-2-5 steps, and the LM "
                    "alone), the normalisation (none, length, wp:0.6, wp:1.0, ppl) and the OOV penalty (0, -1, -5, "
                    "-10). Lists without scores of their own are ranked by the LM alone, so only the normalisation "
                    "and the penalty are searched. Prints each setting's BLEU, best first, beside three baselines "
                    "(the decoder's 1-best, a seeded random pick, the oracle: per id the candidate with the best "
                    "sentence BLEU, an approximation of the best the list allows) and the cross-validated BLEU: "
                    "ids are dealt round-robin into K folds, the setting is chosen on K-1 of them and measured on "
                    "the held-out one, so that figure is on ids its setting was not chosen on.",
        epilog="Line i of each reference file is the reference for id i (lines lists: the group number); several "
               "files are several references per sentence. Ties: within an id the candidate listed first wins, "
               "between settings of equal BLEU the one earlier in the grid (smaller W, none before length, wp, "
               "ppl, the OOV penalty nearer 0). --save writes the setting chosen on all ids as JSON; apply it with "
               "'rnngen rerank MODEL NBEST --settings FILE'.")
    p.add_argument("model", metavar="MODEL", help="model name under checkpoints/ or a path")
    p.add_argument("nbest", metavar="NBEST", help="the n-best list ('-': standard input)")
    p.add_argument("--refs", nargs="+", required=True, metavar="REF",
                   help="reference files, one sentence per line (line i for id i); several: multiple references")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="input format (default: detected from the first line, as rnngen rerank does)")
    p.add_argument("--folds", type=int, default=None, metavar="K",
                   help="cross-validation folds, at least 2 (default 5, or the number of ids when fewer)")
    p.add_argument("--tokenize", default="13a", metavar="TOK",
                   help="sacreBLEU tokenizer: 13a, intl, none, char, zh, ... (default 13a, sacreBLEU's default)")
    p.add_argument("--lowercase", action="store_true", help="case-insensitive BLEU")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the random-pick baseline (default 0)")
    p.add_argument("--save", metavar="FILE", default=None,
                   help="write the setting chosen on all ids to FILE (JSON, format rnngen-rerank-settings "
                        "version 1), for rnngen rerank --settings")
    p.add_argument("--tokenized", action="store_true",
                   help="split candidates on spaces only, as `rnngen rerank --tokenized`")
    p.add_argument("--json", action="store_true", help="print one JSON object with every setting and figure")
    add_threads_flag(p)
    p.set_defaults(run=run)
    return p


def run(args: argparse.Namespace) -> int:
    from rnngen.cli.rerank import _read, _warning, _with_progress
    from rnngen.rerank import score_texts, scoring_text
    from rnngen.tune import bleu_metric, check_references, read_references, tune, write_settings

    nbest = _read(args.nbest, args.format)
    name = "standard input" if args.nbest == "-" else args.nbest
    references = read_references(args.refs)
    ids = check_references(nbest, references, name)  # before the model is loaded: a bad file fails fast
    bleu_metric(args.tokenize, args.lowercase)
    _unused_lines(references, ids)
    lm = load_model(args.model)
    texts = [scoring_text(c, nbest.format) for c in nbest.candidates]
    scores = _with_progress(lambda progress: score_texts(lm, texts, progress=progress, tokenized=args.tokenized),
                            len(texts))
    result = tune(nbest, scores, references, args.folds, args.tokenize, args.lowercase, args.seed, name=name)
    tuned_on = {"model": args.model, "nbest": name, "references": list(args.refs)}
    if args.save:
        write_settings(args.save, result, **tuned_on)
    if args.json:
        emit(json.dumps({**result.to_json(), **tuned_on, "saved": args.save}, ensure_ascii=False))
    else:
        _table(result, name)
    sys.stdout.flush()
    if args.save and not args.json:
        err.print(f"saved {result.best.setting.label()} to {args.save}; apply it with "
                  f"rnngen rerank MODEL NBEST --settings {args.save}", markup=False, highlight=False, soft_wrap=True)
    if result.best.setting.decoder_alone:
        _warning("no setting beats the decoder alone (W 0) on these references")
    return 0


def _unused_lines(references, ids: list[int]) -> None:
    from rnngen.cli.rerank import _warning

    ref, lines = references[0]
    unused = ids[0] + len(lines) - 1 - ids[-1]
    if unused:
        _warning(f"{unused:,} reference line{'s' if unused > 1 else ''} of {len(lines):,} "
                 f"{'have' if unused > 1 else 'has'} no id in the list (ids {ids[0]}-{ids[-1]}); "
                 "they are not used")


def _table(result, name: str) -> None:
    from rich.table import Table

    from rnngen.cli._display import safe

    table = Table(title=f"BLEU of the reranked 1-best: {safe(name)}, {len(result.ids):,} ids, "
                        f"{len(result.nbest.candidates):,} candidates", title_justify="left",
                  caption=safe(result.signature), caption_justify="left")
    for col, kw in (("#", {"justify": "right"}), ("weight", {"justify": "right"}), ("normalize", {}),
                    ("OOV penalty", {"justify": "right"}), ("BLEU", {"justify": "right"})):
        table.add_column(col, no_wrap=True, **kw)
    ranked = result.ranked()
    for n, s in enumerate(ranked[:TOP], 1):
        st = s.setting
        if st.decoder_alone:
            table.add_row(str(n), "0", "(decoder alone)", "", f"{s.score:.2f}")
        else:
            table.add_row(str(n), "LM alone" if st.lm_alone else f"{st.weight:g}", str(st.normalization),
                          f"{st.oov_penalty:g}", f"{s.score:.2f}")
    if len(ranked) > TOP:
        table.add_row("", f"[dim]+{len(ranked) - TOP}[/]", "[dim]more settings[/]", "", "")
    out.print(table)
    summary = Table(title="baselines and the tuned setting", title_justify="left", show_header=False)
    summary.add_column("what", no_wrap=True)
    summary.add_column("BLEU", justify="right", no_wrap=True)
    for s in (result.decoder, result.random, result.oracle):
        summary.add_row(safe(s.name), f"{s.score:.2f}")
    summary.add_section()
    summary.add_row(f"chosen on all ids: {safe(result.best.setting.label())}", f"{result.best.score:.2f}")
    summary.add_row(f"{safe(result.cross_validated.name)}, held-out ids only", f"{result.cross_validated.score:.2f}")
    out.print(summary)
