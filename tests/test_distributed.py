"""Distributed training: each rank's share of the data, 2 ranks x B/2 = 1 process x B, `--nproc`, torchrun on
two "nodes", a rank that dies, and the one-line refusals. Real processes, gloo on 127.0.0.1."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from rnngen import data
from rnngen.display import fmt_ppl
from rnngen.errors import ExitCode
from tests._inprocess import main_here
from tests.conftest import tiny_corpus

RNNGEN = [sys.executable, "-m", "rnngen"]
SMALL = ["--tokenized", "--preset", "small", "--hidden", "32", "--emb", "16", "--layers", "1", "--batch-size", "4",
         "--bptt", "16", "--mode", "stream", "--sample-every", "0", "--quiet"]
WORDS = "the cat dog sat on mat log a saw ran to big small red blue house tree under over".split()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def varied(n: int, seed: int) -> list[list[str]]:
    """`n` sentences of 3 to 12 words: unequal lengths, so ranks' sentence shares differ in batches."""
    rng = random.Random(seed)
    return [[rng.choice(WORDS) for _ in range(rng.randint(3, 12))] + ["."] for _ in range(n)]


@pytest.fixture()
def corpus_dir(tmp_path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    for split, n, seed in (("train", 600, 1), ("valid", 60, 2), ("test", 60, 3)):
        (folder / f"{split}.txt").write_text("\n".join(" ".join(s) for s in varied(n, seed)) + "\n")
    return folder


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("rnngen: error:")]


