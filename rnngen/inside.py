"""Inside the network: what the memory holds, when the gates open, how gradients flow back through time.

Every model here is a real torch module, inspected by one function, `trace`, that steps through its
input and records each named quantity per step (input, memory before, gates, cell, hidden, output):

- the lecture's two worked examples, built with the lecture's weights (`lecture_rnn`, `lecture_lstm`);
- a trained `RNNModel`, one layer at a time, with torch's own cell kernels on the model's own
  weights (`torch.lstm_cell`, ...), so the hidden states are the model's forward pass exactly (a test
  checks it); the gates are recomputed from the same weights in torch's gate order.

`gradient_norms` is back-propagation through time made visible: the norm of d(loss at the last word)
/ d(hidden state at each earlier step), from autograd, against the distance back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import torch
from torch import nn

from rnngen.model import RNNModel, in_eval_mode


@dataclass
class Trace:
    """Per step, each quantity's values: `values[name]` is a (steps, units) tensor; `labels` name the steps."""

    labels: list[str]
    values: dict[str, torch.Tensor] = field(default_factory=dict)

    def step(self, t: int) -> dict[str, list[float]]:
        return {name: v[t].tolist() for name, v in self.values.items()}

    def top_units(self, t: int, count: int) -> dict[str, list[tuple[int, float]]]:
        """Per quantity at step t: the `count` units of largest |value|, as (unit, value), largest first."""
        return {name: [(int(u), float(values[t, u])) for u in values[t].abs().argsort(descending=True)[:count]]
                for name, values in self.values.items()}

    def summary(self, t: int) -> dict[str, tuple[float, int, float]]:
        """Per quantity at step t: (mean over units, the unit with the largest |value|, that value)."""
        out = {}
        for name, values in self.values.items():
            row = values[t]
            unit = int(row.abs().argmax())
            out[name] = (float(row.mean()), unit, float(row[unit]))
        return out


# -- the lecture's worked examples --------------------------------------------------------------
class LinearRNN(nn.Module):
    """The lecture's simple RNN: hidden = W_in x + W_mem memory, output = W_out hidden, memory <- hidden.

    Two inputs, two hidden units, two outputs, linear activations, no bias, memory starting at 0;
    with all weights 1, inputs [1,1] [1,1] [2,2] give outputs [4,4] [12,12] [32,32].
    """

    def __init__(self, inputs: int = 2, hidden: int = 2, outputs: int = 2, weight: float = 1.0) -> None:
        super().__init__()
        self.w_in = nn.Linear(inputs, hidden, bias=False)
        self.w_mem = nn.Linear(hidden, hidden, bias=False)
        self.w_out = nn.Linear(hidden, outputs, bias=False)
        for layer in (self.w_in, self.w_mem, self.w_out):
            nn.init.constant_(layer.weight, weight)

    def trace(self, inputs: torch.Tensor) -> Trace:
        memory = torch.zeros(self.w_mem.in_features, dtype=inputs.dtype)
        rows: dict[str, list[torch.Tensor]] = {"input": [], "memory before": [], "hidden": [], "output": []}
        for x in inputs:
            hidden = self.w_in(x) + self.w_mem(memory)
            for name, value in (("input", x), ("memory before", memory), ("hidden", hidden),
                                ("output", self.w_out(hidden))):
                rows[name].append(value)
            memory = hidden
        return _stacked(rows, len(inputs))


class LectureLSTMCell(nn.Module):
    """The lecture's LSTM memory cell: one cell, inputs (x1, x2, x3).

    z = x1 (linear); input gate i = sigmoid(100 x2 - 10); forget gate f = sigmoid(100 x2 + 10);
    output gate o = sigmoid(100 x3 - 10); memory c <- z i + c f; output y = c o (linear). So x2 = 1
    writes x1 into the memory, x2 = -1 resets it, x3 = 1 reads it out.
    """

    GATES = ("input gate", "forget gate", "output gate")

    def __init__(self) -> None:
        super().__init__()
        self.z_weight = nn.Parameter(torch.tensor([1.0, 0.0, 0.0]))
        self.gate_weight = nn.Parameter(torch.tensor([[0.0, 100.0, 0.0], [0.0, 100.0, 0.0], [0.0, 0.0, 100.0]]))
        self.gate_bias = nn.Parameter(torch.tensor([-10.0, 10.0, -10.0]))

    def trace(self, inputs: torch.Tensor) -> Trace:
        cell = torch.zeros(1, dtype=inputs.dtype)
        names = ("input", "cell input z", *self.GATES, "memory before", "memory after", "output")
        rows: dict[str, list[torch.Tensor]] = {name: [] for name in names}
        for x in inputs:
            z = (self.z_weight @ x).reshape(1)
            i, f, o = torch.sigmoid(self.gate_weight @ x + self.gate_bias)
            after = z * i + cell * f
            for name, value in zip(names, (x, z, i.reshape(1), f.reshape(1), o.reshape(1), cell, after, after * o)):
                rows[name].append(value)
            cell = after
        return _stacked(rows, len(inputs))


