"""`rnngen train`: fit a model on a corpus with a live progress bar."""

from __future__ import annotations

import argparse
import signal
import threading

from rnngen.cli._common import add_threads_flag, add_config_flags, err, fmt_ppl, picked, read_corpus
from rnngen.cli._display import safe
from rnngen.display import clock


def register(sub) -> None:
    from rnngen.config import PRESET_HELP, ModelConfig, TrainConfig

    p = sub.add_parser("train", help="train a language model on a corpus",
                       description="Train a word-level RNN language model. The best model (by validation "
                                   "perplexity) is saved as it improves; Ctrl-C stops after the current batch and keeps it.")
    p.add_argument("corpus", metavar="CORPUS", help="a text file, a folder, or a corpus name (see `rnngen corpus list`)")
    p.add_argument("--out", required=True, metavar="NAME", help="model folder under checkpoints/ (or a path)")
    p.add_argument("--preset", default="auto", choices=list(PRESET_HELP),
                   help="starting configuration: " + "; ".join(f"{k}: {v}" for k, v in PRESET_HELP.items()))
    p.add_argument("--resume", action="store_true", help="continue training the model in --out")
    p.add_argument("--force", action="store_true",
                   help="replace the model already in --out with a new one (without it, training refuses to start)")
    p.add_argument("--tokenized", action=argparse.BooleanOptionalAction, default=None,
                   help="the corpus is already tokenized, one sentence per line (default: detect)")
    p.add_argument("--lowercase", action="store_true", help="lower-case the corpus (and later input)")
    p.add_argument("--quiet", action="store_true", help="no progress bar, only the summary")
    p.add_argument("--events", metavar="FILE",
                   help="also write every training event to FILE as JSON lines, for other programs and for the "
                        "app's Train tab to watch (ctrl+o there); a new run empties FILE, --resume appends")
    add_config_flags(p, ModelConfig, "model options (override the preset)")
    add_config_flags(p, TrainConfig, "training options (override the preset)")
    add_threads_flag(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from rnngen import distributed
    from rnngen.errors import ExitCode, RnngenError

    if not distributed.launched():
        processes = _processes(args)
        return _launch(args, processes) if processes > 1 else _train(args, distributed.SINGLE)
    context = _join(args)
    try:
        code = _train(args, context)
    except (RnngenError, KeyboardInterrupt) as exc:  # said once per machine, by its first process
        if context.local_rank == 0:
            raise
        return ExitCode.USER_ERROR if isinstance(exc, RnngenError) else ExitCode.INTERRUPTED
    except Exception as exc:
        if not distributed.peer_lost(exc):
            raise
        return _lost(exc, context, args)
    context.close()
    return code


def _corpus(args: argparse.Namespace, context):
    """The corpus, prepared once per machine: its first process tokenizes (with the machine's cores) and caches
    it, then the others read the cache; all must hold the same text."""
    def read(first: bool):
        return read_corpus(args.corpus, tokenized=args.tokenized, lowercase=args.lowercase) if first else None

    corpus = context.together(read, context.local_rank == 0)
    if corpus is None:
        corpus = read(True)
    context.agree(corpus.fingerprint, "corpora")
    return corpus


def _train(args: argparse.Namespace, context) -> int:
    """The run itself, in one process or as one rank of a distributed run (`context`)."""
    from rnngen.config import AUTO, PRESET_HELP, ModelConfig, preset, with_overrides
    from rnngen.errors import ConfigError
    from rnngen.events import EventWriter, logged
    from rnngen.train import train

    if args.preset != AUTO:  # a bad option is refused before the corpus is read
        with_overrides(preset(args.preset)[0], picked(args, ModelConfig)).validate()
    if context.distributed and args.nproc not in (None, context.world):
        raise ConfigError(f"{{nproc}} {args.nproc} does not match the {context.world} processes torchrun started: "
                          "leave {nproc} out under torchrun", ("nproc",))
    corpus = _corpus(args, context)
    for warning in corpus.warnings:
        err.print(f"[yellow]warning:[/] {safe(warning)}")
    if args.resume and args.force:
        raise ConfigError("--resume continues the model in --out and --force replaces it: choose one")
    # rank 0 chooses (the budget probe times this machine) and the other ranks take its choice
    model_config, train_config, name, reason = context.from_main(_configs, args, corpus)
    stop = threading.Event()
    writer = None
    if args.events and context.is_main:  # a bad FILE: refused first
        writer = EventWriter(args.events, append=args.resume)
    try:
        events = train(corpus, model_config, train_config, args.out, stop=stop, resume=args.resume, force=args.force,
                       preset={"name": name, "chosen": reason} if name else None, context=context)
    except BaseException:
        if writer is not None:
            writer.close()
        raise
    if writer is not None:
        events = logged(events, writer)
    if not context.is_main:  # the other ranks train in silence: rank 0 shows and writes the run
        signal.signal(signal.SIGINT, _stop_handler(stop))
        for _ in events:
            pass
        return 0
    if name and not args.resume:  # said once the run is set up: a refused --out stays a single line
        err.print(f"preset {name}: {PRESET_HELP[name]} ({reason})")
    if context.distributed:
        from rnngen.model import select_device

        err.print(f"distributed: {context.world} processes ({context.backend(select_device(train_config.device))}), "
                  f"batch size {train_config.batch_size} in each")
    previous = signal.signal(signal.SIGINT, _stop_handler(stop))
    try:
        return _render(events, args.quiet)
    finally:
        signal.signal(signal.SIGINT, previous)


def _configs(args: argparse.Namespace, corpus):
    """The model and training settings of this run, and the preset they started from and why."""
    from rnngen.config import AUTO, ModelConfig, TrainConfig, choose_preset, preset, with_overrides
    from rnngen.train import saved_configs

    if args.resume and args.preset == AUTO:  # go on as the model was trained (its optimiser state fits that)
        name, reason = "", ""
        model_config, train_config = saved_configs(args.out)
    else:
        name, reason = choose_preset(args.preset, corpus.train_tokens)
        model_config, train_config = preset(name)
    model_config = with_overrides(model_config, picked(args, ModelConfig)).validate()
    train_config = with_overrides(train_config, picked(args, TrainConfig)).validate()
    if args.preset == AUTO and not args.resume and train_config.max_minutes > 0:
        model_config, train_config, reason = _for_budget(corpus, model_config, train_config, args, reason)
    return model_config, train_config, name, reason


def _processes(args: argparse.Namespace) -> int:
    """How many processes to train in: --nproc, else as many as the model being resumed was trained in."""
    from rnngen.config import AUTO
    from rnngen.errors import RnngenError
    from rnngen.train import saved_configs

    if args.nproc is not None:
        return args.nproc
    if args.resume and args.preset == AUTO:
        try:
            return saved_configs(args.out)[1].nproc
        except RnngenError:  # the run itself says what is wrong with the model
            return 1
    return 1


def _launch(args: argparse.Namespace, processes: int) -> int:
    """`--nproc N`: this command again in N processes (`rnngen.launch`); one line if one of them dies."""
    import sys

    from rnngen import checkpoint, launch
    from rnngen.config import ModelConfig, TrainConfig, with_overrides
    from rnngen.model import select_device

    for cls in (ModelConfig, TrainConfig):  # a bad value is one line here, not one per process
        with_overrides(cls(), picked(args, cls)).validate()
    failure = launch.run(processes, list(args.argv), checkpoint.resolve(args.out), select_device(args.device or "auto"))
    if failure is None:
        return 0
    if failure.message:
        print(f"rnngen: error: {failure.message}", file=sys.stderr)
    return failure.code


def _join(args: argparse.Namespace):
    """Join the distributed run this process is a rank of; only rank 0 shows anything."""
    import os

    from rnngen import distributed, hardware
    from rnngen.cli._common import out

    context = distributed.start()
    if not context.is_main:
        err.quiet = out.quiet = True
    if args.threads is None and not os.environ.get(hardware.THREADS_ENV):  # the default threads, shared out
        hardware.set_threads(max(1, hardware.default_threads() // context.local_world))
    return context


def _lost(exc: Exception, context, args: argparse.Namespace) -> int:
    """Another rank is gone (it died, or its launcher stopped it). Under `--nproc` the launcher says so; under
    torchrun the first process of each machine does."""
    import os
    import sys

    from rnngen import checkpoint, distributed
    from rnngen.errors import ExitCode
    from rnngen.launch import kept

    if context.local_rank == 0 and not os.environ.get(distributed.LAUNCHED_ENV):
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        print(f"rnngen: error: rank {context.rank} lost the other processes of the run ({first}); "
              f"{kept(checkpoint.resolve(args.out))}", file=sys.stderr)
    return ExitCode.PROCESS_FAILED


def _for_budget(corpus, model_config, train_config, args: argparse.Namespace, reason: str):
    """`auto` with --max-minutes: measure this machine on the corpus for a few seconds and lighten the recipe
    when few epochs fit (`rnngen.budget`); options given on the command line stay as given."""
    from rnngen import budget
    from rnngen.config import ModelConfig, TrainConfig, with_overrides

    with err.status("measuring this machine's training speed on the corpus…"):
        fit = budget.measure(corpus, model_config, train_config, train_config.max_minutes)
    light_model, light_train, changes = budget.for_budget(model_config, train_config, fit)
    if not changes:
        return model_config, train_config, f"{reason}; {fit.describe()}"
    light_model = with_overrides(light_model, picked(args, ModelConfig)).validate()
    light_train = with_overrides(light_train, picked(args, TrainConfig)).validate()
    return light_model, light_train, f"{reason}; {fit.describe()}, so lightened for few epochs: {changes}"


def _stop_handler(stop: threading.Event):
    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        err.print("[yellow]stopping after this batch and saving… (Ctrl-C again to abort)[/]")
    return handler


def _render(events, quiet: bool) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from rnngen.events import BatchDone, Checkpointed, EpochDone, Finished, Sample, Started

    progress = Progress(TextColumn("[bold]epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("loss {task.fields[loss]:.3f}  ppl {task.fields[ppl]}  {task.fields[tps]} tok/s  "
                                   "lr {task.fields[lr]:.3g}  eta {task.fields[eta]}"),
                        TimeElapsedColumn(), console=err, disable=quiet, transient=True)
    task = None
    with progress:
        for ev in events:
            if isinstance(ev, Started):
                err.print(f"training {ev.parameters:,} parameters, vocabulary {ev.vocab_size:,}, "
                          f"{ev.train_tokens:,} training tokens, {ev.batches_per_epoch:,} batches/epoch on {ev.device}")
                if ev.earlier:
                    best = min(record["valid_ppl"] for record in ev.earlier)
                    err.print(f"resuming after epoch {ev.earlier[-1]['epoch']} (best validation perplexity "
                              f"{fmt_ppl(best)} so far)")
                task = progress.add_task("train", total=ev.batches_per_epoch, epoch=ev.start_epoch, loss=0.0,
                                         ppl="-", tps="-", lr=0.0, eta="-")
            elif isinstance(ev, BatchDone) and task is not None:
                import math

                progress.update(task, completed=ev.batch, total=ev.batches, epoch=ev.epoch, loss=ev.loss,
                                ppl=fmt_ppl(math.exp(min(ev.loss, 50))), tps=f"{ev.tokens_per_s:,.0f}", lr=ev.lr,
                                eta=clock(ev.eta_s))
            elif isinstance(ev, Sample) and not quiet:
                progress.console.print(f"[dim]  sample: {safe(ev.text)}[/]")
            elif isinstance(ev, EpochDone):
                mark = "[green]best[/]" if ev.improved else ""
                clipped = f", clipped {ev.clipped}/{ev.batches} batches" if ev.clipped else ""
                progress.console.print(f"epoch {ev.epoch}: train loss {ev.train_loss:.3f}, valid ppl "
                                       f"{fmt_ppl(ev.valid_ppl)}{clipped} {mark}")
                if task is not None:
                    progress.reset(task)
            elif isinstance(ev, Checkpointed):
                pass
            elif isinstance(ev, Finished):
                err.print(f"done ({ev.reason}) after {ev.epochs_run} epoch(s) in {clock(ev.elapsed_s)}: "
                          f"best validation perplexity {fmt_ppl(ev.best_valid_ppl)}, saved in {ev.path}")
    return 0
