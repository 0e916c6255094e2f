"""`rnngen rerank tune`: the grid search against references, its BLEU, folds, settings files and errors."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import sacrebleu

from rnngen.errors import ConfigError, InputError
from rnngen.options import Normalization
from rnngen.rerank import NBestList, combine, lm_scores, parse, score_texts, scoring_text
from rnngen.tune import (
    SETTINGS_FORMAT, SETTINGS_VERSION, Setting, check_references, fold_of, grid, read_settings, rerank_with, tune,
    write_settings,
)
from tests._inprocess import main_here

# Six source sentences; the made-up decoder scores prefer a wrong candidate for most of them. Old `name:`
# labels and `name=` labels are mixed, ids are not in order, id 3 has a tie, ids 1 and 4 an unknown word.
MOSES = """\
0 ||| the cat sat on mat the . ||| TM0= -1 WordPenalty0= -7 ||| -1.0
0 ||| the cat sat on the mat . ||| TM0= -2 WordPenalty0= -7 ||| -2.0
0 ||| cat the sat on the mat . ||| TM0= -1.5 WordPenalty0= -7 ||| -1.5
2 ||| a cat saw a dog . ||| tm: -1 lm: -4 ||| -1.0
2 ||| a cat saw dog a . ||| tm: -0.5 lm: -4 ||| -0.5
1 ||| the dog sat on the log . ||| tm: -3 ||| -3.0
1 ||| dog the sat on the log . ||| tm: -2 ||| -2.0
1 ||| the dog sat on the zebra . ||| tm: -2.5 ||| -2.5
3 ||| the dog saw the cat . ||| TM0= -1 ||| -1.0
3 ||| the dog saw cat the . ||| TM0= -1 ||| -1.0
4 ||| a dog sat a on mat . ||| TM0= -1 ||| -1.0
4 ||| a dog sat on a mat . ||| TM0= -2 ||| -2.0
4 ||| a unicorn sat on a mat . ||| TM0= -1.2 ||| -1.2
5 ||| the cat ran to dog the . ||| TM0= -1 ||| -1.0
5 ||| the cat ran to the dog . ||| TM0= -1.1 ||| -1.1
"""
REFS = ["the cat sat on the mat .", "the dog sat on the log .", "a cat saw a dog .", "the dog saw the cat .",
        "a dog sat on a mat .", "the cat ran to the dog ."]
REFS2 = ["The cat sat on the mat .", "the dog sat on a log .", "a cat saw the dog .", "the dog saw a cat .",
         "a dog sat on the mat .", "The cat ran to the dog ."]


def nbest_list(text: str = MOSES, format: str | None = None) -> NBestList:
    return parse(text.splitlines(), format, "list")


def scored(lm, nbest: NBestList):
    return score_texts(lm, [scoring_text(c, nbest.format) for c in nbest.candidates])


def corpus_bleu(result, s, refs, **kw) -> float:
    return sacrebleu.corpus_bleu(result.hypotheses(s), [[r[i] for i in result.ids] for r in refs], **kw).score


def combine_best(nbest: NBestList, scores, setting: Setting) -> list[int]:
    """`rerank.combine`'s winner per id (LM alone: the list without its scores), as candidate indices."""
    if setting.lm_alone:
        nbest = NBestList(nbest.format, [replace(c, score=None) for c in nbest.candidates], nbest.header)
    result = combine(nbest, lm_scores(scores, setting.rerank_settings()), setting.rerank_settings())
    index = {c.line: k for k, c in enumerate(nbest.candidates)}
    return [index[group[0].candidate.line] for _, group in result.groups]


@pytest.fixture()
def moses(tiny_lm):
    nbest = nbest_list()
    return nbest, scored(tiny_lm, nbest)


