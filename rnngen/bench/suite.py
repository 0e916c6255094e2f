"""The benchmark suite: each section measures one thing and returns a plain dict.

`run_suite` runs them in order on one corpus (by default the fixed
wt2-mini split) and collects a JSON-ready result with the issue's targets
checked as ratios measured in the same run. Nothing here draws anything; the
CLI (`rnngen bench`) and `python -m rnngen.bench` render the result.
"""

from __future__ import annotations

import math
import os
import platform
import statistics
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import torch

from rnngen.bench import measure
from rnngen.bench.kneser_ney import KneserNey
from rnngen.bench.recipe import Recipe
from rnngen.bench.turns import OwnClock, take_turns
from rnngen.config import PRESETS, ModelConfig, TrainConfig
from rnngen.corpus import Corpus, load_corpus
from rnngen.data import batches, stream_tensor
from rnngen.errors import CorpusError
from rnngen.events import BatchDone, EpochDone, Finished
from rnngen.generate import SamplingSettings
from rnngen.hardware import native_bf16, onednn_bf16_rnn
from rnngen.lm import LanguageModel
from rnngen.model import select_device
from rnngen.train import Trainer
from rnngen.vocab import Vocabulary

DEFAULT_CORPUS = Path("../shared/corpora/bench/wt2-mini")

# The PyTorch word_language_model recipe: 2-layer LSTM 200/200, BPTT 35, batch 20, SGD lr 20, clip 0.25, dropout 0.2.
REFERENCE = {
    "name": "reference",
    "model": {"rnn_type": "lstm", "emb": 200, "hidden": 200, "layers": 2, "dropout": 0.2, "tied": False,
              "softmax": "full"},
    "train": {"optimizer": "sgd", "lr": 20.0, "clip": 0.25, "bptt": 35, "batch_size": 20, "mode": "stream",
              "anneal": 4.0, "patience": 0, "seed": 1111},
}
# rnngen's best configuration for a 6-minute CPU budget (BENCHMARKS.md, "How the best configuration was chosen"):
# tied embeddings through a tied adaptive softmax, 300 units, dropout 0.5 and word dropout 0.1, averaged SGD, bf16
# products where they pay.
BEST = {
    "name": "best",
    "model": {"rnn_type": "lstm", "emb": 300, "hidden": 300, "layers": 2, "dropout": 0.5, "embed_drop": 0.1,
              "tied": True, "softmax": "adaptive"},
    "train": {"optimizer": "sgd", "lr": 20.0, "clip": 0.25, "bptt": 35, "batch_size": 20, "mode": "stream",
              "schedule": "constant", "average": 0.5, "patience": 0, "seed": 1111,
              "precision": "bf16" if native_bf16() and onednn_bf16_rnn() else "fp32"},
}

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    """How long and how large each section is; `quick()` is the under-a-minute development run."""

    corpus: Path = DEFAULT_CORPUS
    minutes: float = 6.0                # training budget of each configuration
    quick: bool = False
    device: str = "auto"
    threads: int = 0                    # 0 = torch's default (one per core)
    roofline_size: int = 2048
    throughput_seconds: float = 24.0    # per path, split into rounds that alternate the two
    throughput_rounds: int = 3
    eval_sentences: int = 0             # 0 = the whole validation and test splits
    kn_order: int = 5
    score_sentences: int = 0            # batched scoring over this many test sentences (0 = all)
    single_seconds: float = 15.0        # time spent scoring one sentence at a time
    gen_sentences: int = 20
    gen_words: int = 50
    rss_seconds: float = 30.0
    startup_runs: int = 5
    cache_size: int = 2000              # continuous cache over this many positions, tuned on valid (0 = skip)
    turn_seconds: float = 10.0          # the two budget runs take turns this long (0 = one after the other)
    probe_seconds: float = 3.0          # the best configuration's speed here, measured first (`rnngen.budget`)

    @classmethod
    def quick_settings(cls, corpus: Path = DEFAULT_CORPUS, **overrides) -> "BenchSettings":
        base = cls(corpus=corpus, minutes=0.1, quick=True, roofline_size=1024, throughput_seconds=3.0,
                   throughput_rounds=2, eval_sentences=100, kn_order=3, score_sentences=150, single_seconds=2.0,
                   gen_sentences=3, gen_words=20, rss_seconds=3.0, startup_runs=3, cache_size=200,
                   turn_seconds=2.0, probe_seconds=1.0)
        return replace(base, **overrides)