LECTURE_LSTM_INPUTS = ((1, 0, 0), (3, 1, 0), (2, 0, 0), (4, 1, 0), (2, 0, 0), (1, 0, 1), (3, -1, 0), (6, 1, 0),
                       (1, 0, 1))
LECTURE_RNN_INPUTS = ((1, 1), (1, 1), (2, 2))


def lecture_rnn(weights: str = "") -> LinearRNN:
    """The simple RNN, all weights 1, or as `weights` says: `in=1 mem=1 out=1` (each matrix filled with it)."""
    module = LinearRNN()
    values = _named_numbers(weights, {"in": 1, "mem": 1, "out": 1})
    for name, layer in (("in", module.w_in), ("mem", module.w_mem), ("out", module.w_out)):
        if name in values:
            nn.init.constant_(layer.weight, values[name][0])
    return module


def lecture_lstm(weights: str = "") -> LectureLSTMCell:
    """The LSTM cell with the lecture's weights, or as `weights` says, e.g. `z=1,0,0 i=0,100,0,-10
    f=0,100,0,10 o=0,0,100,-10` (z: the weights of x1..x3; a gate: its three weights, then its bias)."""
    module = LectureLSTMCell()
    values = _named_numbers(weights, {"z": 3, "i": 4, "f": 4, "o": 4})
    with torch.no_grad():
        if "z" in values:
            module.z_weight.copy_(torch.tensor(values["z"]))
        for row, gate in enumerate("ifo"):
            if gate in values:
                module.gate_weight[row] = torch.tensor(values[gate][:3])
                module.gate_bias[row] = values[gate][3]
    return module


def weights_text(module: nn.Module) -> str:
    """A lecture module's weights in the form `lecture_rnn` / `lecture_lstm` read back."""
    def numbers(values) -> str:
        return ",".join(f"{v:g}" for v in values)

    if isinstance(module, LectureLSTMCell):
        weight, bias = module.gate_weight.detach(), module.gate_bias.detach()
        rows = [f"z={numbers(module.z_weight.detach().tolist())}"]
        rows += [f"{g}={numbers([*weight[r].tolist(), float(bias[r])])}" for r, g in enumerate("ifo")]
        return " ".join(rows)
    return " ".join(f"{name}={float(layer.weight.detach()[0, 0]):g}" for name, layer in
                    (("in", module.w_in), ("mem", module.w_mem), ("out", module.w_out)))


def _named_numbers(text: str, sizes: dict[str, int]) -> dict[str, list[float]]:
    """`name=1,2,3 other=4` as numbers per name; ValueError says what is wrong."""
    out = {}
    for item in text.split():
        name, equals, numbers = item.partition("=")
        if not equals or name not in sizes:
            raise ValueError(f"{item!r}: write NAME=VALUES with NAME one of {', '.join(sizes)}")
        try:
            values = [float(v) for v in numbers.split(",")]
        except ValueError:
            raise ValueError(f"{item!r}: the values must be numbers separated by commas") from None
        if len(values) != sizes[name] or not all(math.isfinite(v) for v in values):
            raise ValueError(f"{item!r}: {name} takes {sizes[name]} finite number(s)")
        out[name] = values
    return out


def parse_inputs(text: str, width: int) -> torch.Tensor:
    """`1,1 1,1 2,2` as a (steps, width) tensor; ValueError names what is wrong."""
    steps = [s for s in text.replace(";", " ").split() if s]
    rows = []
    for step in steps:
        values = [float(v) for v in step.split(",")]
        if len(values) != width:
            raise ValueError(f"step {step!r} has {len(values)} value(s); each step needs {width}, comma-separated")
        rows.append(values)
    if not rows:
        raise ValueError("give at least one step, e.g. " + " ".join(",".join(["1"] * width) for _ in range(2)))
    return torch.tensor(rows)