# -- the engine ---------------------------------------------------------------
def test_weight_zero_reproduces_the_decoders_own_one_best(moses):
    nbest, scores = moses
    result = tune(nbest, scores, [("ref", REFS)])
    by_hand = []  # per id (ascending) the candidate with the best own score, the first listed on ties
    for i in range(6):
        group = [k for k, c in enumerate(nbest.candidates) if c.id == i]
        by_hand.append(max(group, key=lambda k: (nbest.candidates[k].score, -k)))
    zero = result.settings[0]
    assert zero.setting == Setting(0.0) and zero.setting.decoder_alone
    assert list(zero.picks) == by_hand == list(result.decoder.picks)
    assert list(zero.picks) == combine_best(nbest, scores, Setting(0.0))
    assert result.hypotheses(zero)[3] == "the dog saw the cat ."  # the tie at id 3: input order
    assert result.decoder.score == zero.score


def test_every_setting_picks_what_combine_picks(moses):
    nbest, scores = moses
    result = tune(nbest, scores, [("ref", REFS)])
    assert len(result.settings) == 1 + 11 * 5 * 4  # W 0, ten weights and LM alone x 5 normalisations x 4 penalties
    for s in result.settings:
        assert list(s.picks) == combine_best(nbest, scores, s.setting), s.name


def test_bleu_of_each_setting_is_sacrebleus_corpus_bleu_of_its_picks(moses):
    nbest, scores = moses
    result = tune(nbest, scores, [("ref", REFS)])
    for s in [*result.settings, result.decoder, result.random, result.oracle, result.cross_validated]:
        assert s.score == corpus_bleu(result, s, [REFS]), s.name
    assert result.best.score == max(s.score for s in result.settings) > result.decoder.score
    assert result.best is result.settings[[s.score for s in result.settings].index(result.best.score)]


@pytest.mark.parametrize("tokenize, lowercase", [("intl", True), ("none", False), ("char", False)])
def test_bleu_with_two_references_tokenizer_and_case(moses, tokenize, lowercase):
    nbest, scores = moses
    result = tune(nbest, scores, [("a", REFS), ("b", REFS2)], tokenize=tokenize, lowercase=lowercase)
    assert f"tok:{tokenize}" in result.signature and "nrefs:2" in result.signature
    for s in [*result.settings[::7], result.oracle, result.cross_validated]:
        assert s.score == corpus_bleu(result, s, [REFS, REFS2], tokenize=tokenize, lowercase=lowercase)


def test_the_oracle_picks_the_best_sentence_bleu_and_random_is_seeded(moses):
    nbest, scores = moses
    result = tune(nbest, scores, [("ref", REFS)], seed=3)
    for n, i in enumerate(result.ids):
        group = [k for k, c in enumerate(nbest.candidates) if c.id == i]
        sentence = [sacrebleu.sentence_bleu(nbest.candidates[k].text, [REFS[i]]).score for k in group]
        assert result.oracle.picks[n] == group[sentence.index(max(sentence))]
        assert result.random.picks[n] in group
    assert result.hypotheses(result.oracle) == REFS  # every reference is among the candidates
    again = tune(nbest, scores, [("ref", REFS)], seed=3)
    assert again.random.picks == result.random.picks and again.random.name == "random pick (seed 3)"


@pytest.mark.parametrize("folds", [2, 3, 6])
def test_every_id_is_held_out_exactly_once_and_each_fold_chooses_on_the_others(moses, folds):
    nbest, scores = moses
    result = tune(nbest, scores, [("ref", REFS)], folds=folds)
    held = [i for f in result.folds for i in f.held_out]
    assert sorted(held) == result.ids == list(range(6)) and len(held) == 6
    assert fold_of(result.ids, folds) == {i: f.index for f in result.folds for i in f.held_out}
    position = {i: n for n, i in enumerate(result.ids)}
    for f in result.folds:
        train = [i for i in result.ids if i not in f.held_out]
        refs = [[REFS[i] for i in train]]
        bleu = [sacrebleu.corpus_bleu([nbest.candidates[s.picks[position[i]]].text for i in train], refs).score
                for s in result.settings]
        chosen = bleu.index(max(bleu))  # the first of the best: grid order breaks ties
        assert f.chosen == result.settings[chosen].setting and f.train_bleu == bleu[chosen]
        for i in f.held_out:
            assert result.cross_validated.picks[position[i]] == result.settings[chosen].picks[position[i]]
    assert result.cross_validated.name == f"cross-validated ({folds} folds)"
    assert result.cross_validated.score == corpus_bleu(result, result.cross_validated, [REFS])


