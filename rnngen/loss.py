"""Training losses: the output layer and cross-entropy fused into one step.

The plain path (`decoder(h)` then `F.cross_entropy`) writes the (tokens x
vocabulary) logits, a log-softmax copy of them, a zero-filled gradient, and
a gradient of the log-softmax: four passes over the largest tensor of the
step, two of them fresh allocations. The fused path computes the softmax in
place and turns it into the logit gradient during the forward pass, so only
the small gradients of the hidden states, weight and bias are kept for the
backward pass, and the big buffer is freed before the recurrent layers'
backward runs. The logits live in one scratch buffer reused from step to
step (`_buffer`); very large batches go in row chunks to bound memory.
Same maths; the results agree with the plain path to float32 rounding
(tests/test_perf_equivalence.py).
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

from rnngen.data import IGNORE

# Rows per chunk. Measured on 2 cores: one chunk for a 20 x 35 batch beats 64-256-row
# chunks (smaller matrix products cost more than the cache misses they save).
CHUNK_ROWS = 768
# Output columns per block of the logits product, and the row count from which blocks pay (see `_logits`).
VOCAB_BLOCK = 1024
BLOCK_MIN_ROWS = 256


_scratch = threading.local()


def _buffer(rows: int, cols: int, like: torch.Tensor) -> torch.Tensor:
    """A (rows, cols) scratch matrix reused across steps, one per thread.

    A fresh tensor of this size (tens of MB) comes from the kernel as new
    pages on every step, and faulting them in costs as much as a third of
    the matrix product that fills it.
    """
    need = rows * cols
    # Tensors made under inference_mode cannot be written outside it, so scoring keeps its own.
    name = "inference" if torch.is_inference_mode_enabled() else "grad"
    held = getattr(_scratch, name, None)
    if held is None or held.numel() < need or held.dtype != like.dtype or held.device != like.device:
        held = torch.empty(need, dtype=like.dtype, device=like.device)
        setattr(_scratch, name, held)
    return held[:need].view(rows, cols)


class _LinearCrossEntropy(torch.autograd.Function):
    """mean over non-ignored rows of -log softmax(h @ W.T + b)[target]."""

    @staticmethod
    def forward(ctx, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor,
                chunk: int) -> torch.Tensor:
        valid = targets != IGNORE
        count = valid.sum().clamp(min=1)
        safe = targets.clamp(min=0).unsqueeze(1)
        grad_h = torch.empty_like(h)
        grad_w = grad_b = None
        total = h.new_zeros(())
        for start in range(0, h.size(0), chunk):
            rows = slice(start, start + chunk)
            hc, yc, keep = h[rows], safe[rows], valid[rows]
            probs = _softmax_in_place(_logits(hc, weight, bias))
            total += _nll(probs, hc, weight, bias, yc, keep).sum()
            # softmax - one_hot(target): the gradient of the summed loss with respect to the logits
            grad = probs
            grad.scatter_add_(1, yc, torch.full_like(yc, -1, dtype=grad.dtype))
            if not bool(keep.all()):  # ignored rows get no gradient; only their rows are touched
                grad.index_fill_(0, (~keep).nonzero().squeeze(1), 0.0)
            torch.mm(grad, weight, out=grad_h[rows])
            if grad_w is None:
                grad_w = torch.mm(grad.t(), hc)
                grad_b = grad.sum(0) if bias is not None else None
            else:
                grad_w.addmm_(grad.t(), hc)
                if grad_b is not None:
                    grad_b += grad.sum(0)
        if grad_w is None:  # no rows at all
            grad_w = torch.zeros_like(weight)
            grad_b = torch.zeros_like(bias) if bias is not None else None
        # The mean's 1/count is applied to the small results, not to the (rows x vocabulary) matrix.
        scale = 1.0 / count.to(h.dtype)
        grad_h.mul_(scale)
        grad_w.mul_(scale)
        if grad_b is not None:
            grad_b.mul_(scale)
        ctx.save_for_backward(grad_h, grad_w, grad_b if grad_b is not None else torch.empty(0))
        ctx.has_bias = bias is not None
        return total * scale

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        return grad_h * grad_out, grad_w * grad_out, (grad_b * grad_out if ctx.has_bias else None), None, None


def _logits(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """h @ weight.T + bias, written into the scratch buffer, in blocks of output columns.

    With an inner dimension as small as the hidden size, MKL's product into
    one wide (rows x vocabulary) matrix runs well below the machine's peak;
    blocks of VOCAB_BLOCK words keep each block's output in cache. Measured
    on 2 cores for 700 x 200 x 13,778: 29 -> 23 ms. Each block is the same
    dot products, so the result is identical bit for bit.
    """
    logits = _buffer(h.size(0), weight.size(0), h)
    step = VOCAB_BLOCK if h.size(0) >= BLOCK_MIN_ROWS else weight.size(0)
    for start in range(0, weight.size(0), step):
        cols = slice(start, start + step)
        if bias is not None:
            torch.addmm(bias[cols], h, weight[cols].t(), out=logits[:, cols])
        else:
            torch.mm(h, weight[cols].t(), out=logits[:, cols])
    return logits


def _softmax_in_place(logits: torch.Tensor) -> torch.Tensor:
    """Row softmax written over its input.

    PyTorch's kernel takes one row at a time (max, exp-and-sum, divide)
    while the row is in cache: one pass over the matrix instead of the four
    of amax, subtract, exp and sum. Same results as torch.softmax, bit for bit.
    `out=` the input keeps it to one (tokens x vocabulary) matrix; `test_softmax_over_its_input_is_exact`
    fails on a torch where this stops being in place or exact.
    """
    return torch.softmax(logits, 1, out=logits)


def _nll(probs: torch.Tensor, h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
         targets: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """-log P(target) per row from the softmax (0 for rows not kept).

    log of the picked probability equals picked logit - log-sum-exp to
    float32 rounding, unless that probability is so small that it lost
    precision as a subnormal (a loss above ~87 nats); those rare rows are
    recomputed from their logits.
    """
    picked = probs.gather(1, targets).squeeze(1)
    nll = -picked.log()
    tiny = (picked < torch.finfo(probs.dtype).tiny) & keep
    if bool(tiny.any()):
        exact = F.linear(h[tiny], weight, bias)
        nll[tiny] = torch.logsumexp(exact, dim=1) - exact.gather(1, targets[tiny]).squeeze(1)
    return nll.masked_fill(~keep, 0.0)


def linear_cross_entropy(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, targets: torch.Tensor,
                         fused: bool = True, chunk: int = CHUNK_ROWS) -> torch.Tensor:
    """Mean cross-entropy of `h @ weight.T + bias` against `targets` (IGNORE rows skipped).

    `h` is (tokens, features), `targets` (tokens,). `fused=False` is the plain
    PyTorch path, kept as the reference the fused one is tested against.
    """
    if not fused:
        return F.cross_entropy(F.linear(h, weight, bias), targets, ignore_index=IGNORE)
    return _LinearCrossEntropy.apply(h, weight, bias, targets, chunk)


def picked_logprobs(logits: torch.Tensor, targets: torch.Tensor, fused: bool = True) -> torch.Tensor:
    """log softmax(logits)[target] along the last dimension (IGNORE targets give id 0's).

    The fused path subtracts one log-sum-exp per row from the picked logit
    instead of writing the whole log-softmax (a tensor as large as the
    logits); `fused=False` is the plain one. Same maths, equal to rounding.
    """
    logits = logits.float()
    safe = targets.clamp(min=0).unsqueeze(-1)
    if not fused:
        return torch.log_softmax(logits, dim=-1).gather(-1, safe).squeeze(-1)
    return logits.gather(-1, safe).squeeze(-1) - torch.logsumexp(logits, dim=-1)


def linear_target_logprobs(h: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                           targets: torch.Tensor) -> torch.Tensor:
    """log softmax(h @ weight.T + bias)[target] per row, for scoring (IGNORE targets give id 0's).

    The logits go into the scratch buffer and PyTorch's log-softmax kernel
    overwrites them row by row while each row is in cache, so scoring
    allocates nothing as large as the logits and passes over them once.
    Equal to `picked_logprobs(F.linear(h, weight, bias), targets)` to float32 rounding.
    """
    logits = _logits(h, weight, bias)
    logprobs = torch.log_softmax(logits, 1, out=logits)  # in place, as `_softmax_in_place`
    return logprobs.gather(1, targets.clamp(min=0).unsqueeze(1)).squeeze(1)
