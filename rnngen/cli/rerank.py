"""`rnngen rerank`: rescore n-best lists of candidate translations with the language model."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys

from rnngen.cli._common import (add_config_flags, add_ngram_flags, add_threads_flag, emit, err, load_model, picked,
                                with_ngram)
from rnngen.options import AUTO, RerankSettings

FORMATS = ("moses", "tsv", "lines")
OUTPUTS = ("nbest", "best", "json")


def register(sub) -> None:
    p = sub.add_parser(
        "rerank", help="rerank n-best lists of candidate translations ('rerank tune': tune the LM "
                                 "weight against references)",
        description="Add a language-model feature to every candidate of an n-best list and sort each id's candidates "
                    "best first. New score = existing score + W * LM feature when the list has scores (the Moses "
                    "total, a TSV third column), else the LM feature alone. LM feature = the candidate's natural-log "
                    "probability under the chosen normalisation + X * its number of unknown words. To find W, the "
                    "normalisation and X that give the best BLEU against reference translations, run "
                    "'rnngen rerank tune MODEL NBEST --refs REF' (its own --help); apply what it saves with "
                    "--settings FILE.",
        epilog="formats: moses 'id ||| hypothesis ||| features ||| total [||| ...]' (gets an LM_rnn= feature); "
               "tsv 'id<TAB>candidate[<TAB>score]' (a first line starting 'id' is a header; gets the columns "
               "lm_logprob, lm_tokens, lm_oov, lm_feature, total); lines: one candidate per line, blank lines between "
               "ids (written back as candidate<TAB>score). Output best: the best candidate per id, in id order; "
               "json: one JSON object per id per line.")
    p.add_argument("model", metavar="MODEL",
                   help="model name under checkpoints/ or a path (a model named 'tune': give its path, e.g. "
                        "checkpoints/tune, as 'rerank tune' is the tuning command)")
    p.add_argument("nbest", metavar="NBEST", help="the n-best list ('-': standard input)")
    p.add_argument("--format", choices=FORMATS, default=None,
                   help="input format (default: detected from the first line: '|||' moses, a tab tsv, else lines)")
    group = add_config_flags(p, RerankSettings,
                             "the LM feature and how it is combined (the Score tab's candidate fields)")
    group.add_argument("--settings", metavar="FILE", default=None,
                       help="take W, the normalisation and X from a settings file that 'rnngen rerank tune --save' "
                            "wrote (it may say 'LM alone': the list's own scores are then not added); "
                            "--weight, --normalize or --oov-penalty given with it override the file's value")
    p.add_argument("--tokenized", action="store_true",
                   help="split candidates on spaces only (default: as the model's corpus was tokenized; text "
                        "already written that way is left as it is)")
    p.add_argument("--ngram-feature", action="store_true",
                   help="with --ngram: write the n-gram's score as a second feature (moses LM_ngram=, tsv and json "
                        "lm_ngram_feature) beside LM_rnn, for weights tuned by MERT, instead of mixing it into LM_rnn")
    p.add_argument("--output", choices=OUTPUTS, default="nbest",
                   help="nbest: the list reranked in its own format; best: 1-best text per id; json: everything "
                        "(default nbest)")
    add_ngram_flags(p)
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen.rerank import write

    from rnngen.tune import Setting, read_settings, rerank_with

    options = picked(args, RerankSettings)
    auto = options.get("unk_types") == AUTO  # resolved once the model is loaded
    settings = RerankSettings.from_options({k: v for k, v in options.items() if not (auto and k == "unk_types")})
    setting = Setting(settings.weight, settings.normalization, settings.oov_penalty, settings.unk_types)
    if args.settings is not None:  # the file's values, then the flags given over them
        saved = read_settings(args.settings)
        setting = Setting(settings.weight if "weight" in options else saved.weight,
                          settings.normalization if "normalization" in options else saved.normalization,
                          settings.oov_penalty if "oov_penalty" in options else saved.oov_penalty,
                          settings.unk_types)
    nbest = _read(args.nbest, args.format)
    if args.weight is not None and not nbest.has_scores:
        _warning(f"--weight has no effect: the {nbest.format} list has no scores of its own")
    from rnngen.errors import InputError

    if args.ngram_feature and not args.ngram:
        raise InputError("--ngram-feature writes an n-gram's feature: give --ngram MODEL too")
    second = None
    if args.ngram_feature:
        from rnngen.mixture import build

        lm = load_model(args.model)
        second = build(lm, args.ngram, 0.0)  # λ 0: the n-gram alone, over the RNN's tokens and words
    else:
        lm = with_ngram(load_model(args.model), args)
    if auto:
        setting = dataclasses.replace(setting, unk_types=lm.unknown_types())
    if setting.unk_types > 1:
        _warning(f"unknown words: <unk>'s probability spread over {setting.unk_types:,} types "
                 f"(-{math.log(setting.unk_types):.3f} per unknown word)")
    result = _with_progress(lambda progress: rerank_with(lm, nbest, setting, progress=progress,
                                                         tokenized=args.tokenized),
                            len(nbest.candidates))
    if second is not None:
        from rnngen.rerank import with_feature

        result = with_feature(result, "LM_ngram", second, tokenized=args.tokenized)
    for line in write(result, args.output):
        emit(line)
    sys.stdout.flush()
    _warn(result, args.output)
    return 0


def _read(source: str, format: str | None):
    from rnngen.rerank import parse, read_lines
    from rnngen.textfile import STDIN
    from rnngen import textfile

    if source == "-":
        return parse(textfile.read_lines("-", sys.stdin.buffer), format, STDIN)
    return parse(read_lines(source), format, source)


def _with_progress(work, total: int):
    """Run `work(progress)` with a progress bar on stderr when it is a terminal and the list is long."""
    if not err.is_terminal or total < 20_000:
        return work(None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("scoring candidates"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("score", total=total)
        return work(lambda done, _total: bar.update(task, completed=done))


def _warn(result, output: str) -> None:
    """Report candidates the model could not really judge, and ids that get no `best` line."""
    for lines, what in ((result.empty_lines, "empty candidate{s}"),
                        (result.unknown_lines, "candidate{s} made only of unknown words")):
        if lines:
            what = what.format(s="s" if len(lines) > 1 else "")
            _warning(f"{len(lines):,} {what} ({_lines(lines)}); scored as the model scores them")
    choices = result.unknown_choices
    if choices:
        shown = ", ".join(map(str, choices[:10])) + (", ..." if len(choices) > 10 else "")
        _warning(f"{len(choices):,} id{'s' if len(choices) > 1 else ''} ({shown}) where the best candidate differs "
                 "from the next only in unknown words: their order comes from how unknown words are counted "
                 "(--oov-penalty, --unk-types), not from the model")
    missing = result.missing_ids
    if missing and output == "best":
        shown = missing.describe()  # ranges: a gap of 10**8 ids is one "1-99999999"
        _warning(f"{len(missing):,} id{'s' if len(missing) > 1 else ''} between {result.groups[0][0]} and "
                 f"{result.groups[-1][0]} without candidates, so without an output line: {shown}")


def _warning(message: str) -> None:
    err.print(f"rnngen: warning: {message}", markup=False, highlight=False, soft_wrap=True)


def _lines(numbers: list[int]) -> str:
    head = ", ".join(map(str, numbers[:10]))
    return f"line{'s' if len(numbers) > 1 else ''} {head}{', ...' if len(numbers) > 10 else ''}"
