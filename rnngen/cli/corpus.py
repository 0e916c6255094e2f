"""`rnngen corpus list|get|remove|stats`: the corpora rnngen knows, fetching them, and what they hold."""

from __future__ import annotations

import argparse
import json

from rnngen.cli._common import err, out, read_corpus
from rnngen.cli._display import safe, visible


def register(sub) -> None:
    p = sub.add_parser("corpus", help="list, download, remove and inspect corpora",
                       description="Built-in, downloaded and downloadable corpora. Downloads go to corpora/ "
                                   "(or $RNNGEN_CORPORA); set RNNGEN_MIRROR to fetch from another server.")
    cmds = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)

    ls = cmds.add_parser("list", help="built-in, downloaded and downloadable corpora")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(run=run_list)

    get = cmds.add_parser("get", help="download a corpus into corpora/",
                          description="Download a corpus by name: ptb, wikitext-2, wikitext-2-raw, wikitext-103, "
                                      "wikitext-103-raw, tinyshakespeare, gutenberg:<book number>, nltk:<corpus id>. "
                                      "An interrupted download resumes when run again.")
    get.add_argument("name", metavar="NAME")
    get.add_argument("--mirror", metavar="URL", default=None,
                     help="fetch from this server instead (laid out as URL/<name>/<file>); default $RNNGEN_MIRROR")
    get.add_argument("--timeout", type=float, default=30.0, metavar="S", help="network timeout in seconds (default 30)")
    get.set_defaults(run=run_get)

    rm = cmds.add_parser("remove", help="delete a downloaded corpus")
    rm.add_argument("name", metavar="NAME")
    rm.set_defaults(run=run_remove)

    st = cmds.add_parser("stats", help="sizes, vocabulary coverage, sentence lengths and top words of a corpus",
                         description="Statistics of a corpus as rnngen will train on it.")
    st.add_argument("corpus", metavar="CORPUS", help="a file, a folder, or a corpus name")
    st.add_argument("--vocab-size", type=int, default=8000, metavar="C",
                    help="vocabulary size for the coverage and OOV figures (default 8000)")
    st.add_argument("--tokenized", action=argparse.BooleanOptionalAction, default=None,
                    help="the corpus is already tokenized, one sentence per line (default: detect)")
    st.add_argument("--lowercase", action="store_true", help="lower-case the text first")
    st.add_argument("--top", type=int, default=20, metavar="N", help="how many frequent words to show (default 20)")
    st.add_argument("--samples", type=int, default=5, metavar="N", help="how many sample sentences (default 5)")
    st.add_argument("--json", action="store_true", help="print JSON instead of tables")
    st.set_defaults(run=run_stats)


def run_list(args: argparse.Namespace) -> int:
    from rnngen.corpus import corpora_root
    from rnngen.corpus.registry import corpus_rows

    rows = corpus_rows(corpora_root())
    if args.json:
        out.print(json.dumps(rows), markup=False)
        return 0
    from rich.table import Table

    table = Table(title="corpora", title_justify="left", show_edge=False, pad_edge=False)
    for col, kw in (("name", {"style": "bold", "no_wrap": True}), ("status", {"no_wrap": True}),
                    ("size", {"justify": "right", "no_wrap": True}), ("licence", {}), ("description", {})):
        table.add_column(col, **kw)
    styles = {"built-in": "green", "downloaded": "cyan", "available": "dim"}
    for row in rows:
        table.add_row(row["name"], f"[{styles[row['status']]}]{row['status']}[/]", row["size"], row["licence"],
                      row["description"])
    out.print(table)
    err.print("[dim]get one with `rnngen corpus get NAME`; train with `rnngen train NAME --out MODEL`[/]")
    return 0


