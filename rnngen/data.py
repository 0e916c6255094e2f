"""Token ids to training batches: padded sentence batches or contiguous BPTT streams.

Both layouts feed `<s> w1 .. wn` and predict `w1 .. wn </s>`, so every word and
every sentence end is a prediction, and `<s>` is never one. Positions that are
not predictions (padding, and `<s>` in a stream) carry the target `IGNORE`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch

IGNORE = -100


@dataclass(frozen=True)
class Batch:
    """One truncated-BPTT step: inputs and targets (batch, time); `reset` starts fresh states."""

    inputs: torch.Tensor
    targets: torch.Tensor
    reset: bool

    @property
    def num_tokens(self) -> int:
        return int((self.targets != IGNORE).sum())


def sentence_pair(ids: Sequence[int], bos: int, eos: int) -> tuple[list[int], list[int]]:
    """Input and target of one sentence: `<s> w..` predicts `w.. </s>`."""
    return [bos, *ids], [*ids, eos]


def pad_sentences(sentences: Sequence[Sequence[int]], bos: int, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded (batch, time) pair; padding inputs repeat `</s>` and are masked in the targets."""
    width = max(len(s) for s in sentences) + 1
    inputs = torch.full((len(sentences), width), eos, dtype=torch.long)
    targets = torch.full((len(sentences), width), IGNORE, dtype=torch.long)
    for row, ids in enumerate(sentences):
        x, y = sentence_pair(ids, bos, eos)
        inputs[row, : len(x)] = torch.tensor(x, dtype=torch.long)
        targets[row, : len(y)] = torch.tensor(y, dtype=torch.long)
    return inputs, targets


def length_buckets(lengths: Sequence[int], batch_size: int, rng: random.Random | None = None) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small.

    With an `rng` the order within equal lengths and the order of batches are
    shuffled; without one the grouping is deterministic (for evaluation).
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    if rng is not None:
        rng.shuffle(batches)
    return batches


def sentence_batches(
    sentences: Sequence[Sequence[int]], bos: int, eos: int, batch_size: int, bptt: int,
    rng: random.Random | None = None,
) -> Iterator[Batch]:
    """Each sentence starts from a fresh state; long ones are cut into `bptt` chunks."""
    for group in length_buckets([len(s) for s in sentences], batch_size, rng):
        inputs, targets = pad_sentences([sentences[i] for i in group], bos, eos)
        for start in range(0, inputs.size(1), bptt):
            yield Batch(inputs[:, start : start + bptt], targets[:, start : start + bptt], reset=start == 0)


def count_sentence_batches(sentences: Sequence[Sequence[int]], batch_size: int, bptt: int) -> int:
    groups = length_buckets([len(s) for s in sentences], batch_size)
    return sum(-(-(max(len(sentences[i]) for i in g) + 1) // bptt) for g in groups)


def stream_tensor(sentences: Sequence[Sequence[int]], bos: int, eos: int) -> torch.Tensor:
    """All sentences end to end, each as `<s> w.. </s>`."""
    flat: list[int] = []
    for ids in sentences:
        flat.append(bos)
        flat.extend(ids)
        flat.append(eos)
    return torch.tensor(flat, dtype=torch.long)


def stream_batches(sentences: Sequence[Sequence[int]], bos: int, eos: int, batch_size: int, bptt: int,
                   offset: int = 0) -> Iterator[Batch]:
    """The PyTorch word_language_model layout: `batch_size` parallel streams cut every `bptt`.

    The state carries across chunks and sentences; targets equal to `<s>` are
    masked because the start of a sentence is given, not predicted. A first
    window of `offset` tokens (modulo `bptt`) moves every later cut by that much.
    """
    data = stream_tensor(sentences, bos, eos)
    columns = (data.numel() - 1) // batch_size
    if columns < 1:
        return
    x = data[: columns * batch_size].view(batch_size, columns)
    y = data[1 : columns * batch_size + 1].view(batch_size, columns).clone()
    y[y == bos] = IGNORE
    starts = stream_cuts(columns, bptt, offset)
    for start, end in zip(starts, starts[1:] + [columns]):
        yield Batch(x[:, start:end], y[:, start:end], reset=start == 0)


def stream_cuts(columns: int, bptt: int, offset: int = 0) -> list[int]:
    """Where each window of a stream `columns` long starts: every `bptt`, after a first one of `offset % bptt`."""
    first = offset % bptt
    first = first if first < columns else 0
    return ([0] if first else []) + list(range(first, columns, bptt))


def count_stream_batches(sentences: Sequence[Sequence[int]], batch_size: int, bptt: int, offset: int = 0) -> int:
    columns = (sum(len(s) + 2 for s in sentences) - 1) // batch_size
    return len(stream_cuts(columns, bptt, offset)) if columns > 0 else 0


def batches(mode: str, sentences, bos: int, eos: int, batch_size: int, bptt: int, rng=None,
            offset: int = 0) -> Iterator[Batch]:
    """Batches for either layout: `rng` shuffles sentences; `offset` moves the stream's cuts."""
    if mode == "stream":
        return stream_batches(sentences, bos, eos, batch_size, bptt, offset)
    return sentence_batches(sentences, bos, eos, batch_size, bptt, rng)


# Time steps per evaluation chunk in stream mode. Evaluation carries the state across chunks and has
# no gradient to truncate, so longer chunks give the same numbers with fewer, larger products.
EVAL_CHUNK = 350
EVAL_BATCH = 64  # sentences per evaluation batch in sentence mode (any size gives the same numbers)
WHOLE_SENTENCE = 10_000  # a bptt longer than any sentence: held-out sentences are scored whole


def evaluation_batches(mode: str, sentences, bos: int, eos: int, batch_size: int, bptt: int) -> Iterator[Batch]:
    """The one layout that held-out text is scored in, by the trainer and by `LanguageModel.evaluate`.

    In stream mode the numbers depend on how the text is cut into `batch_size` columns (each column
    starts from a zero state), so both use the training batch size and the model's recorded best
    validation perplexity is what `rnngen eval` prints for the same split. Sentences are scored
    independently, so there the batch size only sets the speed.
    """
    if mode == "stream":
        return stream_batches(sentences, bos, eos, batch_size, max(bptt, EVAL_CHUNK))
    return sentence_batches(sentences, bos, eos, EVAL_BATCH, WHOLE_SENTENCE)


def count_batches(mode: str, sentences, batch_size: int, bptt: int, offset: int = 0) -> int:
    if mode == "stream":
        return count_stream_batches(sentences, batch_size, bptt, offset)
    return count_sentence_batches(sentences, batch_size, bptt)
