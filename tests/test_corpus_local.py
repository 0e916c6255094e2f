"""Local text: encodings, line ends, binary/empty files, huge lines, Gutenberg, tokenized detection, layouts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rnngen.corpus import load_corpus
from rnngen.corpus.local import (load_local, looks_line_per_sentence, looks_pretokenized, read_text, strip_gutenberg,
                                 text_to_sentences)
from rnngen.errors import CorpusError

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"


def words_of(corpus):
    return [s for split in (corpus.train, corpus.valid, corpus.test) for s in split]


def test_utf8_bom_and_crlf():
    text, raw = read_text(FIXTURES / "bom_crlf.txt")
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
    assert text == "The fox ran home.\nThe hen sat still.\n\nThen the fox came back to the farm. The hen was gone.\n"
    sentences, settings = text_to_sentences(text, None, False)
    assert sentences[0] == ["The", "fox", "ran", "home", "."]
    assert sentences[-1] == ["The", "hen", "was", "gone", "."]


def test_other_encoding_falls_back_with_a_warning():
    warnings: list[str] = []
    text, _ = read_text(FIXTURES / "cp1252.txt", warnings)
    assert text.startswith("The café was closed. We walked to the naïve painter’s house.")
    assert warnings == ["cp1252.txt is not valid UTF-8 (byte 7); read it as Windows-1252/Latin-1"]


def test_utf16_with_bom(tmp_path):
    path = tmp_path / "u16.txt"
    path.write_bytes("Hello there. General Kenobi.\n".encode("utf-16"))
    assert read_text(path)[0] == "Hello there. General Kenobi.\n"


@pytest.mark.parametrize("content,message", [
    (b"", "is empty"), (b"  \n\r\n\t\n", "is empty"), (b"\xef\xbb\xbf\r\n", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "looks like a binary file"),
    (bytes(range(1, 32)) * 20, "looks like a binary file"),
])
def test_empty_and_binary_files_are_refused(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message):
        load_corpus(path)


def test_missing_path_and_folder_without_text(tmp_path):
    with pytest.raises(CorpusError, match="no such file or folder"):
        load_corpus(tmp_path / "nothing-here.txt")
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(CorpusError, match="holds no .txt files"):
        load_corpus(tmp_path)


def test_one_huge_line_without_newlines(tmp_path):
    nouns = ["king", "miller", "daughter", "fox", "giant", "tailor", "queen", "wolf"]
    verbs = ["saw", "met", "followed", "fooled", "thanked", "called"]
    text = " ".join(f"The {a} {v} the {b} in the {c} forest." for a in nouns for v in verbs for b in nouns
                    for c in ("dark", "green"))
    assert "\n" not in text and len(text) > 30_000
    path = tmp_path / "oneline.txt"
    path.write_text(text)
    corpus = load_local(path)
    assert corpus.settings.sentences == "punkt"
    assert len(words_of(corpus)) == 8 * 6 * 8 * 2
    assert words_of(corpus)[1] == ["The", "king", "saw", "the", "king", "in", "the", "green", "forest", "."]


def test_gutenberg_boilerplate_is_stripped():
    corpus = load_local(FIXTURES / "pg_tiny.txt")
    flat = [w for s in words_of(corpus) for w in s]
    assert "Gutenberg" not in flat and "ebook" not in flat and "eBook" not in flat
    assert words_of(corpus)[0] == ["A", "TINY", "TALE"]
    assert words_of(corpus)[-1] == ["He", "spun", "all", "night", ",", "and", "by", "morning", "the", "straw", "was",
                                    "gold", "."]


def test_tokenized_gutenberg_markers_are_found_mid_line():
    text = ("The Project Gutenberg eBook of X This ebook is free .\n* * * START OF THE PROJECT GUTENBERG EBOOK X * * * "
            "Once upon a time .\nThe end .\n* * * END OF THE PROJECT GUTENBERG EBOOK X * * * Updated editions .\n")
    assert strip_gutenberg(text).split() == ["Once", "upon", "a", "time", ".", "The", "end", "."]


def test_pretokenized_text_is_detected_and_not_retokenized(tmp_path):
    ptb = "".join(f" the <unk> company said it expects {n} N cents a share \n" for n in range(30))
    assert looks_pretokenized(ptb)
    path = tmp_path / "ptb.txt"
    path.write_text(ptb)
    corpus = load_local(path)
    assert corpus.settings.words == "whitespace" and corpus.settings.sentences == "lines"
    assert words_of(corpus)[0] == ["the", "<unk>", "company", "said", "it", "expects", "0", "N", "cents", "a", "share"]
    assert len(words_of(corpus)) == 30


def test_tokenized_can_be_forced_either_way(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("don't stop.\nit's fine, really.\nwe can't go.\n")
    forced = load_local(path, tokenized=True)
    assert words_of(forced)[0] == ["don't", "stop."]
    raw = load_local(path, tokenized=False)
    assert words_of(raw)[0] == ["do", "n't", "stop", "."]
    tokenized_text = tmp_path / "tok.txt"
    tokenized_text.write_text("".join(f"a <unk> , b {i} .\n" for i in range(5)))
    assert words_of(load_local(tokenized_text, tokenized=False))[0][:2] == ["a", "<"]


def test_wikitext_headings_kept_as_lines_when_tokenized_dropped_when_raw(tmp_path):
    tokens = " = Lobster = \n\n The lobster is blue . It lives in the <unk> .\n\n = = Habitat = = \n\n It lives at sea .\n"
    path = tmp_path / "wiki.tokens.txt"
    path.write_text(tokens)
    assert words_of(load_local(path)) == [["=", "Lobster", "="], ["The", "lobster", "is", "blue", ".", "It", "lives",
                                                                   "in", "the", "<unk>", "."],
                                          ["=", "=", "Habitat", "=", "="], ["It", "lives", "at", "sea", "."]]
    raw = " = Lobster = \n\n The lobster is blue. It lives in the sea.\n\n = = Habitat = = \n\n It lives at sea.\n"
    sentences, settings = text_to_sentences(raw, False, False)
    assert settings.words == "nltk"
    assert sentences == [["The", "lobster", "is", "blue", "."], ["It", "lives", "in", "the", "sea", "."],
                         ["It", "lives", "at", "sea", "."]]


def test_speaker_lines_are_their_own_sentences():
    corpus = load_local(FIXTURES / "play.txt")
    sents = words_of(corpus)
    assert sents[:4] == [["First", "Citizen", ":"], ["Before", "we", "proceed", "any", "further", ",", "hear", "me",
                                                    "speak", "."], ["All", ":"], ["Speak", ",", "speak", "."]]
    assert ["MENENIUS", ":"] in sents
    assert all(s[-1] != ":" or len(s) <= 3 for s in sents)


def test_one_sentence_per_line_raw_text(tmp_path):
    lines = [f"The {w} is on the table." for w in ("cup", "pen", "book", "lamp", "phone")] * 5
    lines += ["Mr. Smith went home.", "He said hello."]
    text = "\n".join(lines) + "\n"
    assert looks_line_per_sentence(text)
    path = tmp_path / "lines.txt"
    path.write_text(text)
    corpus = load_local(path)
    assert corpus.settings.words == "nltk" and corpus.settings.sentences == "lines"
    assert len(words_of(corpus)) == 27
    assert words_of(corpus)[-2] == ["Mr.", "Smith", "went", "home", "."]
    assert not looks_line_per_sentence((FIXTURES / "play.txt").read_text())


def test_folder_of_txt_files_recursively(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "b").mkdir()
    (tmp_path / "a" / "one.txt").write_text("The sun rose. The birds sang.\n")
    (tmp_path / "a" / "b" / "two.txt").write_text("The moon set. The owls slept.\n")
    (tmp_path / "a" / "notes.md").write_text("# not part of the corpus\n")
    shutil.copy(FIXTURES / "bom_crlf.txt", tmp_path / "a" / "b" / "three.txt")
    corpus = load_corpus(tmp_path / "a")
    assert corpus.name == "a"
    flat = [" ".join(s) for s in words_of(corpus)]
    # files in path order: a/b/three.txt, a/b/two.txt, a/one.txt
    assert flat[:3] == ["The fox ran home .", "The hen sat still .", "Then the fox came back to the farm ."]
    assert "The sun rose ." in flat and not any("not part" in s for s in flat)
    assert len(flat) == 8


def test_train_valid_test_layout_is_used_as_is(tmp_path):
    (tmp_path / "train.txt").write_text("".join(f"the cat sat on mat {i} .\n" for i in range(20)))
    (tmp_path / "valid.txt").write_text("the dog sat .\n")
    (tmp_path / "test.txt").write_text("a cat ran .\nthe end .\n")
    corpus = load_corpus(tmp_path)
    assert corpus.settings.words == "whitespace"
    assert len(corpus.train) == 20 and corpus.valid == [["the", "dog", "sat", "."]]
    assert corpus.test == [["a", "cat", "ran", "."], ["the", "end", "."]]
    assert corpus.warnings == []


def test_raw_layout_splits_sentences_with_punkt_from_train(tmp_path):
    (tmp_path / "train.txt").write_text("Dr. Watson came in. He sat down. " * 20 + "\n")
    (tmp_path / "valid.txt").write_text("Dr. Watson left. He was tired.\n")
    corpus = load_corpus(tmp_path)
    assert corpus.settings.sentences == "punkt"
    assert corpus.valid == [["Dr.", "Watson", "left", "."], ["He", "was", "tired", "."]]
    assert corpus.test == corpus.valid
    assert corpus.warnings == ["no test split found: using the validation split"]


def test_lowercase_option(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("The Cat sat.\nThe Dog ran.\nA Bird flew.\n")
    assert words_of(load_local(path, lowercase=True))[0] == ["the", "cat", "sat", "."]


def test_short_words_that_end_lines_are_sentence_ends_and_titles_stay_abbreviations():
    lines = "The cat sat.\nA dog ran.\nThe cat ran.\nA dog sat.\nThe dog sat.\nA cat ran.\n"
    sentences, _ = text_to_sentences(lines, tokenized=False, lowercase=False)
    assert [" ".join(s) for s in sentences] == [line[:-1] + " ." for line in lines.splitlines()]
    prose = ("Mr. Smith came home. Mr. Jones left early. Then Mr. Brown sat down.\n"
             "Dr. Who ran off. Dr. No came too. Dr. Jekyll hid.")
    sentences, _ = text_to_sentences(prose, tokenized=False, lowercase=False)
    assert [s[0] for s in sentences] == ["Mr.", "Mr.", "Then", "Dr.", "Dr.", "Dr."]
