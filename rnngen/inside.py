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


def lecture_rnn() -> LinearRNN:
    return LinearRNN()


def lecture_lstm() -> LectureLSTMCell:
    return LectureLSTMCell()


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


@in_eval_mode
@torch.no_grad()
def trace_model(module: RNNModel, ids: Sequence[int], layer: int = -1) -> Trace:
    """Per input token (`<s>` first), the chosen layer's gates, cell and hidden state, from its weights.

    The recurrence runs with torch's cell kernels on the module's own weights, layer by layer, and
    the gates come from the same weights in torch's order (LSTM: i, f, g, o; GRU: r, z, n).
    """
    kind = module.config.rnn_type
    layers = module.config.layers
    layer = layer % layers
    x = module.encoder(torch.tensor([list(ids)]))[0]  # (steps, emb)
    for current in range(layers):
        w_ih, w_hh, b_ih, b_hh = (getattr(module.rnn, f"{n}_l{current}") for n in
                                  ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        h = torch.zeros(1, module.config.hidden)
        c = torch.zeros(1, module.config.hidden)
        rows: dict[str, list[torch.Tensor]] = {}
        outputs = []
        for step in x:
            xt = step.unsqueeze(0)
            if current == layer:
                for name, value in _gates(kind, xt, h, w_ih, w_hh, b_ih, b_hh).items():
                    rows.setdefault(name, []).append(value[0])
            if kind == "lstm":
                h, c = torch.lstm_cell(xt, (h, c), w_ih, w_hh, b_ih, b_hh)
                if current == layer:
                    rows.setdefault("cell", []).append(c[0])
            else:
                h = _CELL[kind](xt, h, w_ih, w_hh, b_ih, b_hh)
            if current == layer:
                rows.setdefault("hidden", []).append(h[0])
            outputs.append(h[0])
        if current == layer:
            return Trace([str(i) for i in ids], {k: torch.stack(v) for k, v in rows.items()})
        x = torch.stack(outputs)
    raise AssertionError("unreachable")


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
    kind = module.config.rnn_type
    layers = module.config.layers
    layer = layer % layers
    x = module.encoder(torch.tensor([list(ids)]))[0]
    kept: list[torch.Tensor] = []
    for current in range(layers):
        w_ih, w_hh, b_ih, b_hh = (getattr(module.rnn, f"{n}_l{current}") for n in
                                  ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))
        h = torch.zeros(1, module.config.hidden)
        c = torch.zeros(1, module.config.hidden)
        outputs = []
        for step in x:
            if kind == "lstm":
                h, c = torch.lstm_cell(step.unsqueeze(0), (h, c), w_ih, w_hh, b_ih, b_hh)
            else:
                h = _CELL[kind](step.unsqueeze(0), h, w_ih, w_hh, b_ih, b_hh)
            if current == layer:
                h.retain_grad()
                kept.append(h)
            outputs.append(h[0])
        x = torch.stack(outputs)
    logprob = _output_logprobs(module, x[-1:])[0, target]
    module.zero_grad(set_to_none=True)
    (-logprob).backward()
    norms = [float(h.grad.norm()) if h.grad is not None else 0.0 for h in kept]
    module.zero_grad(set_to_none=True)
    return norms[::-1]


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