def test_lines_lists_have_no_ids_and_no_scores(tiny_lm):
    text = "\n\n".join("\n".join(c.text for c in nbest_list().candidates if c.id == i) for i in range(6))
    nbest = nbest_list(text, "lines")
    result = tune(nbest, scored(tiny_lm, nbest), [("ref", REFS)])
    assert not nbest.has_scores and result.ids == list(range(6))
    assert [s.setting for s in result.settings] == grid(False) and all(s.setting.lm_alone for s in result.settings)
    assert len(result.settings) == 5 * 4
    first = [next(k for k, c in enumerate(nbest.candidates) if c.id == i) for i in range(6)]
    assert list(result.decoder.picks) == first and result.decoder.name == "first listed"
    for s in result.settings:
        assert list(s.picks) == combine_best(nbest, scored(tiny_lm, nbest), s.setting)


def test_tsv_lists_with_scores_are_tuned_like_moses(moses):
    nbest, scores = moses
    tsv = "id\tcandidate\tscore\n" + "".join(f"{c.id}\t{c.text}\t{c.score}\n" for c in nbest.candidates)
    as_tsv = nbest_list(tsv)
    assert as_tsv.format == "tsv"
    a, b = tune(nbest, scores, [("ref", REFS)]), tune(as_tsv, scores, [("ref", REFS)])
    assert [s.picks for s in a.settings] == [s.picks for s in b.settings] and a.best.setting == b.best.setting


def test_lm_alone_on_a_scored_list_keeps_the_scores_in_the_output(tiny_lm, moses):
    nbest, scores = moses
    setting = Setting(None, Normalization("wp", 0.6), -5.0)
    result = rerank_with(tiny_lm, nbest, setting)
    for r in result.ranked():
        assert r.total == r.lm.feature and r.candidate.score is not None and r.candidate in nbest.candidates
    assert [group[0].candidate.line for _, group in result.groups] == \
        [nbest.candidates[k].line for k in combine_best(nbest, scores, setting)]


def test_settings_file_round_trip_and_refusals(moses, tmp_path):
    nbest, scores = moses
    result = tune(nbest, scores, [("ref", REFS)])
    path = tmp_path / "tuned.json"
    record = write_settings(path, result, nbest="list")
    saved = json.loads(path.read_text())
    assert saved == record and saved["format"] == SETTINGS_FORMAT and saved["version"] == SETTINGS_VERSION
    assert saved["bleu"] == result.best.score and saved["tuned_on"]["nbest"] == "list"
    assert read_settings(path) == result.best.setting
    assert [p.name for p in tmp_path.iterdir()] == ["tuned.json"]  # no temporary file left
    alone = {**saved, "weight": None, "lm_alone": True, "normalize": "wp:1"}
    path.write_text(json.dumps(alone))
    assert read_settings(path) == Setting(None, Normalization("wp", 1.0), saved["oov_penalty"])
    for change, message in [
        ({"version": 2}, f"{path} is a settings file of version 2; this rnngen reads version 1"),
        ({"format": "other"}, f"{path} is not an rnngen rerank settings file: its format is 'other', "
                              f"not '{SETTINGS_FORMAT}'"),
        ({"normalize": "cubic"}, f"{path}: normalize must be none, length, ppl or wp:ALPHA, got 'cubic'"),
        ({"weight": "1"}, f"{path}: weight must be a finite number, or null with lm_alone true, "
                          "got weight '1' and lm_alone False"),
    ]:
        path.write_text(json.dumps({**saved, **change}))
        with pytest.raises(InputError) as caught:
            read_settings(path)
        assert str(caught.value) == message
    path.write_text("[1, 2")
    with pytest.raises(InputError, match="is not a settings file: not JSON"):
        read_settings(path)