# -- each rank's share ----------------------------------------------------------------------------------
def test_stream_shards_are_the_rows_of_the_one_process_layout():
    ids = [[random.Random(i).randrange(3, 50) for _ in range(i % 9 + 1)] for i in range(300)]
    whole = list(data.stream_batches(ids, 1, 2, 8, 12, offset=5))
    shards = [list(data.stream_batches(ids, 1, 2, 4, 12, offset=5, rank=r, world=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == len(whole) == data.count_stream_batches(ids, 4, 12, 5, world=2)
    for one, a, b in zip(whole, *shards):
        assert torch.equal(one.inputs, torch.cat([a.inputs, b.inputs])) and a.reset == one.reset
        assert torch.equal(one.targets, torch.cat([a.targets, b.targets]))
    stream = data.stream_tensor(ids, 1, 2).long()
    columns = (stream.numel() - 1) // 8  # rank 1's first row is the text right after rank 0's rows: contiguous
    assert torch.equal(torch.cat([b.inputs for b in shards[1]], dim=1)[0], stream[4 * columns : 5 * columns])
    evaluation = [list(data.evaluation_batches("stream", ids, 1, 2, 4, 12, r, 2)) for r in range(2)]
    whole = list(data.evaluation_batches("stream", ids, 1, 2, 8, 12))
    assert len(evaluation[0]) == len(evaluation[1]) == len(whole)
    for a, b, one in zip(*evaluation, whole):
        assert torch.equal(torch.cat([a.targets, b.targets]), one.targets)


def test_sentence_shares_cover_every_sentence_once_in_equal_counts_and_keep_the_rngs_equal():
    sentences = [[5 + (i * 7 + j) % 40 for j in range(len(s))] for i, s in enumerate(varied(101, 4))]
    bptt, batch = 4, 3
    chunks = [sum(-(-(max(len(sentences[i]) for i in g) + 1) // bptt)
                  for g in data.length_buckets([len(s) for s in sentences], batch, rank=r, world=2)) for r in range(2)]
    assert chunks[0] != chunks[1]  # unequal shares: the shorter one is padded
    steps = data.count_batches("sentences", sentences, batch, bptt, world=2)
    assert steps == max(chunks)
    rngs, seen, tokens = [], [], 0
    for rank in range(2):
        rng = random.Random(9)
        share = list(data.batches("sentences", sentences, 1, 2, batch, bptt, rng, rank=rank, world=2))
        assert len(share) == steps  # every rank steps as often: none waits for ever in an all-reduce
        assert sum(isinstance(b, data.Idle) for b in share) == steps - chunks[rank]
        assert all(b.num_tokens == 0 for b in share if isinstance(b, data.Idle))
        rngs.append(rng.random())
        tokens += sum(b.num_tokens for b in share)
        seen += [tuple(row[row != data.IGNORE].tolist()) for b in share if b.reset and not isinstance(b, data.Idle)
                 for row in b.inputs[:, 1:]]
    alone = random.Random(9)
    one = list(data.batches("sentences", sentences, 1, 2, batch, bptt, alone))
    assert rngs[0] == rngs[1] == alone.random()  # the same draws as one process: samples and epochs stay in step
    assert tokens == sum(b.num_tokens for b in one) == sum(len(s) + 1 for s in sentences)


# -- the trainer in two processes -----------------------------------------------------------------------
def _rank(rank: int, world: int, port: int, jobs: list[dict]) -> None:
    """One rank (spawned): join the run, then train each job through the engine's Trainer."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    from rnngen import distributed
    from rnngen.train import Trainer

    context = distributed.start()
    for job in jobs:
        for _ in Trainer(job["corpus"], job["model"], job["train"], job["out"], context=context).run():
            pass
    context.close()


def spawn(world: int, jobs: list[dict], timeout: float = 120) -> None:
    import torch.multiprocessing as mp

    ranks = mp.start_processes(_rank, args=(world, free_port(), jobs), nprocs=world, join=False, start_method="spawn")
    deadline = time.monotonic() + timeout
    while not ranks.join(timeout=1):
        if time.monotonic() > deadline:
            for process in ranks.processes:
                process.kill()
            pytest.fail(f"the ranks did not finish in {timeout} s")


def test_two_ranks_of_half_the_batch_train_the_weights_of_one_process_of_the_whole(tmp_path):
    from rnngen.config import ModelConfig, TrainConfig
    from rnngen.corpus.base import Corpus
    from rnngen.lm import LanguageModel
    from rnngen.tokenize import TokenizerSettings
    from rnngen.train import Trainer

    model = ModelConfig(rnn_type="lstm", vocab_size=100, emb=16, hidden=32, layers=1, dropout=0.0)
    stream = dict(epochs=2, bptt=16, mode="stream", sample_every=0, seed=7, patience=0, lr=0.01)
    words = varied(120, 5)
    uneven = Corpus("varied", words, words[:20], words[:20], TokenizerSettings.pretokenized(), source="tests",
                    fingerprint="varied")
    jobs = [dict(corpus=tiny_corpus(), model=model, train=TrainConfig(batch_size=4, **stream), out=tmp_path / "two"),
            # sentence batches of unequal counts per rank: the run must end, not hang
            dict(corpus=uneven, model=model, train=TrainConfig(batch_size=3, bptt=4, epochs=1, sample_every=0),
                 out=tmp_path / "uneven")]
    spawn(2, jobs)
    for _ in Trainer(tiny_corpus(), model, TrainConfig(batch_size=8, **stream), tmp_path / "one").run():
        pass
    two, one = LanguageModel.load(tmp_path / "two"), LanguageModel.load(tmp_path / "one")
    assert two.train_config.nproc == 2 and one.train_config.nproc == 1
    weights = two.module.state_dict()
    for name, value in one.module.state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=1e-4, atol=1e-5, msg=name)
    for a, b in zip(two.history["epochs"], one.history["epochs"]):  # the losses all-reduced are the whole batch's
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["valid_ppl"] == pytest.approx(b["valid_ppl"], rel=1e-5)
    assert LanguageModel.load(tmp_path / "uneven").history["epochs"][0]["epoch"] == 1


# -- through the command --------------------------------------------------------------------------------
def test_nproc_run_survives_a_dead_rank_resumes_and_scores_as_a_one_process_eval(corpus_dir, tmp_path):
    """A rank SIGKILLed after the first checkpoint: one line, the checkpoint intact; --resume goes on in 2
    processes; `rnngen eval` in one process prints the perplexity the run recorded."""
    out = tmp_path / "m"
    launcher = subprocess.Popen([*RNNGEN, "train", str(corpus_dir), "--out", str(out), "--nproc", "2", "--epochs",
                                 "1000", "--patience", "0", *SMALL], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while not (out / "config.json").exists():
            assert launcher.poll() is None and time.monotonic() < deadline, "no checkpoint came"
            time.sleep(0.1)
        ranks = {rank_of(pid): pid for pid in children(launcher.pid)}
        assert sorted(ranks) == ["0", "1"]
        os.kill(ranks["1"], signal.SIGKILL)
        _, stderr = launcher.communicate(timeout=60)
    finally:
        launcher.kill()
    assert launcher.returncode == ExitCode.PROCESS_FAILED, stderr
    assert "Traceback" not in stderr and "distributed: 2 processes (gloo), batch size 4 in each" in stderr
    assert len(error_lines(stderr)) == 1 and stderr.strip().splitlines()[-1] == error_lines(stderr)[0], stderr
    assert re.search(r"process 1 of 2 \(pid \d+\) was killed by SIGKILL, so the others were stopped; the last "
                     rf"checkpoint in {re.escape(str(out))} \(epoch \d+, validation perplexity [\d.]+\) is intact",
                     stderr), stderr
    scored = main_here("eval", str(out), str(corpus_dir), "--split", "valid", "--json")
    assert scored.returncode == 0, scored.stderr
    saved = json.loads((out / "history.json").read_text())
    assert fmt_ppl(json.loads(scored.stdout)["perplexity"]) == fmt_ppl(saved["best_valid_ppl"])

    last = max(h["epoch"] for h in saved["epochs"])
    resumed = subprocess.run([*RNNGEN, "train", str(corpus_dir), "--out", str(out), "--resume", "--epochs",
                              str(last + 1), "--quiet"], capture_output=True, text=True, timeout=120)
    assert resumed.returncode == 0, resumed.stderr
    assert "distributed: 2 processes (gloo)" in resumed.stderr  # the model's own nproc, as --resume keeps settings
    assert f"resuming after epoch {last}" in resumed.stderr
    best = re.search(r"done \(epochs\)[\s\S]*?best\s+validation\s+perplexity\s+([\d.]+)", resumed.stderr).group(1)
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]][-1] == last + 1 and history["train_config"]["nproc"] == 2
    scored = main_here("eval", str(out), str(corpus_dir), "--split", "valid", "--json")
    assert fmt_ppl(json.loads(scored.stdout)["perplexity"]) == best  # exact to the digits printed


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rpartition(")")[2].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, IndexError):
                pass
    return found


def rank_of(pid: int) -> str:
    env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return next(v.split(b"=", 1)[1].decode() for v in env if v.startswith(b"RANK="))


def test_two_nodes_on_one_machine_through_torchrun(corpus_dir, tmp_path):
    """Two torchrun invocations, --nnodes 2, one process each, rendezvous (c10d) on 127.0.0.1: one run."""
    out, port = tmp_path / "nodes", free_port()
    node = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
            "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "rnngen-test",
            "-m", "rnngen", "train", str(corpus_dir), "--out", str(out), "--epochs", "1", *SMALL]
    nodes = [subprocess.Popen([*node[:3], "--log-dir", str(tmp_path / "logs" / str(i)), *node[3:]],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    try:
        results = [n.communicate(timeout=120) for n in nodes]
    finally:
        for n in nodes:
            n.kill()
    assert [n.returncode for n in nodes] == [0, 0], results
    shown = [err for _, err in results if "distributed: 2 processes (gloo)" in err]
    assert len(shown) == 1 and "best validation perplexity" in shown[0]  # rank 0 speaks; the other is quiet
    assert json.loads((out / "config.json").read_text())["train"]["nproc"] == 2
    assert list(tmp_path.rglob("config.json")) == [out / "config.json"]  # one checkpoint, rank 0's


# -- refusals -------------------------------------------------------------------------------------------
def test_more_processes_than_cores_is_one_line_before_anything_starts(corpus_dir, tmp_path):
    from rnngen.hardware import usable_cores

    cores = usable_cores()
    result = main_here("train", str(corpus_dir), "--out", str(tmp_path / "m"), "--nproc", str(cores + 1), *SMALL)
    assert result.returncode == ExitCode.USER_ERROR
    assert result.stderr.strip() == (f"rnngen: error: --nproc {cores + 1} is more processes than the {cores} CPU "
                                     f"cores this process may use: use --nproc {cores} or fewer")
    assert not (tmp_path / "m").exists()


def test_the_launcher_names_the_process_that_failed_not_the_ones_it_stopped(tmp_path):
    from rnngen.launch import failure

    def died(code: int, stamp: int, pid: int = 7) -> SimpleNamespace:
        return SimpleNamespace(exitcode=code, timestamp=stamp, pid=pid,
                               signal_name=lambda: signal.Signals(-code).name if code < 0 else "")

    stopped, lost = died(-signal.SIGTERM, 1), died(ExitCode.PROCESS_FAILED, 1)
    said = failure({0: stopped, 1: died(-signal.SIGKILL, 2, pid=42), 2: lost}, 3, tmp_path / "none")
    assert said.code == ExitCode.PROCESS_FAILED
    assert said.message.startswith("process 1 of 3 (pid 42) was killed by SIGKILL, so the others were stopped; "
                                   f"no checkpoint was saved in {tmp_path / 'none'} yet")
    assert failure({0: died(ExitCode.USER_ERROR, 1), 1: stopped}, 2, tmp_path).message is None  # rank 0 said it
    assert "exited with status 1 (its traceback is above)" in failure({1: died(1, 1)}, 2, tmp_path).message
