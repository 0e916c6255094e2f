"""Training losses: the output layer and cross-entropy fused into one step.

The plain path (`decoder(h)` then `F.cross_entropy`) writes the (tokens x
vocabulary) logits, a log-softmax copy of them, a zero-filled gradient, and
a gradient of the log-softmax: four passes over the largest tensor of the
step, two of them fresh allocations. The fused path computes the softmax in
place and turns it into the logit gradient during the forward pass, so only
the small gradients of the hidden states, weight and bias are kept for the
backward pass, and the big buffer is freed before the recurrent layers'
backward runs. The logits live in one scratch buffer reused from step to
step (`_buffer`). Very large batches are processed in row chunks to bound memory. Same maths; the results agree
with the plain path to float32 rounding (tests/test_perf_equivalence.py).
"""

from __future__ import annotations

import threading

import torch
import torch.nn.functional as F

from rnngen.data import IGNORE

# Rows per chunk. Measured on 2 cores: one chunk for a 20 x 35 batch beats 64-256-row
# chunks (smaller matrix products cost more than the cache misses they save).
CHUNK_ROWS = 768


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
        # Each row's share of the mean; ignored rows get no loss and no gradient.
        scale = valid.to(h.dtype) / count
        grad_h = torch.empty_like(h)
        grad_w = grad_b = None
        total = h.new_zeros(())
        for start in range(0, h.size(0), chunk):
            rows = slice(start, start + chunk)
            hc, yc, sc = h[rows], safe[rows], scale[rows]
            logits = _buffer(hc.size(0), weight.size(0), h)
            if bias is not None:
                torch.addmm(bias, hc, weight.t(), out=logits)
            else:
                torch.mm(hc, weight.t(), out=logits)
            picked = logits.gather(1, yc).squeeze(1)
            # log-sum-exp as torch.logsumexp computes it, but in place: max, exp(x - max), sum
            top = logits.amax(dim=1, keepdim=True)
            exp = logits.sub_(top).exp_()
            sums = exp.sum(dim=1)
            lse = top.squeeze(1) + sums.log()
            total += ((lse - picked) * sc).sum()
            # (softmax - one_hot(target)) x share: the gradient of the loss with respect to the logits
            grad = exp.mul_((sc / sums).unsqueeze(1))
            grad.scatter_add_(1, yc, -sc.unsqueeze(1))
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
        ctx.save_for_backward(grad_h, grad_w, grad_b if grad_b is not None else torch.empty(0))
        ctx.has_bias = bias is not None
        return total

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        grad_h, grad_w, grad_b = ctx.saved_tensors
        return grad_h * grad_out, grad_w * grad_out, (grad_b * grad_out if ctx.has_bias else None), None, None


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

    The logits go into the scratch buffer and are reduced in place (max,
    exp, sum), so scoring allocates nothing as large as the logits. Equal to
    `picked_logprobs(F.linear(h, weight, bias), targets)` to float32 rounding.
    """
    logits = _buffer(h.size(0), weight.size(0), h)
    if bias is not None:
        torch.addmm(bias, h, weight.t(), out=logits)
    else:
        torch.mm(h, weight.t(), out=logits)
    picked = logits.gather(1, targets.clamp(min=0).unsqueeze(1)).squeeze(1)
    top = logits.amax(dim=1, keepdim=True)
    sums = logits.sub_(top).exp_().sum(dim=1)
    return picked - (top.squeeze(1) + sums.log())