def test_references_that_do_not_fit_are_refused_with_one_line():
    nbest = nbest_list()
    with pytest.raises(InputError) as caught:
        check_references(nbest, [("ref.txt", REFS[:5])], "list.moses")
    assert str(caught.value) == ("ref.txt has 5 lines, but the largest id of list.moses is 5: line i is the "
                                 "reference for id i, so it needs at least 6 lines")
    with pytest.raises(InputError) as caught:
        check_references(nbest, [("a", REFS), ("b", REFS + ["x"])], "list.moses")
    assert str(caught.value) == "the references have different numbers of lines: a has 6, b has 7"
    gappy = parse([line for line in MOSES.splitlines() if not line.startswith(("1 ", "3 "))], None, "g")
    with pytest.raises(InputError) as caught:
        check_references(gappy, [("ref", REFS)], "g.moses")
    assert str(caught.value) == "g.moses has no candidates for 2 ids between 0 and 5 that have a reference: 1, 3"
    with pytest.raises(ConfigError, match="at least one reference"):
        check_references(nbest, [], "x")


def test_folds_must_fit_the_ids(moses):
    nbest, scores = moses
    with pytest.raises(ConfigError, match="folds must be at least 2, got 1"):
        tune(nbest, scores, [("ref", REFS)], folds=1)
    with pytest.raises(ConfigError, match="has only 6 ids: at most one fold per id"):
        tune(nbest, scores, [("ref", REFS)], folds=7)
    with pytest.raises(ConfigError, match="tokenize must be one of"):
        tune(nbest, scores, [("ref", REFS)], tokenize="bpe")


# -- the command ------------------------------------------------------------------
@pytest.fixture()
def files(tmp_path):
    (tmp_path / "list.moses").write_text(MOSES)
    (tmp_path / "ref.txt").write_text("\n".join(REFS) + "\n")
    (tmp_path / "ref2.txt").write_text("\n".join(REFS2) + "\n")
    return tmp_path


def test_tune_save_then_rerank_settings_gives_the_tuned_one_best(tiny_lm, tiny_lm_path, files):
    model, nbest = str(tiny_lm_path), str(files / "list.moses")
    done = main_here("rerank", "tune", model, nbest, "--refs", str(files / "ref.txt"), "--save",
                     str(files / "s.json"), "--folds", "3")
    assert done.returncode == 0, done.stderr
    assert "BLEU of the reranked 1-best" in done.stdout and "cross-validated (3 folds)" in done.stdout
    saved = json.loads((files / "s.json").read_text())
    setting = read_settings(files / "s.json")
    parsed = nbest_list()
    expected = tune(parsed, scored(tiny_lm, parsed), [("ref", REFS)], folds=3)
    assert setting == expected.best.setting and saved["bleu"] == expected.best.score
    applied = main_here("rerank", model, nbest, "--settings", str(files / "s.json"), "--output", "best")
    flags = ["--normalize", saved["normalize"], "--oov-penalty", str(saved["oov_penalty"])]
    if not setting.lm_alone:
        flags += ["--weight", str(saved["weight"])]
    by_flags = main_here("rerank", model, nbest, *flags, "--output", "best")
    assert applied.returncode == by_flags.returncode == 0
    assert applied.stdout == by_flags.stdout == "".join(f"{h}\n" for h in expected.hypotheses(expected.best))
    override = main_here("rerank", model, nbest, "--settings", str(files / "s.json"), "--weight", "0",
                         "--output", "best")
    assert override.stdout.splitlines() == expected.hypotheses(expected.decoder)  # a flag overrides the file


