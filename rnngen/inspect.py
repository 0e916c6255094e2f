"""Looking inside a prediction: per-position distributions, word ranks and alternatives.

The Score screen's heat map asks, for every word of a sentence, how likely the
model found it, where it ranked among all words, and what the model expected
instead. One forward pass gives every position at once; the log-probabilities
are computed exactly as `score.token_logprobs` does, so they equal the scores
the CLI prints.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import torch

from rnngen.model import in_eval_mode
from rnngen.vocab import EOS

LN2 = math.log(2.0)

if TYPE_CHECKING:
    from rnngen.lm import LanguageModel


@dataclass(frozen=True)
class WordDetail:
    """One predicted token of a sentence (a word or the final `</s>`) seen from the model."""

    index: int  # position in the sentence; the last one is `</s>`
    token: str  # as written (or `</s>`)
    predicted: str  # the vocabulary entry that was scored: the word itself or `<unk>`
    logprob: float  # natural log of P(token | <s>, earlier words)
    rank: int  # 1 = the model's first choice at this position
    candidates: int  # how many words competed (the vocabulary without `<s>`)
    oov: bool
    alternatives: tuple[tuple[str, float], ...]  # the model's top words here, most probable first
    entropy: float = 0.0  # of the whole next-word distribution here, in nats: how unsure the model was

    @property
    def prob(self) -> float:
        return math.exp(self.logprob)

    @property
    def surprisal_bits(self) -> float:
        """-log2 P(token | context): the unit of psycholinguistics' surprisal."""
        return -self.logprob / LN2

    @property
    def entropy_bits(self) -> float:
        return self.entropy / LN2


@in_eval_mode
@torch.inference_mode()
def position_logprobs(lm: "LanguageModel", tokens: Sequence[str]) -> torch.Tensor:
    """log P(. | <s> w1..wi) for i = 0..n: a (n + 1, vocabulary) tensor from one forward pass."""
    if getattr(lm, "module", None) is None:  # any other scorer: its distribution after each prefix
        rows = [lm.next_word_distribution(list(tokens[:i])) for i in range(len(tokens) + 1)]
        return torch.log(torch.stack(rows).double()).float()
    module, vocab = lm.module, lm.vocab
    device = next(module.parameters()).device
    ids = torch.tensor([[vocab.bos_id, *vocab.encode(tokens)]], dtype=torch.long, device=device)
    logits, _ = module(ids)
    return torch.log_softmax(logits.float(), dim=-1)[0].cpu()


def word_details(lm: "LanguageModel", tokens: Sequence[str], k: int = 10) -> list[WordDetail]:
    """Probability, rank and top-k alternatives of each word of a tokenized sentence and of `</s>`.

    `<s>` is never a prediction, so it is left out of ranks and alternatives;
    an unknown word is ranked as `<unk>`, the token the model actually scores.
    """
    vocab = lm.vocab
    logp = position_logprobs(lm, tokens)
    ranked = logp.clone()
    ranked[:, vocab.bos_id] = -math.inf
    top_values, top_ids = torch.topk(ranked, min(k, len(vocab) - 1), dim=-1)
    targets = [*vocab.encode(tokens), vocab.eos_id]
    entropies = (-(logp.exp() * logp).nansum(dim=-1)).tolist()  # 0 * log 0 = 0
    details = []
    for i, (token, target) in enumerate(zip([*tokens, EOS], targets)):
        value = ranked[i, target]
        rank = int((ranked[i] > value).sum()) + 1
        alternatives = tuple((vocab.words[j], math.exp(v))
                             for v, j in zip(top_values[i].tolist(), top_ids[i].tolist()))
        details.append(WordDetail(
            index=i, token=token, predicted=vocab.words[target], logprob=float(logp[i, target]), rank=rank,
            candidates=len(vocab) - 1, oov=token != EOS and target == vocab.unk_id, alternatives=alternatives,
            entropy=entropies[i],
        ))
    return details

