"""Inside the network: the lecture's worked examples exactly, and a trained model's real activations."""

from __future__ import annotations

import json

import pytest
import torch

from rnngen import inside
from rnngen.config import ModelConfig
from rnngen.model import RNNModel
from tests._inprocess import main_here


def test_the_simple_rnn_example_gives_the_lectures_outputs():
    trace = inside.lecture_rnn().trace(torch.tensor(inside.LECTURE_RNN_INPUTS, dtype=torch.float))
    assert trace.values["output"].tolist() == [[4, 4], [12, 12], [32, 32]]
    assert trace.values["memory before"].tolist() == [[0, 0], [2, 2], [6, 6]]
    reverse = inside.lecture_rnn().trace(torch.tensor(inside.LECTURE_RNN_INPUTS[::-1], dtype=torch.float))
    assert reverse.values["output"].tolist() == [[8, 8], [20, 20], [44, 44]]  # the order changes the outputs


def test_the_lstm_cell_example_gives_the_lectures_memory_and_output():
    trace = inside.lecture_lstm().trace(torch.tensor(inside.LECTURE_LSTM_INPUTS, dtype=torch.float))
    rounded = {k: [round(v) for v in trace.values[k][:, 0].tolist()] for k in ("memory before", "memory after",
                                                                                 "output")}
    assert rounded == {"memory before": [0, 0, 3, 3, 7, 7, 7, 0, 6], "memory after": [0, 3, 3, 7, 7, 7, 0, 6, 6],
                       "output": [0, 0, 0, 0, 0, 7, 0, 0, 6]}
    for gate in inside.LectureLSTMCell.GATES:
        values = trace.values[gate]
        assert ((values < 1e-4) | (values > 1 - 1e-4)).all()  # every gate is shut or open, as drawn
    assert (trace.values["output"][:, 0] - torch.tensor([0, 0, 0, 0, 0, 7, 0, 0, 6.0])).abs().max() < 1e-3


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh", "rnn_relu"])
def test_traced_states_are_the_models_forward_pass(kind):
    torch.manual_seed(3)
    module = RNNModel(ModelConfig(rnn_type=kind, vocab_size=40, emb=8, hidden=6, layers=2, dropout=0.0), 40)
    ids = [1, 5, 7, 9, 3, 11]
    with torch.no_grad():
        features, final = module.features(torch.tensor([ids]))
    top = inside.trace_model(module, ids, layer=-1)
    assert torch.allclose(top.values["hidden"], features[0], atol=1e-6)
    first = inside.trace_model(module, ids, layer=0)
    h_n = final[0] if kind == "lstm" else final
    assert torch.allclose(first.values["hidden"][-1], h_n[0, 0], atol=1e-6)
    if kind == "lstm":
        assert torch.allclose(first.values["cell"][-1], final[1][0, 0], atol=1e-6)
    for name, values in top.values.items():
        if name.endswith("gate"):
            assert ((values >= 0) & (values <= 1)).all()
    assert set(inside.saturation(top)) == {n for n in top.values if n.endswith("gate")}


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_gradient_norms_equal_autograd_through_the_modules_own_layer(kind):
    torch.manual_seed(4)
    module = RNNModel(ModelConfig(rnn_type=kind, vocab_size=40, emb=8, hidden=6, layers=1, dropout=0.0), 40)
    module.eval()
    ids, target = [1, 5, 7, 9, 3, 11, 2], 8
    norms = inside.gradient_norms(module, ids, target)
    assert len(norms) == len(ids)
    with torch.no_grad():
        trace = inside.trace_model(module, ids)
    for back in (0, 3, 6):
        t = len(ids) - 1 - back
        h = trace.values["hidden"][t].reshape(1, 1, -1).clone().requires_grad_(True)
        state = (h, trace.values["cell"][t].reshape(1, 1, -1)) if kind == "lstm" else h
        rest = torch.tensor([ids[t + 1:]]) if t + 1 < len(ids) else None
        if rest is not None:
            out, _ = module.rnn(module.encoder(rest), state)
            last = out[0, -1:]
        else:
            last = h[0]
        logprob = torch.log_softmax(module.decoder(last), dim=-1)[0, target]
        (grad,) = torch.autograd.grad(-logprob, h)
        assert norms[back] == pytest.approx(float(grad.norm()), rel=1e-4)


def test_the_inspect_command(tiny_lm_path):
    lines = main_here("inspect", "lecture", "lstm", "--format", "jsonl").stdout.splitlines()
    rows = [json.loads(line) for line in lines]
    assert [round(r["output"][0]) for r in rows] == [0, 0, 0, 0, 0, 7, 0, 0, 6]
    table = main_here("inspect", "lecture", "rnn", "--inputs", "1,1 1,1 2,2")
    assert table.returncode == 0 and "32 32" in table.stdout
    bad = main_here("inspect", "lecture", "rnn", "--inputs", "1,1 2")
    assert (bad.returncode, bad.stderr.strip()) == (
        2, "rnngen: error: --inputs: step '2' has 1 value(s); each step needs 2, comma-separated")
    states = [json.loads(line) for line in main_here("inspect", "states", str(tiny_lm_path), "the cat sat .",
                                                      "--format", "jsonl").stdout.splitlines()]
    assert [r["input_word"] for r in states] == ["<s>", "the", "cat", "sat", "."]
    assert set(states[0]) == {"input_word", "input gate", "forget gate", "cell input", "output gate", "cell", "hidden"}
    grads = main_here("inspect", "gradients", str(tiny_lm_path), "the cat sat .", "--format", "jsonl")
    assert [json.loads(line)["distance"] for line in grads.stdout.splitlines()] == [0, 1, 2, 3]
    both = [json.loads(line) for line in main_here("inspect", "gradients", str(tiny_lm_path), "the cat sat .",
                                                    "--fresh", "--format", "jsonl").stdout.splitlines()]
    assert [r["grad_norm"] for r in both] == [json.loads(line)["grad_norm"] for line in grads.stdout.splitlines()]
    assert all(r["fresh_grad_norm"] > 0 and r["fresh_grad_norm"] != r["grad_norm"] for r in both)
    table = main_here("inspect", "gradients", str(tiny_lm_path), "the cat sat .", "--fresh").stdout
    assert "untrained |gradient|" in table and "untrained: about x" in table
    wrong = main_here("inspect", "states", str(tiny_lm_path), "the cat", "--layer", "3")
    assert wrong.returncode == 2 and "this model has 1 layer(s)" in wrong.stderr