def run_get(args: argparse.Namespace) -> int:
    from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                               TransferSpeedColumn)

    from rnngen.corpus import corpora_root
    from rnngen.corpus.registry import folder_bytes, get, human_size, lookup, read_manifest

    root = corpora_root()
    entry = lookup(args.name)
    if entry is not None and read_manifest(root / entry.folder) is not None:
        err.print(f"{args.name} is already downloaded in {root / entry.folder}")
        return 0
    progress = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                        TimeRemainingColumn(), console=err, transient=True)
    tasks: dict[str, int] = {}

    def report(label: str, done: int, total: int | None) -> None:
        if not tasks:
            progress.start()  # only once bytes flow, so an offline error stays one clean line
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=total)
        progress.update(tasks[label], completed=done, total=total)

    try:
        folder = get(args.name, root, progress=report, mirror=args.mirror, timeout=args.timeout)
    finally:
        if tasks:
            progress.stop()
    err.print(f"downloaded {args.name} into {folder} ({human_size(folder_bytes(folder))}); "
              f"train with `rnngen train {args.name} --out MODEL`")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from rnngen.corpus import corpora_root
    from rnngen.corpus.registry import remove

    folder = remove(args.name, corpora_root())
    err.print(f"removed {args.name} ({folder})")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from rnngen.corpus.stats import corpus_stats
    from rnngen.errors import ConfigError

    if args.vocab_size < 4:
        raise ConfigError(f"vocab-size must be at least 4, got {args.vocab_size}")
    corpus = read_corpus(args.corpus, tokenized=args.tokenized, lowercase=args.lowercase)
    with err.status("counting…"):
        stats = corpus_stats(corpus, args.vocab_size, max(args.top, 0), max(args.samples, 0))
    if args.json:
        out.print(json.dumps(stats.to_dict()), markup=False)
        return 0
    render_stats(stats)
    return 0


def render_stats(stats) -> None:
    from rich.table import Table

    for warning in stats.warnings:
        err.print(f"[yellow]warning:[/] {safe(warning)}")
    mode = "pre-tokenized (split on spaces)" if stats.tokenizer["words"] == "whitespace" else "NLTK words"
    mode += ", one sentence a line" if stats.tokenizer["sentences"] == "lines" else ", Punkt sentences"
    summary = Table(title=f"corpus {safe(stats.name)}", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("source", safe(stats.source))
    summary.add_row("tokenization", mode + (", lower-cased" if stats.tokenizer["lowercase"] else ""))
    summary.add_row("sentences", f"{stats.total_sentences:,}  (train {stats.sentences['train']:,} / valid "
                    f"{stats.sentences['valid']:,} / test {stats.sentences['test']:,})")
    summary.add_row("tokens", f"{stats.total_tokens:,}  (train {stats.tokens['train']:,} / valid "
                    f"{stats.tokens['valid']:,} / test {stats.tokens['test']:,}; words, without sentence ends)")
    summary.add_row("word types", f"{stats.types:,} in train ({stats.singletons:,} seen once)")
    summary.add_row(f"top {stats.vocab_size:,} words", f"{stats.vocab_used:,} kept, covering "
                    f"{100 * stats.train_coverage:.2f}% of train tokens")
    summary.add_row("valid OOV rate", f"{100 * stats.valid_oov_rate:.2f}% at C={stats.vocab_size:,} "
                    f"({100 * stats.valid_unseen_rate:.2f}% never seen in train)")
    summary.add_row("sentence length", f"mean {stats.length_mean:.1f}, median {stats.length_median}, "
                    f"max {stats.length_max} words")
    if stats.true_perplexity is not None:
        summary.add_row("true-entropy floor", f"perplexity {stats.true_perplexity:.2f} on test (the source's own; "
                        "no model can beat it)")
    out.print(summary)

    hist = Table(title="sentence lengths (words)", title_justify="left", show_edge=False)
    hist.add_column("length", justify="right")
    hist.add_column("sentences", justify="right")
    hist.add_column("")
    peak = max((b.count for b in stats.length_bins), default=1) or 1
    for b in stats.length_bins:
        label = f"{b.low}-{b.high}" if b.high > b.low else f"{b.low}"
        hist.add_row(label, f"{b.count:,}", "[cyan]" + "█" * max(1 if b.count else 0, round(30 * b.count / peak)) + "[/]")
    out.print(hist)

    if stats.top_words:
        total = stats.tokens["train"] or 1
        words = Table(title="most frequent words (train)", title_justify="left", show_edge=False)
        for col in ("#", "word", "count", "share"):
            words.add_column(col, justify="left" if col == "word" else "right")
        for i, (w, c) in enumerate(stats.top_words, 1):
            words.add_row(str(i), safe(w), f"{c:,}", f"{100 * c / total:.2f}%")
        out.print(words)
    if stats.samples:
        out.print("[bold]sample sentences (tokenized, train)[/]")
        for s in stats.samples:
            text = " ".join(s)
            out.print("  " + visible(text if len(text) <= 160 else text[:157] + "…"), markup=False)