# -- corpus and configurations --------------------------------------------------
def bench_corpus(path: Path) -> Corpus:
    """The benchmark split, read as pre-tokenized text (one paragraph per line)."""
    if not Path(path).is_dir():
        raise CorpusError(f"no benchmark corpus at {path}: give --corpus DIR with train.txt, valid.txt, test.txt")
    return load_corpus(path, tokenized=True)


def train_vocabulary(corpus: Corpus) -> Vocabulary:
    """Every word of the training split: the vocabulary the benchmark split prescribes."""
    return Vocabulary.build(corpus.train, max_size=None)


def configs_from_dict(spec: dict, corpus: Corpus, minutes: float) -> tuple[ModelConfig, TrainConfig]:
    vocab_size = len(train_vocabulary(corpus))
    model = ModelConfig(vocab_size=vocab_size, **spec["model"]).validate()
    train = TrainConfig(epochs=100_000, max_minutes=minutes, sample_every=0, log_every=5, **spec["train"]).validate()
    return model, train


def on_device(config: TrainConfig, device: torch.device, amp: bool) -> TrainConfig:
    """The run's training settings on `device`; `amp` (the suite's GPU mode) puts every run in bf16."""
    return replace(config, device=str(device), precision="bf16" if amp else config.precision)


def held_out(corpus: Corpus, limit: int) -> Corpus:
    """The corpus with validation and test cut to `limit` sentences (0 keeps them whole)."""
    if not limit:
        return corpus
    return replace(corpus, valid=corpus.valid[:limit], test=corpus.test[:limit])


