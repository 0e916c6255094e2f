"""Batched vs one-at-a-time scoring on one-sentence-per-line text (PTB valid), for BENCHMARKS.md."""
import torch
from rnngen.bench.suite import scoring
from rnngen.config import ModelConfig
from rnngen.lm import LanguageModel
from rnngen.vocab import Vocabulary
from rnngen.tokenize import TokenizerSettings
lines = [l.split() for l in open('../shared/corpora/ptb/valid.txt') if l.strip()]
v = Vocabulary.build(lines, None)
mc = ModelConfig(vocab_size=len(v), emb=200, hidden=200, layers=2, dropout=0.2)
lm = LanguageModel.new(mc, v, TokenizerSettings.pretokenized()); lm.module.eval()
for _ in range(2):
    r = scoring(lm, lines[:1500], 6)
    print(len(v), {k: (round(x['sentences_per_s'],1), round(x['tokens_per_s'])) for k, x in r.items() if isinstance(x, dict)}, "speedup", round(r['speedup'],1))