def test_tune_json_has_everything_best_first(tiny_lm_path, files):
    done = main_here("rerank", "tune", str(tiny_lm_path), str(files / "list.moses"), "--refs",
                     str(files / "ref.txt"), str(files / "ref2.txt"), "--json", "--lowercase", "--tokenize", "intl")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    bleu = [s["bleu"] for s in report["settings"]]
    assert bleu == sorted(bleu, reverse=True) and len(bleu) == 221
    assert report["best"]["bleu"] == bleu[0] and report["lowercase"] is True and report["tokenize"] == "intl"
    assert set(report["baselines"]) == {"decoder", "random", "oracle"}
    assert sorted(i for f in report["cross_validated"]["folds"] for i in f["held_out"]) == list(range(6))
    assert report["references"] == [str(files / "ref.txt"), str(files / "ref2.txt")]


def test_help_texts_name_each_other():
    assert "rnngen rerank tune MODEL NBEST --refs REF" in main_here("rerank", "--help").stdout.replace("'", "")
    tune_help = main_here("rerank", "tune", "--help")
    assert tune_help.returncode == 0 and tune_help.stdout.startswith("usage: rnngen rerank tune ")


def test_unused_reference_lines_are_a_warning(tiny_lm_path, files):
    (files / "long.txt").write_text("\n".join(REFS + ["one more", "and another"]) + "\n")
    done = main_here("rerank", "tune", str(tiny_lm_path), str(files / "list.moses"), "--refs",
                     str(files / "long.txt"), "--json")
    assert done.returncode == 0
    assert done.stderr.splitlines() == [
        "rnngen: warning: 2 reference lines of 8 have no id in the list (ids 0-5); they are not used"]


@pytest.mark.parametrize("make, args, message", [
    (lambda d: (d / "short.txt").write_text("\n".join(REFS[:4]) + "\n"), ["--refs", "{d}/short.txt"],
     "{d}/short.txt has 4 lines, but the largest id of {d}/list.moses is 5: line i is the reference for id i, "
     "so it needs at least 6 lines"),
    (lambda d: (d / "seven.txt").write_text("\n".join(REFS + ["x"]) + "\n"), ["--refs", "{d}/ref.txt", "{d}/seven.txt"],
     "the references have different numbers of lines: {d}/ref.txt has 6, {d}/seven.txt has 7"),
    (lambda d: (d / "list.moses").write_text("".join(line + "\n" for line in MOSES.splitlines()
                                                     if not line.startswith("3 "))), ["--refs", "{d}/ref.txt"],
     "{d}/list.moses has no candidates for 1 id between 0 and 5 that has a reference: 3"),
    (lambda d: None, ["--refs", "{d}/ref.txt", "--folds", "1"], "--folds must be at least 2, got 1"),
    (lambda d: None, ["--refs", "{d}/ref.txt", "--tokenize", "bpe"],
     "--tokenize must be one of " + ", ".join(sacrebleu.BLEU.TOKENIZERS) + ", got 'bpe'"),
    (lambda d: None, ["--refs", "{d}/none.txt"], "no such file: {d}/none.txt"),
])
def test_bad_tune_inputs_exit_2_with_one_line(tiny_lm_path, files, make, args, message):
    make(files)
    done = main_here("rerank", "tune", str(tiny_lm_path), str(files / "list.moses"),
                     *[a.format(d=files) for a in args])
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (
        2, "", ["rnngen: error: " + message.format(d=files)])


def test_a_settings_file_of_another_version_exits_2_with_one_line(tiny_lm_path, files):
    path = files / "s.json"
    path.write_text(json.dumps({"format": SETTINGS_FORMAT, "version": 2, "weight": 1.0, "normalize": "none",
                                "oov_penalty": 0.0}))
    done = main_here("rerank", str(tiny_lm_path), str(files / "list.moses"), "--settings", str(path))
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (
        2, "", [f"rnngen: error: {path} is a settings file of version 2; this rnngen reads version 1"])