def _stacked(rows: dict[str, list[torch.Tensor]], steps: int) -> Trace:
    with torch.no_grad():
        return Trace([str(t + 1) for t in range(steps)], {k: torch.stack(v).detach() for k, v in rows.items()})


# -- a trained model, word by word ---------------------------------------------------------------
GATE_NAMES = {"lstm": ("input gate", "forget gate", "cell input", "output gate"),
              "gru": ("reset gate", "update gate", "new state")}


def _run_layers(module: RNNModel, ids: Sequence[int], layer: int, on_step) -> torch.Tensor:
    """The recurrence over `ids`, layer by layer, with torch's cell kernels on the module's own weights.

    `on_step(x, h_before, h, c, weights)` is called at every step of layer `layer`; the top layer's
    outputs, (steps, hidden), are returned. One loop for `trace_model` and `gradient_norms`.
    """
    kind = module.config.rnn_type
    layer = layer % module.config.layers
    x = module.encoder(torch.tensor([list(ids)]))[0]  # (steps, emb)
    for current in range(module.config.layers):
        weights = tuple(getattr(module.rnn, f"{n}_l{current}")
                        for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        h = torch.zeros(1, module.config.hidden)
        c = torch.zeros(1, module.config.hidden)
        outputs = []
        for step in x:
            xt, before = step.unsqueeze(0), h
            if kind == "lstm":
                h, c = torch.lstm_cell(xt, (h, c), *weights)
            else:
                h = _CELL[kind](xt, h, *weights)
            if current == layer:
                on_step(xt, before, h, c if kind == "lstm" else None, weights)
            outputs.append(h[0])
        x = torch.stack(outputs)
    return x


@in_eval_mode
@torch.no_grad()
def trace_model(module: RNNModel, ids: Sequence[int], layer: int = -1) -> Trace:
    """Per input token (`<s>` first), the chosen layer's gates, cell and hidden state, from its weights.

    The recurrence runs with torch's cell kernels on the module's own weights (`_run_layers`), and
    the gates come from the same weights in torch's order (LSTM: i, f, g, o; GRU: r, z, n).
    """
    kind = module.config.rnn_type
    rows: dict[str, list[torch.Tensor]] = {}

    def record(x, before, h, c, weights) -> None:
        for name, value in _gates(kind, x, before, *weights).items():
            rows.setdefault(name, []).append(value[0])
        if c is not None:
            rows.setdefault("cell", []).append(c[0])
        rows.setdefault("hidden", []).append(h[0])

    _run_layers(module, ids, layer, record)
    return Trace([str(i) for i in ids], {k: torch.stack(v) for k, v in rows.items()})


_CELL = {"gru": torch.gru_cell, "rnn_tanh": torch.rnn_tanh_cell, "rnn_relu": torch.rnn_relu_cell}


def _gates(kind: str, x, h, w_ih, w_hh, b_ih, b_hh) -> dict[str, torch.Tensor]:
    if kind == "lstm":
        i, f, g, o = (x @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh).chunk(4, dim=1)
        return {"input gate": torch.sigmoid(i), "forget gate": torch.sigmoid(f), "cell input": torch.tanh(g),
                "output gate": torch.sigmoid(o)}
    if kind == "gru":
        xi, hi = x @ w_ih.t() + b_ih, h @ w_hh.t() + b_hh
        xr, xz, xn = xi.chunk(3, dim=1)
        hr, hz, hn = hi.chunk(3, dim=1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        return {"reset gate": r, "update gate": z, "new state": torch.tanh(xn + r * hn)}
    return {}


def units_by_variation(values: torch.Tensor) -> list[int]:
    """Units (columns of a (steps, units) tensor) by how much they change across the steps, most first:
    a heat map shows the units that respond to the words at its top."""
    spread = values.double().std(dim=0, unbiased=False) if len(values) > 1 else values.double().abs()[0]
    return [int(u) for u in torch.argsort(spread, descending=True, stable=True)]


def is_gate(quantity: str) -> bool:
    """Gates live in [0, 1]; states and cell inputs are signed."""
    return quantity.endswith("gate")


def saturation(trace: Trace, low: float = 0.1, high: float = 0.9) -> dict[str, tuple[float, float]]:
    """For each gate, the share of its values below `low` (shut) and above `high` (open)."""
    out = {}
    for name, values in trace.values.items():
        if name.endswith("gate"):
            out[name] = (float((values < low).float().mean()), float((values > high).float().mean()))
    return out


# -- gradients through time ----------------------------------------------------------------------
@in_eval_mode
def gradient_norms(module: RNNModel, ids: Sequence[int], target: int, layer: int = -1) -> list[float]:
    """|d loss / d h_t| for every step t, where loss = -log P(target | ids): index 0 is the last step.

    The recurrence is stepped with the cell kernels on the module's weights (as `trace_model` does),
    each step's hidden state kept in the graph, and autograd gives the gradients (no dropout).
    """
    kept: list[torch.Tensor] = []

    def keep(x, before, h, c, weights) -> None:
        h.retain_grad()
        kept.append(h)

    x = _run_layers(module, ids, layer, keep)
    logprob = _output_logprobs(module, x[-1:])[0, target]
    module.zero_grad(set_to_none=True)
    (-logprob).backward()
    norms = [float(h.grad.norm()) if h.grad is not None else 0.0 for h in kept]
    module.zero_grad(set_to_none=True)
    return norms[::-1]


def untrained_like(module: RNNModel, seed: int = 0) -> RNNModel:
    """A fresh model of the same shape, initialised as training would begin (under `seed`, in a fork of
    torch's global generator, which is left as it was): what the gradients looked like before learning."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = RNNModel(module.config, module.vocab_size)
    return fresh.eval()


def _output_logprobs(module: RNNModel, top: torch.Tensor) -> torch.Tensor:
    """log P(. | state) through the module's own output layer, differentiably (as `RNNModel.forward`)."""
    if module.project is not None:
        top = module.project(top)
    if module.adaptive is not None:
        return module.adaptive.log_prob(top)
    return torch.log_softmax(module.decoder(top), dim=-1)


def decay_rate(norms: Sequence[float]) -> float | None:
    """The mean factor by which the gradient norm shrinks per step back (a least-squares fit in log space)."""
    points = [(d, math.log(n)) for d, n in enumerate(norms) if n > 0]
    if len(points) < 2:
        return None
    mean_d = sum(d for d, _ in points) / len(points)
    mean_l = sum(v for _, v in points) / len(points)
    slope = sum((d - mean_d) * (v - mean_l) for d, v in points) / sum((d - mean_d) ** 2 for d, _ in points)
    return math.exp(slope)


# -- neurons: select and match (LSTMVis), and cells that track a property (Karpathy et al.) --------------
@dataclass(frozen=True)
class Match:
    """A place in the text where the selected units are on together: sentence, first word, span length."""

    sentence: int
    start: int
    length: int
    overlap: float  # Jaccard overlap of the units on there with the selected units (1 = the same set)
    words: tuple[str, ...]


def states_of(module: RNNModel, vocab, sentences: Sequence[Sequence[str]], quantity: str = "hidden",
              layer: int = -1, limit: int = 2_000, progress=None, cancelled=None) -> list[torch.Tensor]:
    """Each sentence's (words, units) `quantity` (hidden, cell or a gate) for its words, `<s>` left out.

    At most `limit` sentences are read (a bounded sample of a large corpus); `progress(done, total)` is
    called after each, and a true `cancelled()` stops early with what was read so far.
    """
    chosen = list(sentences[:limit])
    out = []
    for n, words in enumerate(chosen, 1):
        if cancelled is not None and cancelled():
            break
        trace = trace_model(module, [vocab.bos_id, *vocab.encode(words)], layer)
        if quantity not in trace.values:
            raise ValueError(f"no {quantity!r} in a {module.config.rnn_type} layer: choose one of "
                             + ", ".join(trace.values))
        out.append(trace.values[quantity][1:])
        if progress is not None:
            progress(n, len(chosen))
    return out


def select_units(states: torch.Tensor, start: int, end: int, threshold: float) -> torch.Tensor:
    """The units whose value is above `threshold` at every word of [start, end): LSTMVis' selection."""
    return (states[start:end] > threshold).all(dim=0)


def match(units: torch.Tensor, states: Sequence[torch.Tensor], sentences: Sequence[Sequence[str]],
          threshold: float, length: int, top: int = 10, min_overlap: float = 0.0) -> list[Match]:
    """Spans of `length` words where the units on throughout overlap most with the selection.

    Overlap is Jaccard's |on ∩ selected| / |on ∪ selected|; ties keep text order.
    """
    if not bool(units.any()):
        return []
    found = []
    for s, (values, words) in enumerate(zip(states, sentences)):
        on = values > threshold
        for start in range(0, len(values) - length + 1):
            together = on[start:start + length].all(dim=0)
            union = int((together | units).sum())
            overlap = int((together & units).sum()) / union if union else 0.0
            if overlap > min_overlap:
                found.append(Match(s, start, length, overlap, tuple(words[start:start + length])))
    found.sort(key=lambda m: -m.overlap)
    return found[:top]


PROPERTIES = ("quotes", "brackets", "position", "after")


def parse_property(text: str) -> tuple[str, str]:
    """`quotes`, `brackets`, `position` or `after:WORD` as (property, word); ValueError says what is wrong."""
    name, _, word = text.partition(":")
    if name not in PROPERTIES or (name == "after") != bool(word):
        raise ValueError(f"the property must be quotes, brackets, position or after:WORD, got {text!r}")
    return name, word


def position_property(words: Sequence[str], name: str, word: str = "") -> list[float]:
    """A simple property of each position: inside quotes or brackets (1/0), the position in the sentence
    (0 = first), or 1 right after `word`."""
    values, inside = [], False
    depth = 0
    for i, w in enumerate(words):
        if name == "quotes":
            if w in ('"', "``", "''", "“", "”"):
                inside = not inside if w == '"' else w in ("``", "“")
                values.append(1.0)  # the quote itself is inside
                continue
            values.append(1.0 if inside else 0.0)
        elif name == "brackets":
            depth += w in ("(", "[", "{", "-LRB-")
            values.append(1.0 if depth > 0 else 0.0)
            depth -= w in (")", "]", "}", "-RRB-") and depth > 0
        elif name == "position":
            values.append(float(i))
        elif name == "after":
            values.append(1.0 if i > 0 and words[i - 1] == word else 0.0)
        else:
            raise ValueError(f"unknown property {name!r}: choose one of {', '.join(PROPERTIES)}")
    return values


def correlated_units(states: Sequence[torch.Tensor], sentences: Sequence[Sequence[str]], name: str,
                     word: str = "", top: int = 10) -> list[tuple[int, float]]:
    """The units whose value correlates most (|Pearson r|) with the property over all positions read."""
    x = torch.cat([s.double() for s in states])
    y = torch.tensor([v for words in sentences[:len(states)] for v in position_property(words, name, word)],
                     dtype=torch.float64)
    if len(y) < 2 or float(y.std()) == 0.0:
        return []
    xc, yc = x - x.mean(dim=0), y - y.mean()
    denominator = xc.norm(dim=0) * yc.norm()
    r = torch.where(denominator > 0, (xc * yc.unsqueeze(1)).sum(dim=0) / denominator, torch.zeros_like(denominator))
    order = torch.argsort(r.abs(), descending=True)[:top]
    return [(int(u), float(r[u])) for u in order]


def saturation_histogram(states: Sequence[torch.Tensor], bins: int = 10) -> list[int]:
    """How many gate values fall in each of `bins` equal bins of [0, 1]."""
    values = torch.cat([s.flatten() for s in states]).clamp(0.0, 1.0)
    return torch.histc(values, bins=bins, min=0.0, max=1.0).long().tolist()


def gate_saturation(module: RNNModel, vocab, sentences: Sequence[Sequence[str]], layer: int = -1,
                    limit: int = 2_000, bins: int = 10, progress=None, cancelled=None) -> dict[str, dict]:
    """Per gate over a corpus sample: the share shut (< 0.1), the share open (> 0.9), and a histogram."""
    kind = module.config.rnn_type
    out = {}
    for gate in (g for g in GATE_NAMES.get(kind, ()) if g.endswith("gate")):
        states = states_of(module, vocab, sentences, gate, layer, limit, progress, cancelled)
        values = torch.cat([s.flatten() for s in states]) if states else torch.zeros(0)
        out[gate] = {"shut": float((values < 0.1).float().mean()) if len(values) else 0.0,
                     "open": float((values > 0.9).float().mean()) if len(values) else 0.0,
                     "histogram": saturation_histogram(states, bins) if states else [0] * bins,
                     "values": len(values)}
    return out
