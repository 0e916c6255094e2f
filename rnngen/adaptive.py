"""An adaptive softmax whose word vectors are the input embeddings (tied).

PyTorch's nn.AdaptiveLogSoftmaxWithLoss gives every tail cluster its own
projection and output matrix, so it cannot share weights with the
embedding. On small corpora tying is worth more than the projections save
(Press & Wolf 2017): here each word's output vector is its embedding row
and every cluster scores at full width. The head is the `cutoffs[0]` most
frequent words plus one logit per tail cluster; a word in cluster i has
P(w) = P_head(cluster i) x P_i(w), which sums to one over the vocabulary.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class AdaptiveOutput(NamedTuple):
    """The same fields as nn.AdaptiveLogSoftmaxWithLoss returns: log P(target) per row, and their mean loss."""

    output: torch.Tensor
    loss: torch.Tensor


class TiedAdaptiveSoftmax(nn.Module):
    """Head (shortlist + cluster logits) and full-width tails over a shared (vocabulary x features) matrix."""

    def __init__(self, weight: nn.Parameter, cutoffs: list[int]) -> None:
        super().__init__()
        vocab_size, features = weight.shape
        if not cutoffs or cutoffs != sorted(set(cutoffs)) or not 0 < cutoffs[0] or cutoffs[-1] >= vocab_size:
            raise ValueError(f"cutoffs must be increasing and inside (0, {vocab_size}), got {cutoffs}")
        self.weight = weight
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        self.bounds = [*cutoffs, vocab_size]
        self.shortlist = cutoffs[0]
        self.clusters = nn.Linear(features, len(cutoffs))

    def _head(self, h: torch.Tensor) -> torch.Tensor:
        """log-probabilities of the shortlist words and of each tail cluster, (rows, shortlist + clusters)."""
        words = F.linear(h, self.weight[: self.shortlist], self.bias[: self.shortlist])
        return torch.log_softmax(torch.cat([words, self.clusters(h)], dim=1), dim=1)

    def _tail(self, h: torch.Tensor, cluster: int) -> torch.Tensor:
        lo, hi = self.bounds[cluster], self.bounds[cluster + 1]
        return torch.log_softmax(F.linear(h, self.weight[lo:hi], self.bias[lo:hi]), dim=1)

    def forward(self, h: torch.Tensor, targets: torch.Tensor) -> AdaptiveOutput:
        """log P(target) for each row, computing each tail only for the rows whose target is in it."""
        head = self._head(h)
        out = h.new_empty(h.size(0))
        short = targets < self.shortlist
        out[short] = head[short].gather(1, targets[short].unsqueeze(1)).squeeze(1)
        for i in range(len(self.bounds) - 1):
            rows = ((targets >= self.bounds[i]) & (targets < self.bounds[i + 1])).nonzero().squeeze(1)
            if rows.numel():
                tail = self._tail(h[rows], i).gather(1, (targets[rows] - self.bounds[i]).unsqueeze(1)).squeeze(1)
                out[rows] = head[rows, self.shortlist + i] + tail
        return AdaptiveOutput(out, -out.mean())

    def log_prob(self, h: torch.Tensor) -> torch.Tensor:
        """The whole distribution, (rows, vocabulary) log-probabilities."""
        head = self._head(h)
        parts = [head[:, : self.shortlist]]
        for i in range(len(self.bounds) - 1):
            parts.append(head[:, self.shortlist + i : self.shortlist + i + 1] + self._tail(h, i))
        return torch.cat(parts, dim=1)
