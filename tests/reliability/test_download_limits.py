"""Issue 20, case 11: downloads and archives stay bounded, and every failure is one DownloadError line.

The limits are module constants shrunk here with monkeypatch, so each case takes well under a second.
The server is a local http.server on 127.0.0.1.
"""

from __future__ import annotations

import io
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnngen.corpus import download
from rnngen.corpus.download import extract, fetch
from rnngen.errors import DownloadError


class Handler(BaseHTTPRequestHandler):
    """`/drip`: 1 byte every 20 ms; `/endless`: an unbounded body without Content-Length."""

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200)
        if self.path == "/drip":
            self.send_header("Content-Length", "1000")
        self.end_headers()
        deadline = time.monotonic() + 5  # never outlive a test for long, even if the client stays
        try:
            while time.monotonic() < deadline:
                if self.path == "/drip":
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.02)
                else:
                    self.wfile.write(b"y" * 65536)
        except OSError:  # the client gave up: that is the point
            pass


@pytest.fixture()
def base():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


# -- the transfer ---------------------------------------------------------------------


def test_dripping_server_trips_the_minimum_rate(base, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "RATE_WINDOW", 0.3)
    monkeypatch.setattr(download, "MIN_RATE", 1000.0)
    start = time.monotonic()
    with pytest.raises(DownloadError, match=r"is too slow \(\d+ bytes/s over 0\.\d s, under 1,000\); run the command"):
        fetch(f"{base}/drip", tmp_path / "f.bin", timeout=5)
    assert time.monotonic() - start < 3  # a per-read timeout of 5 s would never have fired
    assert (tmp_path / "f.bin.part").exists()  # what came is kept for a resume


def test_dripping_server_trips_the_overall_deadline(base, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "MAX_SECONDS", 0.3)
    monkeypatch.setattr(download, "MIN_RATE", 0.0)
    with pytest.raises(DownloadError, match=r"took longer than 0\.3 s \(\d+ bytes so far\)"):
        fetch(f"{base}/drip", tmp_path / "f.bin", timeout=5)


