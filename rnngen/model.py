"""The recurrent language model: embedding -> RNN/LSTM/GRU -> softmax over words."""

from __future__ import annotations

import torch
from torch import nn

from rnngen.config import ModelConfig

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor]


class RNNModel(nn.Module):
    """One module for the Elman RNN (tanh/relu), LSTM and GRU, batch-first.

    With tied weights the decoder reuses the embedding matrix (Press & Wolf,
    2017); when the hidden size differs from the embedding size a linear
    projection bridges them instead of refusing the combination.
    """

    def __init__(self, config: ModelConfig, vocab_size: int) -> None:
        super().__init__()
        self.config = config
        self.vocab_size = vocab_size
        self.drop = nn.Dropout(config.dropout)
        self.encoder = nn.Embedding(vocab_size, config.emb)
        rnn_dropout = config.dropout if config.layers > 1 else 0.0
        if config.rnn_type in ("rnn_tanh", "rnn_relu"):
            nonlinearity = config.rnn_type.split("_")[1]
            self.rnn = nn.RNN(config.emb, config.hidden, config.layers, nonlinearity=nonlinearity,
                              dropout=rnn_dropout, batch_first=True)
        else:
            cell = nn.LSTM if config.rnn_type == "lstm" else nn.GRU
            self.rnn = cell(config.emb, config.hidden, config.layers, dropout=rnn_dropout, batch_first=True)
        out_size = config.hidden
        self.project: nn.Module | None = None
        if config.tied and config.hidden != config.emb:
            self.project = nn.Linear(config.hidden, config.emb, bias=False)
            out_size = config.emb
        self.decoder = nn.Linear(out_size, vocab_size)
        if config.tied:
            self.decoder.weight = self.encoder.weight
        self._init_weights()

    def _init_weights(self) -> None:
        init_range = 0.1
        nn.init.uniform_(self.encoder.weight, -init_range, init_range)
        nn.init.zeros_(self.decoder.bias)
        if not self.config.tied:
            nn.init.uniform_(self.decoder.weight, -init_range, init_range)

    def init_hidden(self, batch_size: int) -> Hidden:
        weight = next(self.parameters())
        shape = (self.config.layers, batch_size, self.config.hidden)
        if self.config.rnn_type == "lstm":
            return (weight.new_zeros(shape), weight.new_zeros(shape))
        return weight.new_zeros(shape)

    def features(self, ids: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Top-layer outputs before the softmax, shape (batch, time, out_size)."""
        if hidden is None:
            hidden = self.init_hidden(ids.size(0))
        emb = self.drop(self.encoder(ids))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        if self.project is not None:
            output = self.project(output)
        return output, hidden

    def forward(self, ids: torch.Tensor, hidden: Hidden | None = None) -> tuple[torch.Tensor, Hidden]:
        """Logits of the next word at every position, shape (batch, time, vocab)."""
        output, hidden = self.features(ids, hidden)
        return self.decoder(output), hidden

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


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