def test_an_untrained_copy_has_the_shape_and_the_initial_weights_and_leaves_torchs_state_alone():
    torch.manual_seed(4)
    module = RNNModel(ModelConfig(rnn_type="lstm", vocab_size=40, emb=8, hidden=6, layers=1, dropout=0.0), 40)
    state = torch.get_rng_state()
    fresh, again = inside.untrained_like(module), inside.untrained_like(module)
    assert torch.equal(torch.get_rng_state(), state)
    assert not fresh.training
    for (name, a), (_, b), (_, c) in zip(module.named_parameters(), fresh.named_parameters(),
                                         again.named_parameters()):
        assert a.shape == b.shape and torch.equal(b, c), name  # the same initialisation each time
    assert not all(torch.equal(a, b) for a, b in zip(module.parameters(), fresh.parameters()))


def test_select_and_match_finds_the_planted_span():
    sentences = [["a", "b", "c", "d", "e"], ["f", "g", "h", "i"], ["j", "k", "l", "m", "n", "o"]]
    torch.manual_seed(0)
    states = [torch.rand(len(s), 8) * 0.2 for s in sentences]  # everything off (below 0.5) ...
    states[0][1:3, [2, 5]] = 0.9   # ... but units 2 and 5 over "b c", the selection
    states[2][3:5, [2, 5]] = 0.8   # planted: the same units over "m n"
    states[1][0:2, [2]] = 0.9      # a partial match: unit 2 only
    units = inside.select_units(states[0], 1, 3, 0.5)
    assert units.nonzero().flatten().tolist() == [2, 5]
    found = inside.match(units, states, sentences, 0.5, 2)
    assert [(m.sentence, m.start, m.words, m.overlap) for m in found] == [
        (0, 1, ("b", "c"), 1.0), (2, 3, ("m", "n"), 1.0), (1, 0, ("f", "g"), 0.5)]


def test_units_that_track_a_property_are_found():
    sentences = [["he", "said", '"', "go", "now", '"', "."], ["a", "(", "b", "c", ")", "d"]]
    assert inside.position_property(sentences[0], "quotes") == [0, 0, 1, 1, 1, 1, 0]
    assert inside.position_property(sentences[1], "brackets") == [0, 1, 1, 1, 1, 0]
    assert inside.position_property(sentences[1], "after", "b") == [0, 0, 0, 1, 0, 0]
    torch.manual_seed(1)
    states = [torch.randn(len(s), 6) for s in sentences]
    for s, words in zip(states, sentences):
        s[:, 4] = torch.tensor(inside.position_property(words, "position"))  # unit 4 counts the words
    (unit, r), *_ = inside.correlated_units(states, sentences, "position")
    assert unit == 4 and r == pytest.approx(1.0)


def test_gate_saturation_over_a_sample(tiny_lm):
    sentences = [["the", "cat", "sat", "."], ["a", "dog", "ran", "."]]
    report = inside.gate_saturation(tiny_lm.module, tiny_lm.vocab, sentences)
    assert set(report) == {"input gate", "forget gate", "output gate"}
    hidden = tiny_lm.model_config.hidden
    for figures in report.values():
        assert figures["values"] == 8 * hidden and sum(figures["histogram"]) == 8 * hidden
        assert 0 <= figures["shut"] + figures["open"] <= 1


def test_match_cells_and_gates_commands(tiny_lm_path, tmp_path):
    text = tmp_path / "sample.txt"
    text.write_text("the cat sat on the mat .\nthe dog sat on the log .\na cat saw a dog .\n")
    found = main_here("inspect", "match", str(tiny_lm_path), "the cat sat on the mat .", str(text), "--span", "1:3",
                      "--threshold", "-1")
    assert found.returncode == 0 and "[cat sat]" in found.stdout
    cells = [json.loads(line) for line in main_here("inspect", "cells", str(tiny_lm_path), str(text), "--property",
                                                    "after:the", "--format", "jsonl").stdout.splitlines()]
    assert len(cells) == 10 and all(-1 <= c["r"] <= 1 for c in cells)
    gates = main_here("inspect", "gates", str(tiny_lm_path), str(text), "--format", "jsonl")
    assert [json.loads(line)["gate"] for line in gates.stdout.splitlines()] == ["input gate", "forget gate",
                                                                               "output gate"]
    bad = main_here("inspect", "match", str(tiny_lm_path), "the cat", str(text), "--span", "1:9")
    assert (bad.returncode, bad.stderr.strip()) == (2, "rnngen: error: --span 1:9: the sentence has 2 word(s), 0 to 2")
