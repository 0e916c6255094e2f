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
        # first id and size of each block: the shortlist (block 0), then the tail clusters
        self.starts = [0, *cutoffs]
        self.sizes = [end - start for start, end in zip(self.starts, [*cutoffs, vocab_size])]
        self.shortlist = cutoffs[0]
        self.clusters = nn.Linear(features, len(cutoffs))
        self.register_buffer("cutoffs", torch.tensor(cutoffs), persistent=False)

    def _pieces(self) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """The weight and bias cut into head and cluster blocks.

        One torch.split rather than a slice per block: a slice's backward
        writes its gradient into a fresh zero-filled (vocabulary x features)
        matrix, once per block and step; split's backward is one concatenation.
        """
        return torch.split(self.weight, self.sizes), torch.split(self.bias, self.sizes)

    def _head(self, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """log-probabilities of the shortlist words and of each tail cluster, (rows, shortlist + clusters)."""
        # float(): under bf16 autocast the products are bfloat16, the normalisation stays float32
        return torch.log_softmax(torch.cat([F.linear(h, weight, bias), self.clusters(h)], dim=1).float(), dim=1)

    def forward(self, h: torch.Tensor, targets: torch.Tensor) -> AdaptiveOutput:
        """log P(target) for each row, computing each tail only for the rows whose target is in it."""
        weights, biases = self._pieces()
        head = self._head(h, weights[0], biases[0])
        cluster = torch.bucketize(targets, self.cutoffs, right=True)  # 0 = shortlist, i = tail i
        in_head = torch.where(cluster == 0, targets, self.shortlist + cluster - 1)
        out = head.gather(1, in_head.unsqueeze(1)).squeeze(1)
        for i in range(1, len(self.sizes)):
            rows = (cluster == i).nonzero().squeeze(1)
            if rows.numel():
                tail = torch.log_softmax(F.linear(h[rows], weights[i], biases[i]).float(), dim=1)
                picked = tail.gather(1, (targets[rows] - self.starts[i]).unsqueeze(1)).squeeze(1)
                out = out.index_add(0, rows, picked)
        return AdaptiveOutput(out, -out.mean())

    def log_prob(self, h: torch.Tensor) -> torch.Tensor:
        """The whole distribution, (rows, vocabulary) log-probabilities."""
        weights, biases = self._pieces()
        head = self._head(h, weights[0], biases[0])
        parts = [head[:, : self.shortlist]]
        for i in range(1, len(self.sizes)):
            tail = torch.log_softmax(F.linear(h, weights[i], biases[i]).float(), dim=1)
            parts.append(head[:, self.shortlist + i - 1 : self.shortlist + i] + tail)
        return torch.cat(parts, dim=1)