# -- sections -------------------------------------------------------------------
def machine_info(device: torch.device) -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        model = platform.processor()
    info = {"cpus": os.cpu_count(), "cpu_model": model or platform.processor(), "torch": torch.__version__,
            "threads": torch.get_num_threads(), "device": str(device), "python": platform.python_version(),
            "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        info["load_average_1min"] = os.getloadavg()[0]
    except OSError:
        pass
    return info


def roofline(device: torch.device, size: int) -> dict:
    result = {"fp32": measure.matmul_roofline(device, size, repeats=10)}
    if device.type == "cuda":
        result["bf16"] = measure.matmul_roofline(device, size, dtype=torch.bfloat16)
    result["gflops"] = result["fp32"]["gflops"]
    return result


def flops(corpus: Corpus) -> dict:
    vocab_size = len(train_vocabulary(corpus))
    out = {}
    for spec in (REFERENCE, BEST):
        model, _ = configs_from_dict(spec, corpus, 1.0)
        shares = None
        if model.softmax == "adaptive":
            vocab = train_vocabulary(corpus)
            shares = measure.cluster_shares([vocab.encode(s) for s in corpus.train], vocab_size)
        out[spec["name"]] = {"vocab_size": vocab_size, **measure.model_flops(model, vocab_size, shares)}
    return out


def training_throughput(corpus: Corpus, spec: dict, device: torch.device, seconds: float, rounds: int,
                        amp: bool = False) -> dict:
    """Tokens/s of rnngen's training step (fused and plain output layer) and of the PyTorch recipe, alternating.

    Alternating rounds share out any slowdown from other work on the machine
    evenly, so the ratio of the two stays fair even when the totals do not.
    """
    model_config, train_config = configs_from_dict(spec, corpus, 0.0)
    with tempfile.TemporaryDirectory(prefix="rnngen-bench-") as tmp:
        trainer = Trainer(corpus, model_config, on_device(train_config, device, amp), Path(tmp) / "m")
        vocab = trainer.lm.vocab
        recipe = Recipe(stream_tensor(trainer.train_ids, vocab.bos_id, vocab.eos_id), len(vocab), model_config.emb,
                        model_config.hidden, model_config.layers, model_config.dropout, train_config.batch_size,
                        train_config.bptt, train_config.learning_rate, train_config.clip, device)

        def rnngen_run(budget: float, state: dict, fused: bool) -> tuple[int, float]:
            tokens, start, loss = 0, time.perf_counter(), None
            trainer.fused = fused
            trainer.lm.module.train()
            while time.perf_counter() - start < budget:
                batch = next(state["it"], None)
                if batch is None:
                    state["it"] = iter(batches(train_config.mode, trainer.train_ids, vocab.bos_id, vocab.eos_id,
                                               train_config.batch_size, train_config.bptt, trainer.rng))
                    state["hidden"] = None
                    continue
                loss, state["hidden"] = trainer.step(batch, state["hidden"])
                # positions, not just predicted tokens: every position costs the FLOPs (the recipe counts the same)
                tokens += batch.inputs.numel()
            if loss is not None:
                float(loss)  # wait for the device before stopping the clock
            return tokens, time.perf_counter() - start

        state = {"it": iter(()), "hidden": None}
        paths = {
            "rnngen": lambda budget: rnngen_run(budget, state, True),
            # rnngen's loop with the plain output layer + cross-entropy: the fused layer's before/after
            "rnngen_unfused": lambda budget: rnngen_run(budget, state, False),
            "recipe": recipe.run,
        }
        for run in paths.values():  # warm-up: allocator, thread pool, first-call costs
            run(min(2.0, seconds / 4))
        totals = {name: [0, 0.0] for name in paths}
        per_round = seconds / rounds
        for _ in range(rounds):
            for name, run in paths.items():
                tokens, elapsed = run(per_round)
                totals[name][0] += tokens
                totals[name][1] += elapsed
    rates = {name: t / max(s, 1e-9) for name, (t, s) in totals.items()}
    return {"rnngen_tokens_per_s": rates["rnngen"], "rnngen_unfused_tokens_per_s": rates["rnngen_unfused"],
            "recipe_tokens_per_s": rates["recipe"], "speedup_vs_recipe": rates["rnngen"] / max(rates["recipe"], 1e-9),
            "fused_speedup": rates["rnngen"] / max(rates["rnngen_unfused"], 1e-9), "seconds_each": seconds,
            "rounds": rounds}


def best_for_budget(corpus: Corpus, device: torch.device, minutes: float, amp: bool, eval_limit: int = 0,
                    seconds: float = 3.0) -> tuple[dict, dict]:
    """BEST as it fits this machine's budget: its speed here measured for `seconds`, and the recipe lightened
    where few epochs fit (`rnngen.budget.for_budget`); the spec and what was measured and changed."""
    from rnngen import budget

    model_config, train_config = configs_from_dict(BEST, corpus, minutes)
    fit = budget.measure(held_out(corpus, eval_limit), model_config, on_device(train_config, device, amp), minutes,
                         seconds)
    light_model, light_train, changes = budget.for_budget(model_config, train_config, fit)
    spec = {**BEST, "model": {**BEST["model"], **{k: getattr(light_model, k) for k in BEST["model"]}},
            "train": {**BEST["train"], "schedule": light_train.schedule, "average": light_train.average}}
    return spec, {"tokens_per_s": fit.tokens_per_s, "epochs_fit": fit.epochs, "changes": changes}


def budget_runs(corpus: Corpus, specs: Sequence[dict], device: torch.device, minutes: float, eval_limit: int = 0,
                amp: bool = False, progress: Progress | None = None, cache_size: int = 0,
                turn_seconds: float = 0.0) -> dict[str, dict]:
    """Train each spec for `minutes` of its own time (epoch-end validation included), then evaluate each.

    With `turn_seconds`, the runs take turns of that long on the machine
    (`rnngen.bench.turns`), so a machine that speeds up or slows down during
    the section does so for all of them alike. With `cache_size`, the test
    split is also read with the continuous cache (`rnngen.cache`), its theta
    and weight tuned on the validation split.
    """
    data = held_out(corpus, eval_limit)
    with tempfile.TemporaryDirectory(prefix="rnngen-bench-") as tmp:
        clocks = [OwnClock() for _ in specs]
        trainers, runs = [], []
        for spec, clock in zip(specs, clocks):
            model_config, train_config = configs_from_dict(spec, corpus, minutes)
            trainer = Trainer(data, model_config, on_device(train_config, device, amp), Path(tmp) / spec["name"],
                              clock=clock)
            trainers.append(trainer)
            runs.append(trainer.run())  # each trainer draws from its own generator (`Trainer.generator`)
        logs = [{"rates": [], "epochs": [], "finished": None} for _ in specs]
        for index, event in take_turns(runs, clocks, turn_seconds):
            _record(event, specs[index], trainers[index].config, logs[index], progress)
        results = {}
        for spec, trainer, clock, log in zip(specs, trainers, clocks, logs):
            lm = LanguageModel.load(trainer.out, device)
            valid = lm.evaluate([s for s in data.valid if s])
            test = lm.evaluate([s for s in data.test if s])
            finished = log["finished"]
            results[spec["name"]] = {
                "name": spec["name"], "model": spec["model"], "train": spec["train"], "minutes": minutes,
                "train_seconds": clock(), "turn_seconds": turn_seconds, "epochs": log["epochs"],
                "stopped_by": finished.reason if finished else "",
                "median_tokens_per_s": statistics.median(log["rates"]) if log["rates"] else 0.0,
                "valid_ppl": valid.perplexity, "test_ppl": test.perplexity, "test_tokens": test.tokens,
                "parameters": lm.module.num_parameters(), "lm": lm,
            }
            if cache_size:
                results[spec["name"]]["cache"] = cached_perplexity(lm, data, cache_size)
    return results


def _record(event, spec: dict, config: TrainConfig, log: dict, progress: Progress | None) -> None:
    """Keep what the result reports of one training event."""
    if isinstance(event, BatchDone) and event.batch > config.log_every:
        log["rates"].append(event.tokens_per_s)
    elif isinstance(event, EpochDone):
        log["epochs"].append({"epoch": event.epoch, "valid_ppl": event.valid_ppl, "lr": event.lr,
                              "elapsed_s": event.elapsed_s})
        if progress:
            progress(f"{spec['name']}: epoch {event.epoch} valid ppl {event.valid_ppl:.1f}")
    elif isinstance(event, Finished):
        log["finished"] = event


def cached_perplexity(lm: LanguageModel, corpus: Corpus, size: int) -> dict:
    """Test perplexity with the continuous cache, its settings chosen on the validation split."""
    start = time.perf_counter()
    settings, valid_ppl = lm.tune_cache([s for s in corpus.valid if s], size)
    test = lm.evaluate([s for s in corpus.test if s], cache=settings)
    return {"size": settings.size, "theta": settings.theta, "weight": settings.weight, "valid_ppl": valid_ppl,
            "test_ppl": test.perplexity, "seconds": time.perf_counter() - start}


def kneser_ney(corpus: Corpus, order: int, eval_limit: int = 0) -> dict:
    vocab = train_vocabulary(corpus)
    start = time.perf_counter()
    model = KneserNey(corpus.train, vocab, order)
    fit_s = time.perf_counter() - start
    test = [s for s in held_out(corpus, eval_limit).test if s]
    start = time.perf_counter()
    logprobs = [lp for s in test for lp in model.sentence_logprob(s)]
    score_s = time.perf_counter() - start
    return {"order": order, "test_ppl": math.exp(-math.fsum(logprobs) / len(logprobs)), "fit_s": fit_s,
            "tokens_per_s": len(logprobs) / score_s, "sentences_per_s": len(test) / score_s,
            "test_tokens": len(logprobs), "discounts": [list(o.discounts) for o in model.orders[1:]],
            "estimator": "interpolated modified Kneser-Ney (lmplz's, unpruned; rnngen.bench.kneser_ney)"}


def interpolated(lm: LanguageModel, corpus: Corpus, order: int, eval_limit: int = 0, cache_size: int = 0) -> dict:
    """The best model mixed word by word with a Kneser-Ney n-gram over its own vocabulary (`--ngram`), λ tuned
    on the validation split; with `cache_size`, the continuous cache joins the same mixture (tuned on valid)."""
    from rnngen.mixture import Mixture
    from rnngen.ngram import NgramModel

    start = time.perf_counter()
    data = held_out(corpus, eval_limit)
    mixture = Mixture(lm, NgramModel.estimate(corpus, order, lm.model_config.vocab_size))
    valid, test = [s for s in data.valid if s], [s for s in data.test if s]
    mixture.tune(valid, "valid")
    parts = mixture.evaluate_parts(test)
    row = {"order": order, "lambda": mixture.lam, "same_vocabulary": mixture.same_vocabulary,
           "rnn_by_line_test_ppl": parts.rnn.perplexity, "ngram_test_ppl": parts.ngram.perplexity,
           "test_ppl": parts.combined.perplexity}
    if cache_size:
        settings, _ = mixture.tune_cache(valid, cache_size)
        row["cache"] = {"size": settings.size, "theta": settings.theta, "weight": settings.weight,
                        "test_ppl": mixture.evaluate(test, settings).perplexity}
    row["seconds"] = time.perf_counter() - start
    return row


def scoring(lm: LanguageModel, sentences: Sequence[Sequence[str]], single_seconds: float) -> dict:
    """Batched scoring of all `sentences`, and one at a time for `single_seconds` over the same list."""
    sentences = [s for s in sentences if s]
    lm.score_tokens(sentences[:8])  # warm-up
    start = time.perf_counter()
    batched = lm.score_tokens(sentences)
    batched_s = time.perf_counter() - start
    tokens = sum(s.num_tokens for s in batched)
    single_tokens, single_count, diff = 0, 0, 0.0
    start = time.perf_counter()
    while single_count < len(sentences) and time.perf_counter() - start < single_seconds:
        one = lm.score_tokens([sentences[single_count]])[0]
        diff = max(diff, abs(one.logprob - batched[single_count].logprob))
        single_tokens += one.num_tokens
        single_count += 1
    single_s = time.perf_counter() - start
    batched_rate = tokens / batched_s
    single_rate = single_tokens / max(single_s, 1e-9)
    return {
        "batched": {"sentences": len(sentences), "tokens": tokens, "seconds": batched_s,
                    "sentences_per_s": len(sentences) / batched_s, "tokens_per_s": batched_rate},
        "single": {"sentences": single_count, "tokens": single_tokens, "seconds": single_s,
                   "sentences_per_s": single_count / max(single_s, 1e-9), "tokens_per_s": single_rate},
        "speedup": batched_rate / max(single_rate, 1e-9),
        "max_abs_logprob_difference": diff,
    }


def generation(corpus: Corpus, device: torch.device, sentences: int, words: int) -> dict:
    """Latency of the `small` preset (its 8,000-word vocabulary from this corpus) generating word by word.

    The weights are untrained: the cost of a step does not depend on their
    values, and an untrained model never ends a sentence early.
    """
    model_config, _ = PRESETS["small"]
    vocab = Vocabulary.build(corpus.train, model_config.vocab_size)
    torch.manual_seed(0)
    lm = LanguageModel.new(model_config, vocab, corpus.settings)
    lm.module.to(device).eval()
    settings = SamplingSettings(max_words=words, seed=1)

    def timings(count: int) -> tuple[list[float], list[float]]:
        first, per_word = [], []
        for n in range(count):
            prompt = "The" if n % 2 else ""
            start = time.perf_counter()
            last = start
            for i, _ in enumerate(lm.generate(prompt, settings, count=1, alternatives=5)):
                now = time.perf_counter()
                (first if i == 0 else per_word).append(now - (start if i == 0 else last))
                last = now
        return first, per_word

    first, per_word = timings(sentences)
    # Before/after of the cell-by-cell inference path: the same words through nn.LSTM.
    lm.module.cell_path = False
    try:
        _, module_per_word = timings(min(2, sentences))
    finally:
        lm.module.cell_path = True
    return {"preset": "small", "vocab_size": len(vocab), "sentences": sentences, "words": len(first) + len(per_word),
            "first_word_ms": 1000 * statistics.median(first), "first_word_max_ms": 1000 * max(first),
            "ms_per_word": 1000 * statistics.mean(per_word) if per_word else 0.0, "alternatives": 5,
            "ms_per_word_without_cell_path": 1000 * statistics.mean(module_per_word) if module_per_word else 0.0}


# -- the whole suite ------------------------------------------------------------
def run_suite(settings: BenchSettings, progress: Progress | None = None) -> dict:
    """Every section in order; the result is JSON-ready (after `to_json`)."""
    say = progress or (lambda _msg: None)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = select_device(settings.device)
    amp = device.type == "cuda"
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def timed(name: str, fn):
        say(f"{name}…")
        t = time.perf_counter()
        value = fn()
        timings[name] = time.perf_counter() - t
        say(f"{name}: {timings[name]:.1f} s")
        return value

    corpus = timed("corpus", lambda: bench_corpus(settings.corpus))
    result: dict = {"settings": {**asdict(settings), "corpus": str(settings.corpus)},
                    "machine": machine_info(device), "amp_bf16": amp}
    result["roofline"] = timed("roofline", lambda: roofline(device, settings.roofline_size))
    result["flops"] = timed("flops", lambda: flops(corpus))
    result["throughput"] = timed("throughput", lambda: training_throughput(
        corpus, REFERENCE, device, settings.throughput_seconds, settings.throughput_rounds, amp))
    best, chosen = timed("budget probe", lambda: best_for_budget(corpus, device, settings.minutes, amp,
                                                                 settings.eval_sentences, settings.probe_seconds))
    runs = timed("train reference and best", lambda: budget_runs(
        corpus, (REFERENCE, best), device, settings.minutes, settings.eval_sentences, amp, say, settings.cache_size,
        settings.turn_seconds))
    result["training"] = {name: {k: v for k, v in run.items() if k != "lm"} for name, run in runs.items()}
    result["training"]["best"]["budget"] = chosen
    result["kneser_ney"] = timed("kneser-ney", lambda: kneser_ney(corpus, settings.kn_order, settings.eval_sentences))
    result["interpolated"] = timed("best + kneser-ney", lambda: interpolated(
        runs["best"]["lm"], corpus, settings.kn_order, settings.eval_sentences, settings.cache_size))
    test = [s for s in corpus.test if s]
    if settings.score_sentences:
        test = test[: settings.score_sentences]
    result["scoring"] = timed("scoring", lambda: scoring(runs["reference"]["lm"], test, settings.single_seconds))
    result["generation"] = timed("generation", lambda: generation(corpus, device, settings.gen_sentences,
                                                                 settings.gen_words))
    result["memory"] = timed("memory", lambda: measure.peak_rss_of_training(
        settings.corpus, settings.rss_seconds, REFERENCE, settings.eval_sentences))
    result["startup"] = timed("startup", lambda: measure.startup_time(settings.startup_runs))
    # Measured again at the end, and the better of the two kept: a roofline caught during a moment of
    # outside load would flatter every fraction of it.
    again = timed("roofline again", lambda: roofline(device, settings.roofline_size))
    result["roofline"]["fp32_end"] = again["fp32"]
    result["roofline"]["gflops"] = max(result["roofline"]["gflops"], again["gflops"])
    result["section_seconds"] = timings
    result["total_seconds"] = time.perf_counter() - started
    result["targets"] = targets(result)
    return result


def targets(result: dict) -> list[dict]:
    """The issue's targets, each as value, threshold and whether it is met."""
    roof = result["roofline"]["gflops"]
    flops_ref = result["flops"]["reference"]["train"]
    train_gflops = result["throughput"]["rnngen_tokens_per_s"] * flops_ref / 1e9
    recipe_gflops = result["throughput"]["recipe_tokens_per_s"] * flops_ref / 1e9
    result["throughput"]["rnngen_fraction_of_roofline"] = train_gflops / roof
    result["throughput"]["recipe_fraction_of_roofline"] = recipe_gflops / roof
    ref, best = result["training"]["reference"], result["training"]["best"]
    kn = result["kneser_ney"]["test_ppl"]
    score, gen = result["scoring"], result["generation"]
    rows = [
        ("reference training, fraction of matmul roofline", train_gflops / roof, ">=", 0.60),
        ("best test ppl / reference test ppl", best["test_ppl"] / ref["test_ppl"], "<=", 0.80),
        ("best test ppl / Kneser-Ney test ppl", best["test_ppl"] / kn, "<", 1.0),
    ]
    if "cache" in best and "cache" in ref:
        # not a target of the issue's: the same comparison with both models reading the test text with a cache
        rows.append(("best + cache / reference + cache test ppl", best["cache"]["test_ppl"] / ref["cache"]["test_ppl"],
                     "<=", 0.80))
    rows += [
        ("batched / one-at-a-time scoring (tokens/s)", score["speedup"], ">=", 20.0),
        ("batched scoring tokens/s (reference)", score["batched"]["tokens_per_s"], ">=", 50_000.0),
        ("generation ms/word (small)", gen["ms_per_word"], "<=", 5.0),
        ("generation first word ms (small)", gen["first_word_ms"], "<", 100.0),
        ("rnngen --help seconds (median)", result["startup"]["median_s"], "<", 0.5),
        ("training peak RSS MB", result["memory"]["peak_rss_mb"], "<", 1536.0),
    ]
    check = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "<": lambda a, b: a < b}
    return [{"target": name, "value": value, "op": op, "threshold": threshold, "met": check[op](value, threshold)}
            for name, value, op, threshold in rows]
