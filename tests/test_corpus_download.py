"""The download path against a local HTTP server: success, checksum, truncation, resume, archives, offline."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import subprocess
import sys
import tarfile
import threading
import time
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rnngen.corpus import load_corpus
from rnngen.corpus.download import extract, fetch
from rnngen.corpus.registry import get, lookup, read_manifest, remove
from rnngen.errors import CorpusError, DownloadError

FIXTURES = Path(__file__).parent / "fixtures" / "corpus"
ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


class Server:
    """Files by URL path; `truncate` paths send a Content-Length larger than the body, then hang up."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.truncate: dict[str, int] = {}  # path -> bytes actually sent (once, then served in full)
        self.no_range: set[str] = set()
        self.stall: set[str] = set()  # send half the body, then go silent
        self.requests: list[tuple[str, str | None]] = []

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _handler(server: Server):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            rng = self.headers.get("Range")
            server.requests.append((self.path, rng))
            body = server.files.get(self.path)
            if body is None:
                self.send_error(404, "Not Found")
                return
            start = 0
            if rng and self.path not in server.no_range:
                start = int(rng.split("=")[1].split("-")[0])
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            part = body[start:]
            self.send_header("Content-Length", str(len(part)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if self.path in server.stall:
                self.wfile.write(part[: len(part) // 2])
                self.wfile.flush()
                time.sleep(3)
                return
            cut = server.truncate.pop(self.path, None)
            self.wfile.write(part[:cut] if cut is not None else part)
            if cut is not None:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

    return Handler


@pytest.fixture()
def server():
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture()
def closed_port() -> int:
    """A port on 127.0.0.1 with nothing listening."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


# -- fetch ----------------------------------------------------------------------------


def test_fetch_verifies_and_reports_progress(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    seen = []
    path = fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(PAYLOAD), size=len(PAYLOAD),
                 progress=lambda label, done, total: seen.append((label, done, total)))
    assert path.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    assert seen[0] == ("f.bin", 0, len(PAYLOAD))
    assert seen[-1] == ("f.bin", len(PAYLOAD), len(PAYLOAD))
    assert [d for _, d, _ in seen] == sorted(d for _, d, _ in seen)


def test_fetch_md5_checksum(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum="md5:" + hashlib.md5(PAYLOAD).hexdigest())
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_fetch_wrong_checksum_is_refused_and_removed(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="failed its sha256 check"):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(b"something else"))
    assert not (tmp_path / "f.bin").exists()
    assert not (tmp_path / "f.bin.part").exists()


def test_fetch_wrong_size_is_refused(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    with pytest.raises(DownloadError, match="has 10,240 bytes, expected 10,000"):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", size=10_000)
    assert not (tmp_path / "f.bin").exists()


def test_truncated_transfer_fails_then_resumes_with_range(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.truncate["/f.bin"] = 4000
    with pytest.raises(DownloadError, match=r"cut short after 4,000 of 10,240 bytes; run the command again"):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "f.bin.part").read_bytes() == PAYLOAD[:4000]
    assert not (tmp_path / "f.bin").exists()
    fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert server.requests == [("/f.bin", None), ("/f.bin", "bytes=4000-")]


def test_resume_of_existing_part_file(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:6000])
    seen = []
    fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(PAYLOAD),
          progress=lambda label, done, total: seen.append((done, total)))
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert server.requests == [("/f.bin", "bytes=6000-")]
    assert seen[0] == (6000, len(PAYLOAD))


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.no_range.add("/f.bin")
    (tmp_path / "f.bin.part").write_bytes(b"x" * 3000)  # stale partial data
    fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_complete_part_file_answered_416_is_fetched_again(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD + b"extra")
    fetch(server.url("/f.bin"), tmp_path / "f.bin", checksum=sha256(PAYLOAD))
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert server.requests == [("/f.bin", f"bytes={len(PAYLOAD) + 5}-"), ("/f.bin", None)]


def test_stalled_transfer_times_out_and_keeps_the_part(server, tmp_path):
    server.files["/f.bin"] = PAYLOAD
    server.stall.add("/f.bin")
    with pytest.raises(DownloadError, match=r"timed out after 5,120 of 10,240 bytes; run the command again"):
        fetch(server.url("/f.bin"), tmp_path / "f.bin", timeout=0.5)
    assert (tmp_path / "f.bin.part").read_bytes() == PAYLOAD[:5120]


def test_http_error_is_one_clear_line(server, tmp_path):
    with pytest.raises(DownloadError, match=r"answered 404 Not Found for http://127\.0\.0\.1:\d+/missing"):
        fetch(server.url("/missing"), tmp_path / "x")


def test_refused_connection_says_offline(closed_port, tmp_path):
    with pytest.raises(DownloadError) as info:
        fetch(f"http://127.0.0.1:{closed_port}/f.bin", tmp_path / "f.bin", timeout=5)
    assert str(info.value) == (f"cannot connect to 127.0.0.1:{closed_port}: connection refused "
                               "(offline, or the server is down)")


def test_unknown_host_says_offline(tmp_path):
    with pytest.raises(DownloadError, match=r"cannot look up no-such-host\.invalid: are you offline\?"):
        fetch("http://no-such-host.invalid/f.bin", tmp_path / "f.bin", timeout=5)


# -- archives ---------------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: dict[str, bytes], links: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tf.addfile(info)
    return path


def test_extract_safe_zip_and_tar(tmp_path):
    members = {"corpus/train.txt": b"a b c\n", "corpus/sub/valid.txt": b"d e\n"}
    for archive in (make_zip(tmp_path / "a.zip", members), make_tar(tmp_path / "a.tgz", members)):
        target = tmp_path / f"out-{archive.suffix}"
        files = extract(archive, target)
        assert sorted(p.relative_to(target).as_posix() for p in files) == ["corpus/sub/valid.txt", "corpus/train.txt"]
        assert (target / "corpus" / "sub" / "valid.txt").read_bytes() == b"d e\n"


@pytest.mark.parametrize("evil", ["../escape.txt", "corpus/../../escape.txt", "/tmp/rnngen-abs-escape.txt"])
def test_zip_with_escaping_path_is_refused(tmp_path, evil):
    archive = make_zip(tmp_path / "evil.zip", {"corpus/ok.txt": b"fine\n", evil: b"owned\n"})
    target = tmp_path / "out"
    with pytest.raises(DownloadError, match=r"unsafe path .*nothing was extracted"):
        extract(archive, target)
    assert not (tmp_path / "escape.txt").exists()
    assert not Path("/tmp/rnngen-abs-escape.txt").exists()
    assert not (target / "corpus" / "ok.txt").exists()


@pytest.mark.parametrize("evil", ["../escape.txt", "a/../../escape.txt", "/tmp/rnngen-abs-escape.txt"])
def test_tar_with_escaping_path_is_refused(tmp_path, evil):
    archive = make_tar(tmp_path / "evil.tgz", {"corpus/ok.txt": b"fine\n", evil: b"owned\n"})
    target = tmp_path / "out"
    with pytest.raises(DownloadError, match=r"unsafe path .*nothing was extracted"):
        extract(archive, target)
    assert not (tmp_path / "escape.txt").exists()
    assert not (target / "corpus" / "ok.txt").exists()


def test_tar_with_symlink_leading_out_is_refused(tmp_path):
    archive = make_tar(tmp_path / "evil.tgz", {"corpus/ok.txt": b"fine\n"}, links={"corpus/link": "../../etc"})
    with pytest.raises(DownloadError, match=r"link 'corpus/link' -> '\.\./\.\./etc' leading outside"):
        extract(archive, tmp_path / "out")


def test_not_an_archive(tmp_path):
    (tmp_path / "x.zip").write_bytes(b"plain text, not a zip")
    with pytest.raises(DownloadError, match="neither a zip nor a tar archive"):
        extract(tmp_path / "x.zip", tmp_path / "out")


# -- the registry, end to end ------------------------------------------------------------

WIKI = {
    "train": " = Lobster = \n\n The lobster is blue . It lives in the sea .\n The <unk> is red when cooked .\n",
    "valid": " = Crab = \n\n The crab walks sideways .\n",
    "test": " = Shrimp = \n\n The shrimp is small .\n",
}


def serve_wikitext(server: Server) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for split, text in WIKI.items():
            zf.writestr(f"wikitext-2/wiki.{split}.tokens", text)
    server.files["/wikitext-2/wikitext-2-v1.zip"] = buf.getvalue()


def test_get_wikitext_through_a_mirror_and_load_it(server, tmp_path):
    serve_wikitext(server)
    root = tmp_path / "corpora"
    folder = get("wikitext-2", root, mirror=server.base)
    assert folder == root / "wikitext-2"
    manifest = read_manifest(folder)
    assert manifest["name"] == "wikitext-2" and manifest["tokenized"] is True
    assert not list(root.glob(".*partial"))
    os.environ["RNNGEN_CORPORA"] = str(root)  # monkeypatched per test by conftest
    corpus = load_corpus("wikitext-2")
    assert corpus.name == "wikitext-2"
    assert corpus.settings.words == "whitespace"
    assert corpus.train == [["=", "Lobster", "="], ["The", "lobster", "is", "blue", ".", "It", "lives", "in", "the",
                                                    "sea", "."], ["The", "<unk>", "is", "red", "when", "cooked", "."]]
    assert corpus.valid == [["=", "Crab", "="], ["The", "crab", "walks", "sideways", "."]]
    assert get("wikitext-2", root, mirror=server.base) == folder  # already there: no new request
    assert len(server.requests) == 1
    remove("wikitext-2", root)
    assert not folder.exists()
    with pytest.raises(CorpusError, match="no downloaded corpus 'wikitext-2'"):
        remove("wikitext-2", root)


def test_get_gutenberg_book_strips_boilerplate(server, tmp_path):
    server.files["/gutenberg-11/pg11.txt"] = (FIXTURES / "pg_tiny.txt").read_bytes()
    folder = get("gutenberg:11", tmp_path, mirror=server.base)
    book = (folder / "book.txt").read_text(encoding="utf-8")
    assert book.startswith("A TINY TALE\n")
    assert book.rstrip().endswith("by morning the straw was gold.")
    assert "Gutenberg" not in book and "\r" not in book


def test_get_ptb_with_a_tampered_mirror_is_refused(server, tmp_path):
    for split in ("train", "valid", "test"):
        server.files[f"/ptb/ptb.{split}.txt"] = b" the cat sat on the mat \n"
    with pytest.raises(DownloadError, match=r"ptb\.train\.txt from .* failed its md5 check"):
        get("ptb", tmp_path, mirror=server.base)
    assert not (tmp_path / "ptb").exists()


def test_interrupted_get_resumes(server, tmp_path):
    serve_wikitext(server)
    size = len(server.files["/wikitext-2/wikitext-2-v1.zip"])
    server.truncate["/wikitext-2/wikitext-2-v1.zip"] = size // 2
    with pytest.raises(DownloadError, match="cut short"):
        get("wikitext-2", tmp_path, mirror=server.base)
    assert not (tmp_path / "wikitext-2").exists()
    assert [p.name for p in (tmp_path / ".wikitext-2.partial").glob("*.part")] == ["wikitext-2-v1.zip.part"]
    get("wikitext-2", tmp_path, mirror=server.base)
    assert read_manifest(tmp_path / "wikitext-2") is not None
    assert server.requests[-1] == ("/wikitext-2/wikitext-2-v1.zip", f"bytes={size // 2}-")


def test_archive_missing_a_split_is_refused(server, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("wikitext-2/wiki.train.tokens", "a b c\n")
    server.files["/wikitext-2/wikitext-2-v1.zip"] = buf.getvalue()
    with pytest.raises(DownloadError, match="lacks its valid file wikitext-2/wiki.valid.tokens"):
        get("wikitext-2", tmp_path, mirror=server.base)


def test_offline_get_leaves_nothing_behind(closed_port, tmp_path):
    with pytest.raises(DownloadError, match="connection refused"):
        get("gutenberg:5", tmp_path, mirror=f"http://127.0.0.1:{closed_port}", timeout=5)
    assert list(tmp_path.iterdir()) == []


def test_unknown_names(tmp_path):
    with pytest.raises(DownloadError, match="unknown corpus 'nope'"):
        get("nope", tmp_path)
    assert lookup("gutenberg:0") is None and lookup("gutenberg:abc") is None
    assert lookup("gutenberg:1342").files[0].url == "https://www.gutenberg.org/cache/epub/1342/pg1342.txt"


def test_not_downloaded_yet_message(tmp_path):
    with pytest.raises(CorpusError, match=r"corpus 'ptb' is not downloaded yet: run `rnngen corpus get ptb`"):
        load_corpus("ptb")


# -- NLTK, through a downloader that behaves like NLTK's (NLTK refuses loopback servers) ----


class FakeNLTK:
    """Yields NLTK's own message classes and writes the corpus as NLTK's downloader lays it out."""

    def __init__(self, files: dict[str, str] | None = None, error: str | None = None) -> None:
        self.files, self.error = files or {}, error
        self.calls = []

    def incr_download(self, ident, download_dir):
        from nltk.downloader import ErrorMessage, ProgressMessage

        self.calls.append((ident, download_dir))
        if self.error:
            yield ErrorMessage(None, self.error)
            return
        for i, (name, text) in enumerate(self.files.items()):
            path = Path(download_dir) / "corpora" / ident / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            yield ProgressMessage(100 * (i + 1) / len(self.files))


def test_nltk_plain_corpus(tmp_path, monkeypatch):
    nouns = ["nation", "people", "union", "republic", "peace", "land", "states", "country", "freedom"]
    speech = " ".join(f"Fellow citizens, I am called upon by the {a}. It is my duty to serve the {b}."
                      for a in nouns for b in nouns[:5])
    fake = FakeNLTK({"1789-Washington.txt": speech, "1793-Washington.txt": speech, "README": "not text"})
    seen = []
    folder = get("nltk:inaugural", tmp_path, progress=lambda *a: seen.append(a), nltk_downloader=fake)
    assert fake.calls == [("inaugural", str(tmp_path / ".nltk-inaugural.partial" / "corpus"))]
    assert seen[-1] == ("nltk:inaugural (nltk)", 100, 100)
    assert read_manifest(folder)["nltk_id"] == "inaugural"
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    corpus = load_corpus("nltk:inaugural")
    assert corpus.name == "nltk:inaugural"
    assert corpus.train[:2] == [["Fellow", "citizens", ",", "I", "am", "called", "upon", "by", "the", "nation", "."],
                                ["It", "is", "my", "duty", "to", "serve", "the", "nation", "."]]
    assert sum(len(s) for s in (corpus.train, corpus.valid, corpus.test)) == 180


def test_nltk_tagged_corpus_drops_tags(tmp_path, monkeypatch):
    lines = "\n\n\tThe/at jury/nn said/vbd ./.\n\n\tIt/pps rained/vbd ./.\n" * 5
    get("nltk:brown", tmp_path, nltk_downloader=FakeNLTK({"ca01": lines, "cats.txt": "ca01 news\n"}))
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    corpus = load_corpus("nltk:brown")
    assert corpus.train[:2] == [["The", "jury", "said", "."], ["It", "rained", "."]]
    assert len(corpus.train) + len(corpus.valid) + len(corpus.test) == 10


def test_nltk_error_is_one_line(tmp_path):
    fake = FakeNLTK(error="<urlopen error [Errno -2] Name or service not known>")
    with pytest.raises(DownloadError, match=r"^NLTK could not download 'brown': cannot reach the NLTK data server"):
        get("nltk:brown", tmp_path, nltk_downloader=fake)


# -- the real command line -----------------------------------------------------------------


def test_cli_get_list_stats_remove(server, tmp_path, monkeypatch, capsys):
    from rnngen.cli import main

    serve_wikitext(server)
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    assert main(["corpus", "get", "wikitext-2", "--mirror", server.base]) == 0
    assert "downloaded wikitext-2 into" in capsys.readouterr().err
    assert main(["corpus", "list", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["wikitext-2"]["status"] == "downloaded"
    assert rows["travel"]["status"] == "built-in"
    assert rows["ptb"]["status"] == "available"
    assert main(["corpus", "stats", "wikitext-2", "--json", "--top", "2"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["sentences"] == {"train": 3, "valid": 2, "test": 2}
    assert stats["top_words"] == [[".", 3], ["=", 2]]
    assert main(["corpus", "remove", "wikitext-2"]) == 0
    assert not (tmp_path / "wikitext-2").exists()


def test_cli_offline_is_one_clear_line(closed_port, capsys):
    from rnngen.cli import main

    assert main(["corpus", "get", "gutenberg:5", "--mirror", f"http://127.0.0.1:{closed_port}"]) == 2
    err = capsys.readouterr().err
    assert err == (f"rnngen: error: cannot connect to 127.0.0.1:{closed_port}: connection refused "
                   "(offline, or the server is down)\n")


def test_console_script_get_with_env_mirror(server, tmp_path):
    serve_wikitext(server)
    exe = ROOT / ".venv" / "bin" / "rnngen"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rnngen"]
    env = {**os.environ, "RNNGEN_CORPORA": str(tmp_path), "RNNGEN_MIRROR": server.base}
    done = subprocess.run([*cmd, "corpus", "get", "wikitext-2"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "wikitext-2" / "wikitext-2" / "wiki.test.tokens").read_text() == WIKI["test"]


def test_front_end_download_helper(server, tmp_path, monkeypatch):
    from rnngen.corpus.registry import CORPORA, download

    assert {"ptb", "wikitext-2", "wikitext-103-raw", "tinyshakespeare", "nltk:brown"} <= set(CORPORA)
    serve_wikitext(server)
    monkeypatch.setenv("RNNGEN_CORPORA", str(tmp_path))
    seen = []
    folder = download("wikitext-2", progress=lambda done, total, label: seen.append((done, total, label)),
                      mirror=server.base)
    assert folder == tmp_path / "wikitext-2"
    size = len(server.files["/wikitext-2/wikitext-2-v1.zip"])
    assert seen[-1] == (size, size, "wikitext-2: wikitext-2-v1.zip")
