"""A continuous cache over the model's own recent hidden states (Grave, Joulin & Usunier, ICLR 2017).

Running text repeats itself: a name or a rare word from the last paragraphs
is far likelier than the model's general distribution says. The cache keeps
the pairs (h_i, w_i+1) of the last `size` positions of the text and predicts

    p_cache(w | h_t) = sum over i with w_i+1 = w of softmax_i(theta * h_t . h_i)

which it mixes with the model: p = (1 - weight) p_model + weight p_cache.
Both are normalised over the vocabulary, so the mixture is too (tested). It
needs no training: `theta` and `weight` are chosen on held-out text (`tune`).
It scores a document as one running text; single sentences (an n-best list)
have no history to draw on, so scoring and reranking do not use it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch

from rnngen.data import IGNORE, stream_tensor
from rnngen.options import CacheSettings
from rnngen.model import RNNModel, in_eval_mode

# Positions scored per block: the (block x history) score matrix stays a few MB.
BLOCK = 512
# Time steps per call of the network over the running text (the state is carried between calls).
CHUNK = 350
# The grid `tune` searches (Grave et al. report theta near 0.3 and weights 0.1-0.3 on WikiText).
THETAS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0)
WEIGHTS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


@dataclass(frozen=True)
class RunningText:
    """A text read as one stream: per position, log P_model(target), the target, and the cache's share.

    Only numbers per position are kept (the states are dropped once they
    leave the window), so a book costs a few floats a word, not a state each.
    `cache` maps each theta read to log p_cache(target) at every position;
    `has_history` is False where the window held no word yet.
    """

    model_logprobs: torch.Tensor
    targets: torch.Tensor
    size: int
    cache: dict[float, torch.Tensor]
    has_history: torch.Tensor

    @property
    def scored(self) -> torch.Tensor:
        """Positions that are predicted (a sentence start is given, not predicted)."""
        return self.targets != IGNORE


@in_eval_mode
@torch.inference_mode()
def running_text(model: RNNModel, sentences: Sequence[Sequence[int]], bos: int, eos: int, size: int,
                 thetas: Sequence[float] = THETAS, fresh_sentences: bool = False) -> RunningText:
    """Run the model over `<s> w.. </s> <s> ...` once, with the cache read for every theta in `thetas`.

    `fresh_sentences` restarts the state at every sentence, as a model trained
    in `sentences` mode expects; the cache still spans sentences.
    """
    device = next(model.parameters()).device
    data = stream_tensor(sentences, bos, eos)
    inputs, targets = data[:-1], data[1:].clone()
    targets[targets == bos] = IGNORE
    targets = targets.to(device)
    starts = (inputs == bos).nonzero().squeeze(1).tolist() if fresh_sentences else [0]
    bounds = starts + [inputs.numel()]
    model_lp: list[torch.Tensor] = []
    cache_lp: list[list[torch.Tensor]] = [[] for _ in thetas]
    has: list[torch.Tensor] = []
    window_f, window_t = None, targets[:0]  # the last `size` states and their targets
    hidden = None
    for first, last in zip(bounds, bounds[1:]):
        for s in range(first, last, CHUNK):
            e = min(s + CHUNK, last)
            out, hidden = model.features(inputs[s:e].unsqueeze(0).to(device), None if s == first else hidden)
            feats = out[0].float()
            model_lp.append(model.target_logprobs(out[0], targets[s:e]).float())
            all_f = feats if window_f is None else torch.cat([window_f, feats])
            all_t = torch.cat([window_t, targets[s:e]])
            per_theta, chunk_has = cache_logprobs(all_f, all_t, size, thetas, first_scored=len(window_t))
            for store, lp in zip(cache_lp, per_theta):
                store.append(lp)
            has.append(chunk_has)
            window_f, window_t = all_f[-size:], all_t[-size:]
    return RunningText(torch.cat(model_lp), targets, size,
                       {theta: torch.cat(lp) for theta, lp in zip(thetas, cache_lp)}, torch.cat(has))


def cache_logprobs(features: torch.Tensor, targets: torch.Tensor, size: int, thetas: Sequence[float],
                   first_scored: int = 0) -> tuple[list[torch.Tensor], torch.Tensor]:
    """log p_cache(target) for positions first_scored.. of a stream, one tensor per theta; and which had history.

    Position t sees the pairs of positions t-size .. t-1 whose target is a
    word (not a masked sentence start); where its target never occurred in
    that window the cache gives it probability 0 (log -inf). The products of
    states, the costly part, are shared by all thetas.
    """
    n = features.size(0)
    outs = [torch.full((n - first_scored,), -math.inf, device=features.device) for _ in thetas]
    has = torch.zeros(n - first_scored, dtype=torch.bool, device=features.device)
    usable = targets != IGNORE
    for start in range(first_scored, n, BLOCK):
        end = min(start + BLOCK, n)
        first = max(0, start - size)
        products = features[start:end] @ features[first:end].T  # (block, history)
        t = torch.arange(start, end, device=features.device).unsqueeze(1)
        j = torch.arange(first, end, device=features.device).unsqueeze(0)
        allowed = (j < t) & (j >= t - size) & usable[first:end].unsqueeze(0)
        rows = slice(start - first_scored, end - first_scored)
        has[rows] = allowed.any(dim=1)
        hits = allowed & (targets[first:end].unsqueeze(0) == targets[start:end].unsqueeze(1))
        for out, theta in zip(outs, thetas):
            log_weights = torch.log_softmax((theta * products).masked_fill(~allowed, -math.inf), dim=1)
            out[rows] = torch.logsumexp(log_weights.masked_fill(~hits, -math.inf), dim=1)
    return outs, has


def mixed_logprobs(model_logprobs: torch.Tensor, cache_logprobs: torch.Tensor, has_history: torch.Tensor,
                   weight: float) -> torch.Tensor:
    """log((1 - weight) p_model + weight p_cache); the model alone where the cache is still empty."""
    if weight == 0:
        return model_logprobs
    mixed = torch.logaddexp(model_logprobs + math.log1p(-weight), cache_logprobs + math.log(weight))
    return torch.where(has_history, mixed, model_logprobs)


def nll(text: RunningText, settings: CacheSettings | None) -> tuple[float, int]:
    """Summed negative log-likelihood and the number of predicted tokens, with or without the cache."""
    keep = text.scored
    lp = text.model_logprobs
    if settings is not None and settings.weight > 0:
        if settings.theta not in text.cache or settings.size != text.size:
            raise ValueError(f"the text was read with a {text.size}-position cache for thetas {sorted(text.cache)}")
        lp = mixed_logprobs(lp, text.cache[settings.theta], text.has_history, settings.weight)
    return -float(lp[keep].double().sum()), int(keep.sum())


def tune(text: RunningText, weights: Sequence[float] = WEIGHTS) -> tuple[CacheSettings, float]:
    """The theta (of those read) and weight with the lowest perplexity on `text`, a held-out text."""
    best_nll, count = nll(text, None)
    best = CacheSettings(text.size, 0.0, 0.0)
    for theta in text.cache:
        for weight in weights:
            settings = CacheSettings(text.size, theta, weight)
            value = nll(text, settings)[0]
            if value < best_nll:
                best, best_nll = settings, value
    return best, math.exp(best_nll / max(count, 1))
