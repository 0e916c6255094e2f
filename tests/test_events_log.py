"""Training events as JSON lines: the round trip, the writer, the follower, and `rnngen train --events`."""

from __future__ import annotations

import json
import math
import os
from dataclasses import fields
from pathlib import Path

import pytest

from rnngen import events
from rnngen.errors import RnngenError
from rnngen.events import EventFollower, EventWriter, from_json, read_events, to_json
from tests._inprocess import main_here
from tests.test_cli import assert_clean_error, cli

INF, NAN = math.inf, math.nan

EXAMPLES = [
    events.Started(3, 40, 1200, 99, 12345, "cpu"),
    events.Started(5, 40, 1200, 99, 12345, "cuda:0", 3, (
        {"epoch": 1, "train_loss": 4.5, "valid_loss": 4.25, "valid_ppl": 70.1, "lr": 20.0, "elapsed_s": 1.5},
        {"epoch": 2, "train_loss": INF, "valid_loss": INF, "valid_ppl": INF, "lr": 5.0, "elapsed_s": 3.0})),
    events.BatchDone(1, 20, 40, 4.123456789, 0.001, 5432.1, 12.5, INF),
    events.Gradients(1, 20, 40, (0.5, 7.25, INF, -INF), 0.25, 3),
    events.EpochDone(2, 4.0, 4.5, 90.0171313, 5.0, True, 33.0, 4, 40),
    events.EpochDone(3, 4.0, INF, INF, 5.0, False, 33.0),
    events.Sample(1, 5, 'the "cat" sat on the mat .\nnan inf \u2028 ünï'),
    events.Checkpointed(Path("/tmp/models/tiny"), 2, 90.5),
    events.Finished("early-stop", 3, 88.25, Path("checkpoints/tiny"), 61.0),
]


