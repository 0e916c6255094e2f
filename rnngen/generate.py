"""Word-by-word generation: samplers and a stepping state a front end can drive.

`Generation` holds the recurrent state after a prompt. A front end either lets
it sample (`sample()`), or chooses the next word itself (`choose(word)`, the
interactive mode), and can always ask for the top candidates. `generate()`
wraps that into an iterator of `Step`s for streaming.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

import torch

from rnngen.model import RNNModel, evaluating
from rnngen.sampling import SamplingSettings
from rnngen.vocab import EOS, Vocabulary

__all__ = ["Generation", "SamplingSettings", "Step", "filtered_distribution", "generate", "generate_many"]


@dataclass(frozen=True)
class Step:
    """One generated word, its probability under the model, and the model's top alternatives."""

    word: str
    prob: float
    alternatives: tuple[tuple[str, float], ...]
    index: int

    @property
    def is_end(self) -> bool:
        return self.word == EOS


def filtered_distribution(probs: torch.Tensor, temperature: float, top_k: int, top_p: float) -> torch.Tensor:
    """Reshape a next-word distribution for sampling: temperature, then top-k, then nucleus."""
    if temperature == 0:
        out = torch.zeros_like(probs)
        out[int(torch.argmax(probs))] = 1.0
        return out
    # softmax(log p / T) written as p ** (1/T), normalised: the same distribution without a
    # logarithm over the vocabulary (MKL's vectorised log is slow to start), and words
    # given probability 0 (<s>, <unk>) keep exactly 0.
    out = probs.clone() if temperature == 1.0 else probs.pow(1.0 / temperature)
    out = out / out.sum()
    if top_k > 0 and top_k < out.numel():
        threshold = torch.topk(out, top_k).values[-1]
        out = torch.where(out >= threshold, out, torch.zeros_like(out))
    if top_p < 1.0:
        sorted_p, idx = torch.sort(out, descending=True)
        cumulative = torch.cumsum(sorted_p, dim=-1)
        # keep the smallest prefix whose mass reaches top_p (always at least one word)
        drop = cumulative - sorted_p >= top_p
        sorted_p[drop] = 0.0
        out = torch.zeros_like(out).scatter(0, idx, sorted_p)
    return out / out.sum()


class Generation:
    """The model's state part-way through a sentence."""

    def __init__(self, model: RNNModel, vocab: Vocabulary, prompt: Sequence[str] = (),
                 settings: SamplingSettings = SamplingSettings()) -> None:
        self.model, self.vocab, self.settings = model, vocab, settings
        self.words: list[str] = []
        self.generator = torch.Generator()
        if settings.seed is not None:
            self.generator.manual_seed(settings.seed)
        else:
            self.generator.seed()
        self._hidden = None
        self._probs = self._feed([vocab.bos_id, *vocab.encode(prompt)])
        self.prompt = list(prompt)

    @torch.inference_mode()
    def _feed(self, ids: list[int]) -> torch.Tensor:
        device = next(self.model.parameters()).device
        x = torch.tensor([ids], dtype=torch.long, device=device)
        with evaluating(self.model):
            logits, self._hidden = self.model(x, self._hidden)
        return torch.softmax(logits[0, -1].float(), dim=-1).cpu()

    @property
    def distribution(self) -> torch.Tensor:
        """P(next word | <s>, prompt, words so far), summing to 1 over the vocabulary."""
        return self._probs

    def candidates(self, k: int = 10) -> list[tuple[str, float]]:
        """The k most probable next words (never `<s>`)."""
        probs = self._probs.clone()
        probs[self.vocab.bos_id] = 0.0
        values, ids = torch.topk(probs, min(k, probs.numel()))
        return [(self.vocab.words[i], float(p)) for p, i in zip(values.tolist(), ids.tolist())]

    def _sampling_distribution(self) -> torch.Tensor:
        probs = self._probs.clone()
        probs[self.vocab.bos_id] = 0.0
        if not self.settings.allow_unk:
            probs[self.vocab.unk_id] = 0.0
        s = self.settings
        return filtered_distribution(probs / probs.sum(), s.temperature, s.top_k, s.top_p)

    def sample(self, alternatives: int = 5) -> Step:
        """Draw the next word with the sampling settings and move on."""
        dist = self._sampling_distribution()
        word_id = int(torch.multinomial(dist, 1, generator=self.generator))
        return self._advance(word_id, alternatives)

    def choose(self, word: str, alternatives: int = 5) -> Step:
        """Take the given word as the next one (interactive mode); unknown words enter as `<unk>`."""
        return self._advance(self.vocab.id(word), alternatives, shown=word)

    def _advance(self, word_id: int, alternatives: int, shown: str | None = None) -> Step:
        alts = tuple(self.candidates(alternatives)) if alternatives else ()
        word = shown if shown is not None else self.vocab.words[word_id]
        step = Step(word, float(self._probs[word_id]), alts, len(self.words))
        self.words.append(word)
        if word_id != self.vocab.eos_id:
            self._probs = self._feed([word_id])
        return step


class DistributionGeneration(Generation):
    """A generation state over any scorer's `next_word_distribution(context words)` (an n-gram, or an RNN
    mixed with one): the same sampling, candidates and choices as `Generation`, the distribution asked
    for afresh after each word."""

    def __init__(self, next_distribution: Callable[[Sequence[str]], torch.Tensor], vocab: Vocabulary,
                 prompt: Sequence[str] = (), settings: SamplingSettings = SamplingSettings()) -> None:
        self.next_distribution = next_distribution
        self._context = list(prompt)
        super().__init__(None, vocab, prompt, settings)  # type: ignore[arg-type]

    def _feed(self, ids: list[int]) -> torch.Tensor:
        if ids and ids[0] != self.vocab.bos_id:  # a word after the prompt
            self._context += [self.vocab.words[i] for i in ids]
        return self.next_distribution(self._context).float()


def generate(model: RNNModel, vocab: Vocabulary, prompt: Sequence[str] = (),
             settings: SamplingSettings = SamplingSettings(), alternatives: int = 5,
             start: Callable[[Sequence[str], SamplingSettings], Generation] | None = None) -> Iterator[Step]:
    """Sample one sentence word by word; stops after `</s>` (yielded) or `max_words` words. `start` makes
    the state (default: the RNN `model`'s own `Generation`)."""
    state = start(prompt, settings) if start is not None else Generation(model, vocab, prompt, settings)
    for _ in range(settings.max_words):
        step = state.sample(alternatives)
        yield step
        if step.is_end:
            return


def generate_many(model: RNNModel | None, vocab: Vocabulary, prompt: Sequence[str], settings: SamplingSettings,
                  count: int, alternatives: int = 5,
                  start: Callable[[Sequence[str], SamplingSettings], Generation] | None = None
                  ) -> Iterator[tuple[int, Step]]:
    """`count` sentences in a row; each gets its own derived seed so one seed fixes them all."""
    for n in range(count):
        seed = None if settings.seed is None else settings.seed + n
        one = SamplingSettings(settings.temperature, settings.top_k, settings.top_p,
                               settings.max_words, settings.allow_unk, seed)
        for step in generate(model, vocab, prompt, one, alternatives, start):
            yield n, step
