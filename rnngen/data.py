"""Token ids to training batches: padded sentence batches or contiguous BPTT streams.

Both layouts feed `<s> w1 .. wn` and predict `w1 .. wn </s>`, so every word and
every sentence end is a prediction, and `<s>` is never one. Positions that are
not predictions (padding, and `<s>` in a stream) carry the target `IGNORE`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch

from rnngen.ids import IdSentences

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


@dataclass(frozen=True)
class Idle(Batch):
    """A step with nothing to learn, for a rank whose share of the sentence batches ran out first.

    The ranks of a distributed run step together (each step all-reduces the gradients), so the one with
    fewer batches runs these until the others finish; the trainer weighs its loss by `num_tokens`, 0.
    """

    @property
    def num_tokens(self) -> int:
        return 0


def padded(batches: Iterator[Batch], steps: int, bos: int, eos: int) -> Iterator[Batch]:
    """`batches`, then `Idle` ones (`<s>` predicting `</s>`: a finite loss, weighed 0) up to `steps` in all."""
    n = 0
    for n, batch in enumerate(batches, 1):
        yield batch
    for _ in range(n, steps):
        yield Idle(torch.tensor([[bos]]), torch.tensor([[eos]]), reset=True)


def sentence_pair(ids: Sequence[int], bos: int, eos: int) -> tuple[list[int], list[int]]:
    """Input and target of one sentence: `<s> w..` predicts `w.. </s>`."""
    return [bos, *ids], [*ids, eos]


def pad_sentences(sentences: Sequence[Sequence[int]], bos: int, eos: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A padded (batch, time) pair; padding inputs repeat `</s>` and are masked in the targets."""
    width = max(len(s) for s in sentences) + 1
    inputs = torch.full((len(sentences), width), eos, dtype=torch.long)
    targets = torch.full((len(sentences), width), IGNORE, dtype=torch.long)
    inputs[:, 0] = bos
    for row, ids in enumerate(sentences):
        ids = torch.as_tensor(ids, dtype=torch.long)  # a list, or a row of an `IdSentences` array
        inputs[row, 1 : len(ids) + 1] = ids
        targets[row, : len(ids)] = ids
        targets[row, len(ids)] = eos
    return inputs, targets


def length_buckets(lengths: Sequence[int], batch_size: int, rng: random.Random | None = None,
                   rank: int = 0, world: int = 1) -> list[list[int]]:
    """Indices grouped into batches of similar length, so padding stays small.

    With an `rng` the order within equal lengths and the order of batches are
    shuffled; without one the grouping is deterministic (for evaluation).
    Rank `rank` of `world` keeps every `world`-th batch by length, so the ranks'
    shares are alike in length and known before the shuffle, which draws the
    same numbers on every rank (their `rng`s stay equal).
    """
    order = list(range(len(lengths)))
    if rng is not None:
        rng.shuffle(order)
    order.sort(key=lambda i: lengths[i])
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    index = list(range(len(batches)))
    if rng is not None:
        rng.shuffle(index)
    return [batches[i] for i in index if i % world == rank]


def sentence_batches(
    sentences: Sequence[Sequence[int]], bos: int, eos: int, batch_size: int, bptt: int,
    rng: random.Random | None = None, rank: int = 0, world: int = 1,
) -> Iterator[Batch]:
    """Each sentence starts from a fresh state; long ones are cut into `bptt` chunks (`rank`'s share)."""
    for group in length_buckets(_lengths(sentences), batch_size, rng, rank, world):
        inputs, targets = pad_sentences([sentences[i] for i in group], bos, eos)
        for start in range(0, inputs.size(1), bptt):
            yield Batch(inputs[:, start : start + bptt], targets[:, start : start + bptt], reset=start == 0)


