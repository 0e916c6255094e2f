"""One reading policy for every input: corpora, sentence files and n-best lists answer alike."""

from __future__ import annotations

import io
import os

import pytest

from rnngen import textfile
from rnngen.corpus.local import read_text
from rnngen.errors import CorpusError, InputError
from rnngen.rerank import read_lines as read_nbest


@pytest.mark.parametrize("data, lines", [
    (b"a\nb\n", ["a", "b"]),
    (b"a\r\nb", ["a", "b"]),
    (b"\xef\xbb\xbfa b\n", ["a b"]),                      # the BOM is dropped
    (b"a\rb\n", ["a\rb"]),                                 # a lone CR is not a line end
    ("é ü\n".encode("utf-16"), ["é ü"]),                   # UTF-16 with its BOM
    (b"", []),
    (b"\n", [""]),
])
def test_lines_are_split_at_lf_and_crlf(data, lines):
    assert textfile.split_lines(textfile.decode(data, "x")) == lines


@pytest.mark.parametrize("data, message", [
    (b"ok\nbad \xff\n", "x, line 2: not UTF-8 text"),
    (b"ok\nok\n\x00\x01", r"x looks like a binary file, not text \(a NUL byte on line 3\)"),
    (bytes(range(1, 32)) * 20, r"x looks like a binary file, not text$"),
    ("x".encode("utf-16")[:3], "x starts like UTF-16 but is not valid UTF-16"),
])
def test_bad_bytes_are_refused_with_the_line(data, message):
    with pytest.raises(InputError, match=message):
        textfile.decode(data, "x")


def test_a_corpus_falls_back_to_windows_1252_with_a_warning():
    warnings: list[str] = []
    assert textfile.decode("café".encode("cp1252"), "book.txt", warnings=warnings) == "café"
    assert warnings == ["book.txt is not valid UTF-8 (byte 3); read it as Windows-1252/Latin-1"]


def test_every_reader_answers_a_binary_file_alike(tmp_path):
    path = tmp_path / "data.bin"
    path.write_bytes(b"0 ||| a ||| f= 1 ||| -1\n\x00\x00")
    expected = f"{path} looks like a binary file, not text (a NUL byte on line 2)"
    for read, error in ((textfile.read_lines, InputError), (read_nbest, InputError), (read_text, CorpusError)):
        with pytest.raises(error) as caught:
            read(path)
        assert str(caught.value) == expected


def test_folders_and_pipes_are_named_with_the_readers_hint(tmp_path):
    with pytest.raises(InputError) as caught:
        read_nbest(tmp_path)
    assert str(caught.value) == f"{tmp_path} is a folder; give an n-best list file"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputError) as caught:
        textfile.read_lines(fifo)
    assert str(caught.value) == f"{fifo} is not a regular file (a pipe or a device); pipe it in with '-' instead"
    with pytest.raises(CorpusError) as caught:
        read_text(fifo)
    assert str(caught.value) == f"{fifo} is not a regular file (a pipe or a device); save the text to a file first"


def test_standard_input_is_read_with_the_same_policy():
    assert textfile.read_lines("-", io.BytesIO(b"a\r\nb\n")) == ["a", "b"]
    with pytest.raises(InputError, match="^standard input, line 1: not UTF-8 text$"):
        textfile.read_lines("-", io.BytesIO(b"\xff"))


@pytest.mark.parametrize("raw", [
    "plain ascii\nlines\n".encode(), "\ufeffwith a BOM, caf\u00e9 \u2019 \U0001F600\n".encode() * 50,
    "UTF-16 text \u00e9\n".encode("utf-16"), "Windows-1252 caf\u00e9 \u2019\n".encode("cp1252") * 30,
])
def test_reading_a_block_at_a_time_equals_reading_whole(tmp_path, monkeypatch, raw):
    """Blocks of 7 bytes cut multibyte characters, a BOM and CRLFs anywhere: the text, the warnings and the
    digest are those of the whole-file reader."""
    import hashlib

    from rnngen import textfile

    path = tmp_path / "t.txt"
    path.write_bytes(raw)
    whole_warnings, block_warnings = [], []
    whole = textfile.decode(textfile.read_bytes(path), str(path), warnings=whole_warnings)
    monkeypatch.setattr(textfile, "BLOCK", 7)
    text, digest = textfile.read_and_digest(path, warnings=block_warnings)
    assert (text, block_warnings, digest) == (whole, whole_warnings, hashlib.sha256(raw).digest())


def test_reading_blocks_refuses_binary_as_the_whole_reader_does(tmp_path, monkeypatch):
    from rnngen import textfile

    path = tmp_path / "b.txt"
    path.write_bytes(b"text line\n" * 5 + b"\x00\x01binary")
    monkeypatch.setattr(textfile, "BLOCK", 16)
    with pytest.raises(InputError, match="binary file, not text \\(a NUL byte on line 6\\)"):
        textfile.read_and_digest(path)
