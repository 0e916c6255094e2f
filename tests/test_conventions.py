"""Typed text is written the way a pre-tokenized corpus writes it, and tokenized text is left alone."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnngen.bench.conventions import read_lines, round_trip, treebank_detokenizer
from rnngen.conventions import Conventions, apply

FILLER = [f"w{i}" for i in range(60)]  # a vocabulary needs some size before its absences mean anything
PTB = ["the", "children", "washed", "themselves", "company", "'s", "shares", "rose", "N", "do", "n't", "know",
       "$", "mr.", "u.s.", "<unk>", "can", "not", "'", "viewers", *FILLER]
MOSES_LOWER = ["the", "children", "washed", "themselves", ".", ",", "'s", "don", "'t", "\"", "&amp;", "a", "b",
               "well", "known", "is", *FILLER]
WIKI = ["The", "well", "@-@", "known", "man", "paid", "1", "@,@", "000", "for", "0", "@.@", "7", "kg", ".", ",",
        '"', "It", "is", "<unk>", "don", "'t", "Chang", "'an", "Gen.", "(", ")", *FILLER]
CURLY = ["The", "King", "’", "s", "Son", "said", ",", "“", "No", "”", ".", "&#91;", "&#93;", "she", *FILLER]


def tokens(text: str, words: list[str]) -> list[str]:
    return apply(text, Conventions.learn(words), set(words).__contains__)


def test_what_each_corpus_shows_is_learned():
    assert Conventions.learn(PTB) == Conventions(lowercase=True, numbers="N", punctuation=False)
    assert Conventions.learn(MOSES_LOWER) == Conventions(lowercase=True, escaped="&", moses_apostrophes=True)
    assert Conventions.learn(WIKI) == Conventions(wiki_markers=True, moses_apostrophes=True)
    assert Conventions.learn(CURLY) == Conventions(quotes="curly", escaped="[]")
    assert Conventions.learn(["The", "a"]) == Conventions()  # too few words to tell


@pytest.mark.parametrize("words, text, expected", [
    (MOSES_LOWER, "The children washed themselves.", "the children washed themselves ."),
    (MOSES_LOWER, 'Don\'t, "a & b"', "don 't , \" a &amp; b \""),
    (PTB, "The company's shares rose 5.5 $ 1,000, you know.", "the company 's shares rose N $ N you know"),
    (PTB, "Mr. Smith can't know U.S. shares", "mr. smith ca n't know u.s. shares"),
    (PTB, "I cannot know. Viewers' shares", "i can not know viewers ' shares"),
    (PTB, "Rose $N", "rose $ N"),
    (WIKI, "The well-known man paid 1,000 for 0.7 kg.", "The well @-@ known man paid 1 @,@ 000 for 0 @.@ 7 kg ."),
    (WIKI, "It don't (Chang'an), \"<unk>\" Gen. man.", "It don 't ( Chang 'an ) , \" <unk> \" Gen. man ."),
    (CURLY, 'The King\'s Son said, "No [she]."', "The King ’ s Son said , “ No &#91; she &#93; . ”"),
    (CURLY, "The King’s Son", "The King ’ s Son"),
])
def test_typed_text_comes_out_as_the_corpus_writes_it(words, text, expected):
    assert tokens(text, words) == expected.split()


def test_an_unknown_word_is_kept_whole_and_only_edge_punctuation_comes_off():
    assert tokens("(deficit-reduction) e-mail, l.j. hooker", PTB) == ["deficit-reduction", "e-mail", "l.j.", "hooker"]
    assert tokens("the x-ray, said.", MOSES_LOWER) == ["the", "x-ray", ",", "said", "."]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([PTB, MOSES_LOWER, WIKI, CURLY]), st.data())
def test_text_already_written_the_corpus_way_is_unchanged(words, data):
    line = data.draw(st.lists(st.sampled_from([w for w in words if w != "<s>"]), min_size=1, max_size=12))
    assert tokens(" ".join(line), words) == line
    assert tokens(" ".join(tokens(" ".join(line), words)), words) == line  # and applying twice changes nothing


def test_saved_conventions_are_read_leniently():
    saved = Conventions(lowercase=True, numbers="N").to_dict()
    assert Conventions.from_dict(saved) == Conventions(lowercase=True, numbers="N")
    assert Conventions.from_dict({**saved, "quotes": "fancy", "lowercase": "yes", "future": 1}) == \
        Conventions(numbers="N")


def test_the_model_stores_its_conventions_and_tokenizes_typed_text_with_them(tiny_lm, tmp_path):
    assert tiny_lm.conventions is not None  # the tiny corpus is pre-tokenized
    assert tiny_lm.tokenize("the cat sat.") == ["the", "cat", "sat", "."]
    assert tiny_lm.tokenize("the cat sat.", pretokenized=True) == ["the", "cat", "sat."]
    tiny_lm.conventions = Conventions(lowercase=True)
    path = tiny_lm.save(tmp_path / "m")
    config = json.loads((path / "config.json").read_text())
    assert config["tokenizer"]["conventions"] == Conventions(lowercase=True).to_dict()
    from rnngen.lm import LanguageModel

    loaded = LanguageModel.load(path)
    assert loaded.conventions == Conventions(lowercase=True)
    assert loaded.tokenize("The CAT sat.") == ["the", "cat", "sat", "."]
    assert [t.token for t in loaded.score(["The CAT sat."])[0].tokens] == ["the", "cat", "sat", ".", "</s>"]


@pytest.mark.shared
@pytest.mark.parametrize("train, test, at_least", [
    ("ptb/valid.txt", "ptb/test.txt", 0.99),
    ("wikitext-2/valid.txt", "wikitext-2/test.txt", 0.97),
    ("grimm/train.txt", "grimm/valid.txt", 0.98),
    ("japanese-fairy-tales/train.txt", "japanese-fairy-tales/valid.txt", 0.99),
])
def test_detokenized_corpus_lines_come_back_as_the_corpus_tokens(shared_corpora, train, test, at_least):
    """Real lines, detokenized by NLTK's Treebank detokenizer, rewritten with what the training words show."""
    from collections import Counter

    counts = Counter(w for line in read_lines(shared_corpora / train) for w in line)
    conventions = Conventions.learn([w for w, _ in counts.most_common()])
    result = round_trip(read_lines(shared_corpora / test)[:1500], conventions, counts.__contains__,
                        treebank_detokenizer())
    assert result.lines == min(1500, len(read_lines(shared_corpora / test)))
    assert result.share >= at_least, result.differences.most_common(5)