def count_sentence_batches(sentences: Sequence[Sequence[int]], batch_size: int, bptt: int, world: int = 1) -> int:
    """Batches of an epoch; with `world` ranks, of the rank with most (the others pad to it: `padded`)."""
    lengths = _lengths(sentences)
    groups = length_buckets(lengths, batch_size)
    chunks = [-(-(max(lengths[i] for i in g) + 1) // bptt) for g in groups]
    return max(sum(chunks[rank::world]) for rank in range(world))


def _lengths(sentences) -> list[int]:
    return sentences.lengths.tolist() if isinstance(sentences, IdSentences) else [len(s) for s in sentences]


def stream_tensor(sentences: Sequence[Sequence[int]] | IdSentences, bos: int, eos: int,
                  dtype: torch.dtype = torch.long) -> torch.Tensor:
    """All sentences end to end, each as `<s> w.. </s>` (built with numpy: no Python object per token)."""
    ids = IdSentences.of(sentences)
    lengths = ids.lengths
    begins = (ids.starts[:-1] - ids.starts[0]) + 2 * np.arange(len(ids), dtype=np.int64)
    ends = begins + lengths + 1
    out = np.empty(ids.num_tokens + 2 * len(ids), dtype=torch.empty(0, dtype=dtype).numpy().dtype)
    words = np.ones(len(out), dtype=bool)
    words[begins] = words[ends] = False
    out[begins], out[ends] = bos, eos
    out[words] = ids.flat[ids.starts[0]:ids.starts[-1]]
    return torch.from_numpy(out)


def stream_batches(sentences: Sequence[Sequence[int]], bos: int, eos: int, batch_size: int, bptt: int,
                   offset: int = 0, rank: int = 0, world: int = 1) -> Iterator[Batch]:
    """The PyTorch word_language_model layout: `batch_size` parallel streams cut every `bptt`.

    The state carries across chunks and sentences; targets equal to `<s>` are
    masked because the start of a sentence is given, not predicted. A first
    window of `offset` tokens (modulo `bptt`) moves every later cut by that much.
    With `world` ranks the text is laid out in `batch_size * world` rows and
    rank `rank` takes rows `rank * batch_size` on: one contiguous shard of the
    stream, the same number of batches on every rank, and together exactly
    the batches of one process with `batch_size * world` rows.
    """
    # int32 until a batch is cut (its copy is made long): the stream of a 100M-token corpus takes 400 MB, not 800
    data = stream_tensor(sentences, bos, eos, torch.int32)
    rows, mine = batch_size * world, slice(rank * batch_size, (rank + 1) * batch_size)
    columns = (data.numel() - 1) // rows
    if columns < 1:
        return
    x = data[: columns * rows].view(rows, columns)[mine]
    y = data[1 : columns * rows + 1].view(rows, columns)[mine].clone()
    y[y == bos] = IGNORE
    starts = stream_cuts(columns, bptt, offset)
    for start, end in zip(starts, starts[1:] + [columns]):
        yield Batch(x[:, start:end].long(), y[:, start:end].long(), reset=start == 0)


def stream_cuts(columns: int, bptt: int, offset: int = 0) -> list[int]:
    """Where each window of a stream `columns` long starts: every `bptt`, after a first one of `offset % bptt`."""
    first = offset % bptt
    first = first if first < columns else 0
    return ([0] if first else []) + list(range(first, columns, bptt))


def count_stream_batches(sentences: Sequence[Sequence[int]], batch_size: int, bptt: int, offset: int = 0,
                         world: int = 1) -> int:
    tokens = sentences.num_tokens + 2 * len(sentences) if isinstance(sentences, IdSentences) \
        else sum(len(s) + 2 for s in sentences)
    columns = (tokens - 1) // (batch_size * world)
    return len(stream_cuts(columns, bptt, offset)) if columns > 0 else 0


def batches(mode: str, sentences, bos: int, eos: int, batch_size: int, bptt: int, rng=None,
            offset: int = 0, rank: int = 0, world: int = 1) -> Iterator[Batch]:
    """Batches for either layout: `rng` shuffles sentences; `offset` moves the stream's cuts; `rank` of `world`
    gets its share, as many batches as every other rank (`count_batches`)."""
    if mode == "stream":
        return stream_batches(sentences, bos, eos, batch_size, bptt, offset, rank, world)
    share = sentence_batches(sentences, bos, eos, batch_size, bptt, rng, rank, world)
    if world == 1:
        return share
    return padded(share, count_sentence_batches(sentences, batch_size, bptt, world), bos, eos)


# Time steps per evaluation chunk in stream mode. Evaluation carries the state across chunks and has
# no gradient to truncate, so longer chunks give the same numbers with fewer, larger products.
EVAL_CHUNK = 350
EVAL_BATCH = 64  # sentences per evaluation batch in sentence mode (any size gives the same numbers)
WHOLE_SENTENCE = 10_000  # a bptt longer than any sentence: held-out sentences are scored whole


def evaluation_batches(mode: str, sentences, bos: int, eos: int, batch_size: int, bptt: int,
                       rank: int = 0, world: int = 1) -> Iterator[Batch]:
    """The one layout that held-out text is scored in, by the trainer and by `LanguageModel.evaluate`.

    In stream mode the numbers depend on how the text is cut into `batch_size` columns (each column
    starts from a zero state), so both use the training batch size and the model's recorded best
    validation perplexity is what `rnngen eval` prints for the same split. Sentences are scored
    independently, so there the batch size only sets the speed. A distributed run's rank `rank` of
    `world` scores its share (stream: its rows of `batch_size * world`, which is what a one-process
    evaluation of its model lays out: `LanguageModel.evaluate`), and the ranks sum what they found.
    """
    if mode == "stream":
        return stream_batches(sentences, bos, eos, batch_size, max(bptt, EVAL_CHUNK), rank=rank, world=world)
    return sentence_batches(sentences, bos, eos, EVAL_BATCH, WHOLE_SENTENCE, rank=rank, world=world)


def count_batches(mode: str, sentences, batch_size: int, bptt: int, offset: int = 0, world: int = 1) -> int:
    if mode == "stream":
        return count_stream_batches(sentences, batch_size, bptt, offset, world)
    return count_sentence_batches(sentences, batch_size, bptt, world)
