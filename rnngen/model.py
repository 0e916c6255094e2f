"""The recurrent language model: embedding -> RNN/LSTM/GRU -> softmax over words."""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, TypeVar

import torch
from torch import nn
from torch.nn import functional as F

from rnngen.adaptive import TiedAdaptiveSoftmax
from rnngen.config import ModelConfig
from rnngen.data import IGNORE
from rnngen.loss import linear_cross_entropy, linear_target_logprobs, picked_logprobs

ADAPTIVE_CUTOFFS = (2000, 10000, 40000)  # the adaptive softmax's cluster boundaries over frequency ranks
INIT_RANGE = 0.1  # uniform init of the embedding and output weights, as in PyTorch's word_language_model


@contextmanager
def evaluating(module: nn.Module) -> Iterator[nn.Module]:
    """`module` in eval mode (no dropout) for the block, then back in the caller's mode: a trainer that
    samples or validates mid-epoch goes on training with dropout, without having to remember to."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


F_ = TypeVar("F_", bound=Callable[..., Any])


def in_eval_mode(fn: F_) -> F_:
    """Run `fn` with its first argument (a module, or an object holding one as `.module`) `evaluating`;
    a scorer without a network (an n-gram, a mixture, which puts its RNN in eval mode itself) as it is."""
    @functools.wraps(fn)
    def wrapper(first: Any, *args: Any, **kwargs: Any) -> Any:
        module = first if isinstance(first, nn.Module) else getattr(first, "module", None)
        if module is None:
            return fn(first, *args, **kwargs)
        with evaluating(module):
            return fn(first, *args, **kwargs)
    return wrapper  # type: ignore[return-value]

# Inference on at most this many time steps runs the layers cell by cell (see `_cell_steps`).
CELL_STEPS_MAX = 4
_CELLS = {"lstm": torch.lstm_cell, "gru": torch.gru_cell, "rnn_tanh": torch.rnn_tanh_cell,
          "rnn_relu": torch.rnn_relu_cell}
# The whole-sequence kernels nn.LSTM/GRU/RNN call, here one layer at a time (see `_layer_steps`).
_LAYERS = {"lstm": torch.lstm, "gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}
# one layer, one direction, batch-first, with its biases; dropout is rnngen's own (`_dropout`), between calls
ONE_LAYER = dict(has_biases=True, num_layers=1, dropout=0.0, train=True, bidirectional=False, batch_first=True)

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RNNModel(nn.Module):
    """One module for the Elman RNN (tanh/relu), LSTM and GRU, batch-first.

    With tied weights the decoder reuses the embedding matrix (Press & Wolf,
    2017); when the hidden size differs from the embedding size a linear
    projection bridges them instead of refusing the combination.

    With `softmax="adaptive"` the output layer is an adaptive softmax (Grave
    et al., 2017): frequent words in a head, rare ones in smaller tail
    clusters (with tied weights, full-width clusters over the embedding:
    `rnngen.adaptive`). Training only computes the clusters its targets need; `forward`
    still returns the full, normalised distribution (as log-probabilities,
    which softmax and log_softmax map to the same distribution as logits).
    """

    def __init__(self, config: ModelConfig, vocab_size: int, cell_path: bool = True) -> None:
        """`cell_path=False` always runs the nn.LSTM/GRU/RNN module (the benchmark's before/after)."""
        super().__init__()
        self.config = config
        self.cell_path = cell_path
        self.vocab_size = vocab_size
        self.generator: torch.Generator | None = None  # dropout's random numbers (see `_mask`)
        self.encoder = nn.Embedding(vocab_size, config.emb)
        # (ids, gradient) of lookups whose weight gradient `loss(defer_lookup=True)` holds back
        self._lookups: list[tuple[torch.Tensor, torch.Tensor]] = []
        # no dropout inside the module: `_layer_steps` applies rnngen's own between layers
        if config.rnn_type in ("rnn_tanh", "rnn_relu"):
            nonlinearity = config.rnn_type.split("_")[1]
            self.rnn = nn.RNN(config.emb, config.hidden, config.layers, nonlinearity=nonlinearity,
                              batch_first=True)
        else:
            cell = nn.LSTM if config.rnn_type == "lstm" else nn.GRU
            self.rnn = cell(config.emb, config.hidden, config.layers, batch_first=True)
        out_size = config.hidden
        self.project: nn.Module | None = None
        if config.tied and config.hidden != config.emb:
            self.project = nn.Linear(config.hidden, config.emb, bias=False)
            out_size = config.emb
        self.adaptive: nn.AdaptiveLogSoftmaxWithLoss | TiedAdaptiveSoftmax | None = None
        if config.softmax == "adaptive" and config.tied:
            self.adaptive = TiedAdaptiveSoftmax(self.encoder.weight, adaptive_cutoffs(vocab_size))
            self._init_weights()
            return
        if config.softmax == "adaptive":
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(out_size, vocab_size, adaptive_cutoffs(vocab_size),
                                                          div_value=4.0, head_bias=True)
            self._init_weights()
            return
        self.decoder = nn.Linear(out_size, vocab_size)
        if config.tied:
            self.decoder.weight = self.encoder.weight
        self._init_weights()

    def _init_weights(self) -> None:
        init_range = INIT_RANGE
        nn.init.uniform_(self.encoder.weight, -init_range, init_range)
        if self.adaptive is not None:
            return
        nn.init.zeros_(self.decoder.bias)
        if not self.config.tied:
            nn.init.uniform_(self.decoder.weight, -init_range, init_range)

    def init_hidden(self, batch_size: int) -> Hidden:
        weight = next(self.parameters())
        shape = (self.config.layers, batch_size, self.config.hidden)
        if self.config.rnn_type == "lstm":
            return (weight.new_zeros(shape), weight.new_zeros(shape))
        return weight.new_zeros(shape)

    def features(self, ids: torch.Tensor, hidden: Hidden | None = None,
                 lookups: list | None = None) -> tuple[torch.Tensor, Hidden]:
        """Top-layer outputs before the softmax, shape (batch, time, out_size).

        With `lookups`, the embedding lookup's weight gradient goes to that list (`add_deferred_lookup_grads`).
        """
        if hidden is None:
            hidden = self.init_hidden(ids.size(0))
        emb = self._dropout(self._embed(ids, lookups))
        if self.use_cells(ids):
            output, hidden = self._cell_steps(emb, hidden)
        elif self.training:
            output, hidden = self._layer_steps(emb, hidden)
        else:
            output, hidden = self.rnn(emb, hidden)
        output = self._dropout(output)
        if self.project is not None:
            output = self.project(output)
        return output, hidden

    def _dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Inverted dropout, as nn.Dropout, with the mask drawn by torch.rand.

        The same distribution; on the CPU, nn.Dropout's bernoulli_ took 1.4 ms
        for a 20 x 35 x 200 batch against 0.4 ms for this (measured: 11% of a
        tied-adaptive training step). With `locked_dropout` one mask per
        sequence is shared by all its time steps (variational dropout, Gal &
        Ghahramani 2016), so a unit is either present for a whole BPTT window
        or absent from it, instead of flickering from word to word.
        """
        p = self.config.dropout
        if not (self.training and p > 0):
            return x
        shape = (x.size(0), 1, x.size(2)) if self.config.locked_dropout and x.dim() == 3 else x.shape
        return x * self._mask(shape, x, p)

    def _mask(self, shape: Sequence[int], like: torch.Tensor, p: float) -> torch.Tensor:
        """An inverted-dropout mask (0 or 1/(1-p)), drawn from `self.generator`: the trainer's own, so a run
        draws the same masks whatever else uses torch's global generator meanwhile (None: the global one)."""
        keep = torch.rand(shape, device=like.device, dtype=like.dtype, generator=self.generator) >= p
        return keep.to(like.dtype).mul_(1.0 / (1.0 - p))

    def _embed(self, ids: torch.Tensor, lookups: list | None = None) -> torch.Tensor:
        """Embeddings, with whole words dropped while training (Gal & Ghahramani 2016).

        A dropped word loses its whole vector everywhere in the batch, so the
        model cannot lean on any one word; the kept rows are scaled by
        1/(1-p) like ordinary dropout, so evaluation uses the weights as they are.
        """
        p = self.config.embed_drop
        weight = self.encoder.weight
        rows = self.encoder(ids) if lookups is None else _DeferredLookup.apply(weight, ids, lookups)
        if not (self.training and p > 0):
            return rows
        keep = torch.empty(weight.size(0), 1, device=weight.device, dtype=weight.dtype).bernoulli_(
            1 - p, generator=self.generator)
        # masking the looked-up rows equals masking the matrix (the same values; the gradient to float
        # rounding) at the cost of the batch's words instead of the whole vocabulary, forward and backward
        return rows * keep[ids] / (1 - p)

    def backward(self, loss: torch.Tensor) -> None:
        """`loss.backward()` and the embedding gradient a `loss(defer_lookup=True)` held back, in one call."""
        try:
            loss.backward()
        finally:
            self.add_deferred_lookup_grads()  # even if backward failed: nothing stays pending

    def add_deferred_lookup_grads(self) -> None:
        """Add the embedding lookups' gradients, held back by `loss(defer_lookup=True)`, into the weight's.

        Call after `backward()`. Autograd's own lookup gradient is a zero-filled
        vocabulary x emb matrix with the batch's rows added in, then added to
        the output layer's gradient when the weights are tied: two passes over
        the whole matrix each step (6% of a tied-adaptive step on this CPU).
        Adding the batch's rows straight into the gradient already there is the
        same sum, in another order.
        """
        weight = self.encoder.weight
        for ids, grad in self._lookups:
            if weight.grad is None:
                weight.grad = torch.zeros_like(weight)
            weight.grad.index_add_(0, ids.reshape(-1), grad.reshape(-1, grad.size(-1)).to(weight.grad.dtype))
        self._lookups.clear()

    def _layer_steps(self, emb: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """Training: the layers one at a time, with rnngen's dropout between them.

        The same kernel nn.LSTM/GRU/RNN runs (torch.lstm, ...) on one layer's
        weights, so the outputs are bit-equal to the module's without dropout
        (tested). Calling it per layer lets the dropout between layers be
        `_dropout` (faster masks, optionally locked) rather than the module's
        own, and lets the recurrent matrices take DropConnect (Merity et al.
        2018, AWD-LSTM): one mask per batch on the hidden-to-hidden weights
        regularises the memory itself, which dropout on activations does not reach.
        """
        run, rnn, lstm = _LAYERS[self.config.rnn_type], self.rnn, self.config.rnn_type == "lstm"
        x, states = emb, []
        for layer in range(self.config.layers):
            weights = [getattr(rnn, f"{name}_l{layer}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            if self.config.weight_drop > 0:
                weights[1] = weights[1] * self._mask(weights[1].shape, weights[1], self.config.weight_drop)
            if lstm:
                x, h, c = run(x, (hidden[0][layer : layer + 1], hidden[1][layer : layer + 1]), weights, **ONE_LAYER)
                states.append((h, c))
            else:
                x, h = run(x, hidden[layer : layer + 1], weights, **ONE_LAYER)
                states.append(h)
            if layer < self.config.layers - 1:
                x = self._dropout(x)
        if lstm:
            return x, (torch.cat([h for h, _ in states]), torch.cat([c for _, c in states]))
        return x, torch.cat(states)

    def use_cells(self, ids: torch.Tensor) -> bool:
        """Whether `features` takes the cell-by-cell path: CPU inference on a few time steps."""
        return (self.cell_path and not self.training and ids.device.type == "cpu"
                and ids.size(1) <= CELL_STEPS_MAX)

    def _cell_steps(self, emb: torch.Tensor, hidden: Hidden) -> tuple[torch.Tensor, Hidden]:
        """The recurrent layers one step at a time with the fused cell kernels (torch.lstm_cell, ...).

        Generation feeds one word per call. On the CPU nn.LSTM then goes
        through oneDNN's RNN primitive, whose set-up costs milliseconds per
        call; the cell kernels cost microseconds. Same weights and equations,
        so the outputs agree with nn.LSTM to float32 rounding (tested).
        Eval mode only: no dropout between layers.
        """
        cell, rnn = _CELLS[self.config.rnn_type], self.rnn
        lstm = self.config.rnn_type == "lstm"
        h = list(hidden[0].unbind(0)) if lstm else list(hidden.unbind(0))
        c = list(hidden[1].unbind(0)) if lstm else []
        outputs = []
        for t in range(emb.size(1)):
            x = emb[:, t]
            for layer in range(self.config.layers):
                weights = (getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}"),
                           getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}"))
                if lstm:
                    h[layer], c[layer] = cell(x, (h[layer], c[layer]), *weights)
                else:
                    h[layer] = cell(x, h[layer], *weights)
                x = h[layer]
            outputs.append(x)
        state = (torch.stack(h), torch.stack(c)) if lstm else torch.stack(h)
        return torch.stack(outputs, dim=1), state

    def forward(self, ids: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Logits of the next word at every position, shape (batch, time, vocab)."""
        output, hidden = self.features(ids, hidden)
        if self.adaptive is not None:
            flat = self.adaptive.log_prob(output.reshape(-1, output.size(-1)))
            return flat.view(*output.shape[:-1], self.vocab_size), hidden
        return self.decoder(output), hidden

    def target_logprobs(self, features: torch.Tensor, targets: torch.Tensor, chunk: int = 512) -> torch.Tensor:
        """log P(target) for flat (rows, features) and (rows,) targets, computed `chunk` rows at a time.

        Scoring needs one number per position, so the (rows x vocabulary)
        output never exists whole: each chunk's logits stay in cache and are
        reduced to the target's log-probability. IGNORE targets give id 0's.
        """
        pieces = []
        for start in range(0, features.size(0), chunk):
            f, t = features[start : start + chunk], targets[start : start + chunk]
            if self.adaptive is not None:
                # the module's forward gives log P(target), computing only the tail clusters it needs
                pieces.append(self.adaptive(f, t.clamp(min=0)).output)
            elif f.dtype == self.decoder.weight.dtype:
                pieces.append(linear_target_logprobs(f, self.decoder.weight, self.decoder.bias, t))
            else:  # under autocast
                pieces.append(picked_logprobs(self.decoder(f), t))
        return torch.cat(pieces) if pieces else features.new_zeros(0)

    def loss(self, ids: torch.Tensor, targets: torch.Tensor, hidden: Hidden | None = None,
             fused: bool = True, defer_lookup: bool = False) -> tuple[torch.Tensor, Hidden]:
        """Mean cross-entropy over the targets that are not IGNORE, for training.

        Equal to cross_entropy(forward(ids)) but cheaper: the full softmax uses
        the fused output layer (`rnngen.loss`), the adaptive one computes only
        the tail clusters the targets fall in. `fused=False` is the plain path.
        With `defer_lookup`, backward leaves the embedding lookup's gradient
        for `add_deferred_lookup_grads`.
        """
        if self._lookups:  # a gradient lost without a word would train the embedding less, silently
            raise RuntimeError("the last loss's embedding gradient was held back and never added: after "
                               "loss(defer_lookup=True), call backward(loss), or add_deferred_lookup_grads() "
                               "after loss.backward()")
        output, hidden = self.features(ids, hidden, self._lookups if defer_lookup else None)
        flat, goal = output.reshape(-1, output.size(-1)), targets.reshape(-1)
        if self.adaptive is not None:
            keep = goal != IGNORE
            return self.adaptive(flat[keep], goal[keep]).loss, hidden
        return linear_cross_entropy(flat, self.decoder.weight, self.decoder.bias, goal, fused=fused), hidden

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


class _DeferredLookup(torch.autograd.Function):
    """An embedding lookup whose backward hands the rows' gradient to a list instead of the weight."""

    @staticmethod
    def forward(ctx, weight: torch.Tensor, ids: torch.Tensor, sink: list) -> torch.Tensor:
        ctx.ids, ctx.sink = ids, sink
        return F.embedding(ids, weight)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        ctx.sink.append((ctx.ids, grad))
        return None, None, None


def adaptive_cutoffs(vocab_size: int) -> list[int]:
    """Cluster boundaries over frequency-ranked ids: a 2,000-word head, then 10,000, 40,000.

    Vocabularies too small for those get a head of half the words, so the
    option works (if pointlessly) everywhere.
    """
    cutoffs = [c for c in ADAPTIVE_CUTOFFS if c < vocab_size - 1]
    return cutoffs or [max(1, vocab_size // 2)]


def detach(hidden: Hidden) -> Hidden:
    """Cut the graph at a BPTT boundary while keeping the state's values."""
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)  # type: ignore[return-value]
    return hidden.detach()


def select_device(name: str = "auto") -> torch.device:
    """CUDA, then Apple's MPS, then the CPU, unless one is named."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")