def test_body_without_length_stops_at_the_download_limit(base, tmp_path, monkeypatch):
    monkeypatch.setattr(download, "MAX_DOWNLOAD_BYTES", 200_000)
    with pytest.raises(DownloadError, match=r"f\.bin from .* has more than the 200,000 bytes expected; removed"):
        fetch(f"{base}/endless", tmp_path / "f.bin", timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_body_without_length_stops_at_the_known_size(base, tmp_path):
    with pytest.raises(DownloadError, match=r"has more than the 100,000 bytes expected; removed the download"):
        fetch(f"{base}/endless", tmp_path / "f.bin", size=100_000, timeout=5)
    assert list(tmp_path.iterdir()) == []


# -- archives ---------------------------------------------------------------------------


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def tar_bytes(members: dict[str, bytes | None], mode: str = "w:gz") -> bytes:
    """None makes a folder."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type = tarfile.DIRTYPE
                tf.addfile(info)
            else:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def left_over(target: Path) -> list[str]:
    return sorted(p.relative_to(target).as_posix() for p in target.rglob("*")) if target.exists() else []


def test_zip_bomb_is_refused_by_ratio(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "RATIO_FLOOR", 10_000)
    (tmp_path / "bomb.zip").write_bytes(zip_bytes({"ok.txt": b"fine\n", "zeros.txt": bytes(2_000_000)}))
    with pytest.raises(DownloadError, match=r"bomb\.zip member 'zeros\.txt' would unpack to 2,000,000 bytes"):
        extract(tmp_path / "bomb.zip", tmp_path / "out")
    assert left_over(tmp_path / "out") == []


def test_zip_member_lying_about_its_size_is_stopped_while_copying(tmp_path, monkeypatch):
    """The copy counts real bytes: declared sizes pass the first check, the data does not."""
    monkeypatch.setattr(download, "MAX_MEMBER_BYTES", 50_000)
    monkeypatch.setattr(download, "_check_declared", lambda archive, sizes: None)  # as if the header lied
    (tmp_path / "big.zip").write_bytes(zip_bytes({"a/ok.txt": b"fine\n", "a/big.txt": b"z" * 200_000}))
    with pytest.raises(DownloadError, match=r"member 'a/big\.txt' unpacks to more than 50,000 bytes; removed"):
        extract(tmp_path / "big.zip", tmp_path / "out")
    assert left_over(tmp_path / "out") == []


def test_tar_over_the_total_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "MAX_EXTRACT_BYTES", 25_000)
    (tmp_path / "a.tgz").write_bytes(tar_bytes({f"c/{i}.txt": bytes([65 + i]) * 10_000 for i in range(3)}))
    with pytest.raises(DownloadError, match=r"past the unpacking limits"):
        extract(tmp_path / "a.tgz", tmp_path / "out")
    monkeypatch.setattr(download, "_check_declared", lambda archive, sizes: None)
    with pytest.raises(DownloadError, match=r"a\.tgz unpacks to more than 25,000 bytes; removed what was unpacked"):
        extract(tmp_path / "a.tgz", tmp_path / "out")
    assert left_over(tmp_path / "out") == []


def test_bad_crc_is_one_line_and_removes_the_output(tmp_path):
    data = bytearray(zipfile_stored({"c/first.txt": b"first\n", "c/second.txt": b"second file\n"}))
    at = data.index(b"second file")
    data[at] = ord("S")  # stored, not deflated: the bytes change, the header's CRC does not
    (tmp_path / "crc.zip").write_bytes(bytes(data))
    with pytest.raises(DownloadError) as info:
        extract(tmp_path / "crc.zip", tmp_path / "out")
    assert str(info.value) == "cannot unpack crc.zip: Bad CRC-32 for file 'c/second.txt'; removed what was unpacked"
    assert not (tmp_path / "out").exists()


def zipfile_stored(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("mode", ["w", "w:gz"])
def test_truncated_tar_is_one_line_and_removes_the_output(tmp_path, mode):
    body = bytes(range(256)) * 400
    whole = tar_bytes({"c/a.txt": b"a\n", "c/b.bin": body, "c/z.txt": b"z\n"}, mode)
    (tmp_path / "cut.tar").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("already here")
    with pytest.raises(DownloadError, match=r"^cannot unpack cut\.tar: it is truncated; removed what was unpacked$"):
        extract(tmp_path / "cut.tar", tmp_path / "out")
    assert left_over(tmp_path / "out") == ["keep.txt"]  # only what unpacking made is removed


@pytest.mark.parametrize("kind", ["zip", "tar"])
def test_file_and_folder_of_the_same_name_is_refused(tmp_path, kind):
    if kind == "zip":
        data = zip_bytes({"c/x": b"a file\n", "c/x/y.txt": b"inside a folder\n"})
    else:
        data = tar_bytes({"c/x/": None, "c/x/y.txt": b"in\n", "c/x": b"now a file\n"})
    (tmp_path / f"clash.{kind}").write_bytes(data)
    with pytest.raises(DownloadError, match=r"holds both a file and a folder named 'c/x'; nothing was extracted"):
        extract(tmp_path / f"clash.{kind}", tmp_path / "out")
    assert left_over(tmp_path / "out") == []


def test_corrupt_deflate_stream_is_one_line(tmp_path):
    data = bytearray(zip_bytes({"c/t.txt": bytes(range(256)) * 200}))
    start = data.index(b"c/t.txt") + len("c/t.txt")
    data[start + 10 : start + 60] = b"\xff" * 50  # garbage inside the compressed data
    (tmp_path / "z.zip").write_bytes(bytes(data))
    with pytest.raises(DownloadError, match=r"^cannot unpack z\.zip: .*; removed what was unpacked$"):
        extract(tmp_path / "z.zip", tmp_path / "out")
    assert left_over(tmp_path / "out") == []


def test_normal_archives_still_unpack(tmp_path):
    (tmp_path / "a.zip").write_bytes(zip_bytes({"c/train.txt": b"a b c\n" * 1000}))
    assert [p.name for p in extract(tmp_path / "a.zip", tmp_path / "o1")] == ["train.txt"]
    (tmp_path / "a.tgz").write_bytes(tar_bytes({"c/": None, "c/train.txt": b"a b\n"}))
    assert (extract(tmp_path / "a.tgz", tmp_path / "o2")[0]).read_bytes() == b"a b\n"