def same(a: object, b: object) -> bool:
    """Equal, with nan equal to nan (which `==` never says)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(same(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    return type(a) is type(b) and a == b


def test_every_event_type_is_exercised():
    assert {type(e) for e in EXAMPLES} == set(events.EVENTS.values())


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: type(e).__name__)
def test_each_event_round_trips_through_one_line_of_standard_json(event):
    line = to_json(event)
    assert "\n" not in line
    record = json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert record["event"] == type(event).__name__
    assert same(from_json(line), event)


def test_non_finite_floats_are_strings_and_come_back_as_floats_only_where_numbers_belong():
    nan_batch = events.BatchDone(1, 2, 3, NAN, 0.1, INF, 1.0, -INF)
    record = json.loads(to_json(nan_batch))
    assert (record["loss"], record["tokens_per_s"], record["eta_s"]) == ("nan", "inf", "-inf")
    back = from_json(to_json(nan_batch))
    assert math.isnan(back.loss) and back.tokens_per_s == INF and back.eta_s == -INF
    assert from_json(to_json(events.Sample(1, 1, "nan"))).text == "nan"  # text stays text
    assert isinstance(from_json(to_json(events.Checkpointed(Path("p"), 1, 2.0))).path, Path)


def test_unknown_fields_are_ignored_unknown_events_are_none_and_bad_lines_raise():
    record = json.loads(to_json(EXAMPLES[0]))
    assert from_json(json.dumps({**record, "rank": 3, "future": [1, 2]})) == EXAMPLES[0]
    assert from_json('{"event": "Evaluated", "epoch": 1}') is None
    for bad in ('{"event": "BatchDone", "epoch": 1}',  # fields missing
                '{"event": "Sample", "epoch": "one", "batch": 1, "text": "x"}',  # a wrong type
                '{"event": "Sample", "epoch": true, "batch": 1, "text": "x"}',  # a bool is not an int
                '{"epoch": 1}', "[1, 2]", "not json", '{"event": "Finish'):
        with pytest.raises(ValueError):
            from_json(bad)


def test_writer_writes_each_line_whole_at_once_and_a_fresh_run_empties_the_file(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_text("an older run\n")
    with EventWriter(path) as writer:
        assert path.read_text() == "an older run\n"  # emptied only when the new run's first event comes
        for n, event in enumerate(EXAMPLES[:3], 1):
            writer.write(event)
            lines = path.read_bytes().split(b"\n")  # read by another handle at once: nothing is buffered
            assert len(lines) == n + 1 and lines[-1] == b""
            assert same(from_json(lines[-2]), event)
    with EventWriter(path, append=True) as writer:  # --resume
        writer.write(EXAMPLES[-1])
    assert [type(e).__name__ for e in read_events(path)] == ["Started", "Started", "BatchDone", "Finished"]


def test_writer_refuses_a_missing_folder_or_a_folder_with_a_message(tmp_path):
    with pytest.raises(RnngenError, match=f"no folder {tmp_path / 'nope'}"):
        EventWriter(tmp_path / "nope" / "ev.jsonl")
    with pytest.raises(RnngenError, match="it is a folder"):
        EventWriter(tmp_path)


def test_follower_reads_whole_lines_only_and_waits_for_a_partial_last_line(tmp_path):
    path = tmp_path / "ev.jsonl"
    first, second = to_json(EXAMPLES[0]) + "\n", to_json(EXAMPLES[2]) + "\n"
    path.write_text(first + second[:17])
    follower = EventFollower(path)
    read = follower.poll()
    assert read.events == (EXAMPLES[0],) and not read.restarted and not read.more
    assert follower.poll().events == ()
    with path.open("a") as f:
        f.write(second[17:])
    assert follower.poll().events == (EXAMPLES[2],)
    assert follower.bad == follower.unknown == 0


def test_follower_skips_and_counts_bad_lines_and_unknown_events(tmp_path):
    path = tmp_path / "ev.jsonl"
    lines = [to_json(EXAMPLES[0]).encode(), b"garbage", b"", b'{"event": "Evaluated", "x": 1}', b"\xff\xfe",
             b'{"event": "BatchDone"}', to_json(EXAMPLES[-1]).encode()]
    path.write_bytes(b"\n".join(lines) + b"\n")
    follower = EventFollower(path)
    assert follower.poll().events == (EXAMPLES[0], EXAMPLES[-1])
    assert (follower.bad, follower.unknown) == (3, 1)


def test_follower_starts_over_when_the_file_is_emptied_or_replaced(tmp_path):
    path = tmp_path / "ev.jsonl"
    with EventWriter(path) as writer:
        for event in EXAMPLES[:4]:
            writer.write(event)
    follower = EventFollower(path)
    assert len(follower.poll().events) == 4
    with EventWriter(path) as writer:  # a new run over the same file: truncated, shorter
        writer.write(EXAMPLES[0])
    read = follower.poll()
    assert read.restarted and read.events == (EXAMPLES[0],)
    assert not follower.poll().restarted
    new = tmp_path / "new.jsonl"  # replaced by another file (a copy, a rename), longer than what was read
    with EventWriter(new) as writer:
        for event in EXAMPLES[5:]:
            writer.write(event)
    os.replace(new, path)
    read = follower.poll()
    assert read.restarted and read.events == tuple(EXAMPLES[5:])


def test_follower_notices_a_file_rewritten_in_place_past_the_point_it_had_read(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_text(to_json(EXAMPLES[2]) + "\n")
    follower = EventFollower(path)
    assert follower.poll().events == (EXAMPLES[2],)
    path.write_text("".join(to_json(e) + "\n" for e in EXAMPLES[5:]))  # same inode, longer: between two polls
    read = follower.poll()
    assert read.restarted and read.events == tuple(EXAMPLES[5:])


def test_follower_reads_a_long_file_in_steps(tmp_path, monkeypatch):
    path = tmp_path / "ev.jsonl"
    batches = [events.BatchDone(1, n, 500, 4.0, 0.1, 100.0, n, 1.0) for n in range(1, 501)]
    path.write_text("".join(to_json(e) + "\n" for e in batches))
    monkeypatch.setattr(EventFollower, "CHUNK", 4096)
    follower = EventFollower(path)
    first = follower.poll()
    assert first.more and 0 < len(first.events) < 500
    assert read_events(path) == batches


def test_follower_says_a_missing_file_in_one_line(tmp_path):
    with pytest.raises(RnngenError, match="cannot read the events file .*: no such file"):
        EventFollower(tmp_path / "nope.jsonl").poll()


def test_logged_writes_then_passes_on_and_closes_the_run_when_stopped_early(tmp_path):
    closed = []

    def run():
        try:
            yield from EXAMPLES[:3]
        finally:
            closed.append(True)

    writer = EventWriter(tmp_path / "ev.jsonl")
    stream = events.logged(run(), writer)
    assert next(stream) == EXAMPLES[0]
    stream.close()
    assert closed == [True] and writer._fd is None
    assert read_events(tmp_path / "ev.jsonl") == [EXAMPLES[0]]


@pytest.fixture()
def text_corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text("the cat sat on the mat .\nthe dog sat on the log .\na cat saw a dog .\n" * 40)
    return path


SHAPE = ("--tokenized", "--preset", "small", "--hidden", "16", "--emb", "16", "--layers", "1", "--batch-size", "8",
         "--log-every", "2", "--quiet", "--threads", "1")


def test_train_events_writes_the_whole_run_and_resume_appends(text_corpus, tmp_path):
    out, path = tmp_path / "m", tmp_path / "ev.jsonl"
    done = main_here("train", str(text_corpus), "--out", str(out), "--epochs", "1", "--events", str(path), *SHAPE)
    assert done.returncode == 0, done.stderr
    run = read_events(path)
    kinds = [type(e).__name__ for e in run]
    assert kinds[0] == "Started" and kinds[-1] == "Finished" and "EpochDone" in kinds and "Checkpointed" in kinds
    started = run[0]
    assert kinds.count("BatchDone") == -(-started.batches_per_epoch // 2)  # every 2nd batch and the last: all
    assert run[-1].path == out and run[-1].epochs_run == 1
    resumed = main_here("train", str(text_corpus), "--out", str(out), "--epochs", "2", "--resume", "--events",
                        str(path), *SHAPE)
    assert resumed.returncode == 0, resumed.stderr
    both = read_events(path)
    assert both[:len(run)] == run
    again = both[len(run)]
    assert isinstance(again, events.Started) and again.start_epoch == 2 and len(again.earlier) == 1
    assert isinstance(both[-1], events.Finished) and both[-1].epochs_run == 1


def test_train_events_in_a_missing_folder_is_one_line_and_exit_2(text_corpus, tmp_path):
    bad = tmp_path / "no" / "ev.jsonl"
    result = main_here("train", str(text_corpus), "--out", str(tmp_path / "m"), "--epochs", "1", "--events",
                       str(bad), *SHAPE)
    assert_clean_error(result, f"cannot write the events file {bad}: no folder {bad.parent}")
    assert len([line for line in result.stderr.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "m").exists()
    folder = main_here("train", str(text_corpus), "--out", str(tmp_path / "m"), "--epochs", "1", "--events",
                       str(tmp_path), *SHAPE)
    assert_clean_error(folder, "it is a folder")


def test_train_events_through_the_installed_command(text_corpus, tmp_path):
    """`python -m rnngen` (a real process, as on a server): the file parses back into Started … Finished."""
    path = tmp_path / "ev.jsonl"
    done = cli("train", str(text_corpus), "--out", str(tmp_path / "m"), "--epochs", "1", "--events", str(path),
               *SHAPE)
    assert done.returncode == 0, done.stderr
    run = read_events(path)
    assert isinstance(run[0], events.Started) and isinstance(run[-1], events.Finished)
    assert run[-1].reason == "epochs"
