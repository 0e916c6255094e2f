"""`rnngen rerank` through the real entry point: output formats, warnings, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from rnngen import rerank as engine
from rnngen.cli import main
from rnngen.cli import rerank as command
from tests.test_rerank import FIXTURES, expected_feature, num


def run(capsys, *args: str) -> tuple[int, list[str], list[str]]:
    code = main(["rerank", *args])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), [line for line in captured.err.splitlines() if line.strip()]


def test_cli_choices_match_the_engine():
    assert command.FORMATS == engine.FORMATS and command.OUTPUTS == engine.OUTPUTS


def test_moses_list_is_reranked_in_its_own_format(tiny_lm_path, capsys):
    code, out, err = run(capsys, str(tiny_lm_path), str(FIXTURES / "labelled.moses"), "--weight", "0.25")
    assert code == 0 and err == []
    assert len(out) == 6 and all(" LM_rnn= " in line for line in out)
    assert [line.split(" ||| ")[0] for line in out] == ["0", "0", "0", "3", "3", "7"]
    assert out[-1].startswith("7 ||| the dog ran to the log .  ||| LM0= -13 TM0= -2 -2 WordPenalty0= -7 LM_rnn= ")


def test_best_prints_one_line_per_id_in_id_order(tiny_lm, tiny_lm_path, capsys):
    code, out, err = run(capsys, str(tiny_lm_path), str(FIXTURES / "groups.lines"), "--output", "best")
    assert code == 0 and err == []
    assert out == [max(["the dog saw the cat .", "dog the saw cat the .", "the dog saw the cats ."],
                       key=lambda t: expected_feature(tiny_lm, t)),
                   max(["a cat sat on a mat .", "a cat sat on mat a ."], key=lambda t: expected_feature(tiny_lm, t))]


def test_json_output_and_normalisation_options(tiny_lm, tiny_lm_path, capsys):
    code, out, _ = run(capsys, str(tiny_lm_path), str(FIXTURES / "plain.tsv"), "--output", "json",
                       "--normalize", "wp:0.9", "--oov-penalty", "-4")
    records = [json.loads(line) for line in out]
    assert code == 0 and [r["id"] for r in records] == [0, 1]
    for c in records[0]["candidates"] + records[1]["candidates"]:
        assert c["score"] is None and "features" not in c
        assert c["lm_feature"] == pytest.approx(expected_feature(tiny_lm, c["text"], "wp", 0.9, -4), abs=1e-5)
        assert c["total"] == c["lm_feature"]


def test_tsv_from_standard_input_with_forced_format(tiny_lm_path, capsys, monkeypatch):
    data = "id\tcandidate\tscore\r\n0\tthe cat .\t-1\r\n0\tcat the .\t-1\r\n".encode()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xef\xbb\xbf" + data)))
    code, out, err = run(capsys, str(tiny_lm_path), "-", "--format", "tsv", "--weight", "0")
    assert code == 0 and err == []
    assert out[0] == "id\tcandidate\tscore\tlm_logprob\tlm_tokens\tlm_oov\tlm_feature\ttotal"
    assert [line.split("\t")[1] for line in out[1:]] == ["the cat .", "cat the ."]  # a tie at W = 0: input order
    assert [num(line.split("\t")[7]) for line in out[1:]] == [-1.0, -1.0]


def test_empty_unknown_and_missing_ids_are_reported_on_stderr(tiny_lm_path, tmp_path, capsys):
    path = tmp_path / "odd.moses"
    path.write_text("0 ||| the cat . ||| f= 1 ||| -1\n0 |||  ||| f= 1 ||| -1\n"
                    "2 ||| zebra unicorn ||| f= 1 ||| -1\n2 ||| the dog . ||| f= 2 ||| -1\n")
    code, out, err = run(capsys, str(tiny_lm_path), str(path), "--output", "best")
    assert code == 0 and len(out) == 2
    assert err == ["rnngen: warning: 1 empty candidate (line 2); scored as the model scores them",
                   "rnngen: warning: 1 candidate made only of unknown words (line 3); scored as the model scores them",
                   "rnngen: warning: 1 id between 0 and 2 without candidates, so without an output line: 1"]


def test_weight_without_scores_warns(tiny_lm_path, capsys):
    code, out, err = run(capsys, str(tiny_lm_path), str(FIXTURES / "groups.lines"), "--weight", "2")
    assert code == 0 and len(out) == 6
    assert err == ["rnngen: warning: --weight has no effect: the lines list has no scores of its own"]


@pytest.mark.parametrize("args, message", [
    (["--normalize", "cubic"],
     "rnngen: error: --normalize must be none, length, ppl or wp:ALPHA (e.g. wp:0.6), got 'cubic'"),
    (["--weight", "nan"], "rnngen: error: --weight must be a finite number, got nan"),
])
def test_bad_options_give_one_line(tiny_lm_path, capsys, args, message):
    code, out, err = run(capsys, str(tiny_lm_path), str(FIXTURES / "plain.tsv"), *args)
    assert (code, out, err) == (2, [], [message])


def test_missing_file_gives_one_line(tiny_lm_path, tmp_path, capsys):
    code, out, err = run(capsys, str(tiny_lm_path), str(tmp_path / "none.moses"))
    assert (code, out, err) == (2, [], [f"rnngen: error: no such file: {tmp_path / 'none.moses'}"])


def test_malformed_line_through_the_installed_command(tiny_lm_path, tmp_path):
    bad = tmp_path / "bad.moses"
    bad.write_text("0 ||| the cat . ||| f= 1 ||| -1\n0 ||| the dog . ||| f= 1 ||| -2\n1 ||| a dog . | f= 1 ||| -3\n")
    result = subprocess.run([sys.executable, "-m", "rnngen", "rerank", str(tiny_lm_path), str(bad)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"rnngen: error: {bad}, line 3: expected 'id ||| hypothesis ||| features ||| total score', found 3 field(s)"]


def test_a_huge_gap_between_ids_is_reported_as_ranges(tiny_lm_path, tmp_path, capsys):
    import tracemalloc

    path = tmp_path / "gap.moses"
    path.write_text("0 ||| the cat . ||| f= 1 ||| -1\n100000000 ||| the dog . ||| f= 1 ||| -1\n"
                    "5 ||| a dog . ||| f= 1 ||| -1\n")
    tracemalloc.start()
    code, out, err = run(capsys, str(tiny_lm_path), str(path), "--output", "best")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 0 and out == ["the cat .", "a dog .", "the dog ."]
    assert err == ["rnngen: warning: 99,999,998 ids between 0 and 100000000 without candidates, so without an "
                   "output line: 1-4, 6-99999999"]
    assert peak < 50 * 2**20  # 10**8 ids as ints would take gigabytes


def test_choices_made_only_on_unknown_words_are_named_on_stderr(tiny_lm_path, tmp_path, capsys):
    nbest = tmp_path / "n.moses"
    nbest.write_text("0 ||| the zebra sat . ||| f= 1 ||| -1\n0 ||| the giraffe sat . ||| f= 1 ||| -1\n"
                     "1 ||| the cat sat . ||| f= 1 ||| -1\n")
    code, _, err = run(capsys, str(tiny_lm_path), str(nbest), "--output", "best")
    assert code == 0
    assert err == ["rnngen: warning: 1 id (0) where the best candidate differs from the next only in unknown words: "
                   "their order comes from how unknown words are counted (--oov-penalty, --unk-types), not from the "
                   "model"]


def test_tokenized_splits_candidates_on_spaces_only(tiny_lm_path, tmp_path, capsys):
    nbest = tmp_path / "n.txt"
    nbest.write_text("the cat sat.\nthe cat sat .\n")
    code, out, _ = run(capsys, str(tiny_lm_path), str(nbest), "--output", "json")
    rows = [json.loads(line) for line in out]
    code2, out2, _ = run(capsys, str(tiny_lm_path), str(nbest), "--output", "json", "--tokenized")
    assert code == code2 == 0
    as_typed = {c["text"]: c["lm_tokens"] for c in rows[0]["candidates"]}
    split = {c["text"]: c["lm_tokens"] for c in json.loads(out2[0])["candidates"]}
    assert as_typed == {"the cat sat.": 5, "the cat sat .": 5}  # the model's corpus splits the period off
    assert split == {"the cat sat.": 4, "the cat sat .": 5}     # --tokenized: `sat.` is one (unknown) word
