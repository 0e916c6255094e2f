"""The standard PyTorch word_language_model recipe, as the yardstick for rnngen's own loop.

A faithful copy of examples/word_language_model (model.py RNNModel and the
train() loop of main.py): sequence-first LSTM, log_softmax in the model,
NLLLoss, clip_grad_norm_, and the hand-written SGD update `p.data.add_`.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn


class RecipeModel(nn.Module):
    def __init__(self, ntoken: int, ninp: int, nhid: int, nlayers: int, dropout: float) -> None:
        super().__init__()
        self.ntoken = ntoken
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(ntoken, ninp)
        self.rnn = nn.LSTM(ninp, nhid, nlayers, dropout=dropout)
        self.decoder = nn.Linear(nhid, ntoken)
        self.nlayers, self.nhid = nlayers, nhid
        nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
        nn.init.zeros_(self.decoder.bias)
        nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

    def forward(self, input, hidden):
        emb = self.drop(self.encoder(input))
        output, hidden = self.rnn(emb, hidden)
        output = self.drop(output)
        decoded = self.decoder(output).view(-1, self.ntoken)
        return F.log_softmax(decoded, dim=1), hidden

    def init_hidden(self, bsz: int):
        weight = next(self.parameters())
        return (weight.new_zeros(self.nlayers, bsz, self.nhid), weight.new_zeros(self.nlayers, bsz, self.nhid))


def batchify(data: torch.Tensor, bsz: int, device: torch.device) -> torch.Tensor:
    nbatch = data.size(0) // bsz
    return data[: nbatch * bsz].view(bsz, -1).t().contiguous().to(device)


class Recipe:
    """The recipe's training state; `run(seconds)` trains and returns the tokens it processed."""

    def __init__(self, stream: torch.Tensor, ntoken: int, emb: int, hidden: int, layers: int, dropout: float,
                 batch_size: int, bptt: int, lr: float, clip: float, device: torch.device, seed: int = 1111) -> None:
        torch.manual_seed(seed)
        self.model = RecipeModel(ntoken, emb, hidden, layers, dropout).to(device)
        self.data = batchify(stream, batch_size, device)
        self.batch_size, self.bptt, self.lr, self.clip = batch_size, bptt, lr, clip
        self.criterion = nn.NLLLoss()
        self.position = 0
        self.hidden = self.model.init_hidden(batch_size)
        self.total_loss = 0.0
        self.device = device

    def _get_batch(self, i: int):
        seq_len = min(self.bptt, len(self.data) - 1 - i)
        return self.data[i : i + seq_len], self.data[i + 1 : i + 1 + seq_len].view(-1)

    def step(self) -> int:
        """One batch of main.py's train(); returns the number of tokens predicted."""
        if self.position >= self.data.size(0) - 2:
            self.position = 0
            self.hidden = self.model.init_hidden(self.batch_size)
        self.model.train()
        data, targets = self._get_batch(self.position)
        self.position += self.bptt
        self.model.zero_grad()
        self.hidden = tuple(h.detach() for h in self.hidden)
        output, self.hidden = self.model(data, self.hidden)
        loss = self.criterion(output, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
        for p in self.model.parameters():
            p.data.add_(p.grad, alpha=-self.lr)
        self.total_loss += loss.item()
        return targets.numel()

    def run(self, seconds: float) -> tuple[int, float]:
        """Train for about `seconds`; (tokens, elapsed seconds)."""
        tokens, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            tokens += self.step()
        return tokens, time.perf_counter() - start
