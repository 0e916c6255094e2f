"""A model on disk: one folder, written atomically, read without unpickling.

Layout of `checkpoints/NAME/`:
  model.safetensors   weights (safetensors: no code can hide in them)
  config.json         format version, model/train/tokenizer settings
  vocab.json          the vocabulary, id order
  history.json        per-epoch training history and the best validation perplexity
  corpus.json         where the training text came from and its fingerprint
  trainer.pt          optimiser state for --resume (read with weights_only=True)

The folder is assembled under a temporary name beside the target (config.json
last, so a copy with a config.json is complete) and swapped into place in one
step where the system allows (`rnngen.atomic.exchange`), otherwise by two
renames; a crash between them is repaired by the next command that opens the
model (`recover`). The rules of what a save may replace live here, not in the
front ends: the checkpoints root is never a model, a folder that is not an
rnngen model is never replaced or deleted, and a model is replaced only by a
save of the same run (its `run` id) or with explicit consent (`replace=True`).
Every file is read through one validating reader (regular files only, a size
limit, checked types), so a malformed folder is "unreadable: why", never a crash.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import stat
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnngen import atomic
from rnngen.errors import CheckpointError
from rnngen.lock import ModelLock, is_locked

FORMAT = "rnngen-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("config.json", "vocab.json", "model.safetensors")
# Size limits of the files a checkpoint holds (bytes): far above any real model's, far below harm.
JSON_LIMIT = 16 * 2**20
VOCAB_LIMIT = 512 * 2**20
# The hidden copies a save leaves while it works: `.NAME.tmp-XXXXXXXX` (the new model) and `.NAME.old-XXXXXXXX`.
_COPY = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[A-Za-z0-9_]{8}$")


@dataclass
class CheckpointData:
    """Everything in a checkpoint folder except the tensors' owner objects."""

    config: dict[str, Any]
    vocab_json: str
    history: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)


def new_run_id() -> str:
    """The id a training run stamps on its saves, so a later save knows it replaces its own model."""
    return uuid.uuid4().hex


def default_root() -> Path:
    """`checkpoints/` in the working directory, or $RNNGEN_CHECKPOINTS."""
    return Path(os.environ.get("RNNGEN_CHECKPOINTS", "checkpoints"))


# -- names and places ----------------------------------------------------------
def name_problem(name: str) -> str | None:
    """Why `name` cannot name a model folder, or None: the one rule the CLI, the TUI and rename share."""
    if not name or not name.strip():
        return "a model needs a name"
    if name in (".", ".."):
        return f"{name!r} is not a model name"
    if "/" in name or "\\" in name or "\x00" in name:
        return f"{name!r} is not a model name (no slashes or NUL characters)"
    if name.startswith("."):
        return f"{name!r} is not a model name (it must not start with a dot)"
    if any(ord(ch) < 32 for ch in name):
        return f"{name!r} is not a model name (no control characters)"
    if len(name.encode("utf-8")) > 200:
        return "a model name must be at most 200 bytes"
    return None


def resolve(name_or_path: str | Path, root: Path | None = None) -> Path:
    """A bare name means a folder under the checkpoints root; anything with a slash is a path.

    Refuses what can never be a model: an empty name, `.`/`..`, the
    checkpoints root itself or a folder that holds it, the working directory.
    """
    raw = str(name_or_path)
    if "\x00" in raw:
        raise CheckpointError("a model name must not contain NUL characters")
    p = Path(raw)
    root = root or default_root()
    if not raw.strip():
        raise CheckpointError("a model needs a name")
    if not p.parts:
        raise CheckpointError(f"{raw!r} is not a model name")
    written_as_path = "/" in raw or os.sep in raw  # "./mydata" is a folder here, not a name under checkpoints/
    if p.is_absolute() or written_as_path or p.is_dir() and (p / "config.json").exists():
        target = p.absolute()  # absolute: resolving it again (as a save does) must give the same folder
    else:
        target = root / p
    problem = name_problem(target.name) if target.name not in ("", ".", "..") else f"{raw!r} is not a model name"
    if problem or p.parts[-1] in (".", ".."):
        raise CheckpointError(problem or f"{raw!r} is not a model name")
    here, full = Path.cwd().resolve(), target.resolve()
    if full == root.resolve() or full in root.resolve().parents:
        raise CheckpointError(f"{raw!r} is the checkpoints folder itself (or holds it), not a model")
    if full == here or full in here.parents:
        raise CheckpointError(f"{raw!r} is the working folder (or holds it), not a model")
    return target


def write_json(path: Path, data: Any) -> None:
    atomic.write_json(path, data)


# -- saving -------------------------------------------------------------------
def save(folder: Path, module, data: CheckpointData, trainer_state: dict | None = None,
         replace: bool = False) -> Path:
    """Write a checkpoint folder atomically, under the model's lock.

    An existing model is replaced only by a save of the same run (the same
    `run` id in config.json) or with `replace=True`; anything else at
    `folder` that is not an rnngen model is never touched.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    with ModelLock(folder):
        _repair(folder)
        check_replaceable(folder, data.config.get("run"), replace)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
        try:
            _write_folder(tmp, module, data, trainer_state)
            atomic.kill_point("written")
            _swap_into_place(tmp, folder)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _sync_dir(folder.parent)
    return folder


def check_replaceable(folder: Path, run: str | None, replace: bool = False) -> None:
    """Refuse to put a model where it would destroy something it has no right to."""
    if not os.path.lexists(folder):
        return
    if folder.is_symlink() or not folder.is_dir():
        raise CheckpointError(f"{folder} exists and is not an rnngen model; refusing to replace it "
                              "(choose another name)")
    if not is_model_folder(folder):
        if any(folder.iterdir()):
            raise CheckpointError(f"{folder} exists and is not an rnngen model; refusing to replace it "
                                  "(choose another name)")
        return
    if replace:
        return
    existing = _peek_config(folder).get("run")
    if existing != run:
        raise CheckpointError(f"a model named {folder.name!r} already exists at {folder}: resume it, or replace it "
                              "explicitly ({resume} or {force})", options=("resume", "force"))


def _write_folder(tmp: Path, module, data: CheckpointData, trainer_state: dict | None) -> None:
    from safetensors.torch import save_model

    (tmp / "vocab.json").write_text(data.vocab_json, encoding="utf-8")
    (tmp / "history.json").write_text(_dumps(data.history), encoding="utf-8")
    (tmp / "corpus.json").write_text(_dumps(data.corpus), encoding="utf-8")
    if isinstance(module, dict):  # plain arrays (an n-gram model's tables)
        from safetensors.numpy import save_file

        save_file(module, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
    else:
        save_model(module, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
    if trainer_state is not None:
        import torch

        torch.save(trainer_state, tmp / "trainer.pt")
    for name in os.listdir(tmp):
        _sync_file(tmp / name)
    # written last: a copy with a config.json is complete (`recover` relies on it)
    config = {"format": FORMAT, "format_version": FORMAT_VERSION, **data.config}
    atomic.write_json(tmp / "config.json", config)


def _swap_into_place(tmp: Path, folder: Path) -> None:
    if not os.path.lexists(folder):
        tmp.rename(folder)
        atomic.kill_point("renamed")
        return
    if atomic.exchange(tmp, folder):
        atomic.kill_point("exchanged")
        shutil.rmtree(tmp, ignore_errors=True)  # now holds the previous model
        return
    old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
    old.rmdir()
    folder.rename(old)
    atomic.kill_point("moved-old")
    tmp.rename(folder)
    atomic.kill_point("moved-new")
    shutil.rmtree(old, ignore_errors=True)


def _dumps(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _sync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sync_dir(path: Path) -> None:
    try:
        _sync_file(path)
    except OSError:  # not every filesystem lets a folder be synced
        pass


# -- recovery after a crash ----------------------------------------------------
def copies(folder: Path) -> list[Path]:
    """The hidden copies of `folder` that saves left beside it."""
    folder = Path(folder)
    if not folder.parent.is_dir():
        return []
    return sorted(p for p in folder.parent.iterdir()
                  if (m := _COPY.match(p.name)) and m["name"] == folder.name and p.is_dir() and not p.is_symlink())


def recover(folder: Path) -> bool:
    """Repair what a killed save left, unless a live process is saving it now; True if a model was restored."""
    folder = Path(folder)
    if not copies(folder) or is_locked(folder):
        return False
    with ModelLock(folder):
        return _repair(folder)


def _repair(folder: Path) -> bool:
    """Under the lock: put the newest complete copy in place if the model is missing, remove the rest."""
    found = copies(folder)
    restored = False
    if not os.path.lexists(folder):
        complete = [p for p in found if is_model_folder(p) and all((p / n).is_file() for n in REQUIRED)]
        if complete:
            newest = max(complete, key=lambda p: (p / "config.json").stat().st_mtime_ns)
            newest.rename(folder)
            found.remove(newest)
            restored = True
    for stale in found:
        shutil.rmtree(stale, ignore_errors=True)
    return restored


# -- reading ------------------------------------------------------------------
def read_file(path: Path, limit: int = JSON_LIMIT) -> bytes:
    """A checkpoint file's bytes: a regular file (no link, FIFO or device), at most `limit` bytes."""
    info = read_file_check(path)
    if info.st_size > limit:
        raise CheckpointError(f"{path} is {info.st_size:,} bytes, more than the {limit:,} a checkpoint file may be")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = _read_upto(f, limit + 1)
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror}") from None
    if len(data) > limit:
        raise CheckpointError(f"{path} is larger than the {limit:,} bytes a checkpoint file may be")
    return data


def _read_upto(f, most: int, chunk: int = 1 << 20) -> bytes:
    """At most `most` bytes, a chunk at a time: f.read(most) would allocate all of `most` at once
    (512 MiB for every vocabulary read), whatever the file's size."""
    parts, total = [], 0
    while total < most:
        part = f.read(min(chunk, most - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def read_text(path: Path, limit: int = JSON_LIMIT) -> str:
    try:
        return read_file(path, limit).decode("utf-8")
    except UnicodeDecodeError:
        raise CheckpointError(f"{path} is not UTF-8 text") from None


def read_json(path: Path, limit: int = JSON_LIMIT) -> Any:
    return _loads(read_text(path, limit), path)


def _loads(text: str, path: Path) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from None
    except RecursionError:
        raise CheckpointError(f"{path} is corrupt: nested too deeply") from None


def _peek_config(folder: Path) -> dict:
    try:
        config = read_json(folder / "config.json")
    except CheckpointError:
        return {}
    return config if isinstance(config, dict) else {}


def model_settings(folder: Path) -> dict:
    """config.json's "model" section, {} where there is none or it cannot be read (a quick look, unchecked:
    enough to tell an n-gram from an RNN before the checked read)."""
    model = _peek_config(Path(folder)).get("model")
    return model if isinstance(model, dict) else {}


def is_model_folder(folder: Path) -> bool:
    """Whether `folder` says it is an rnngen model (its config.json names the format), readable or not."""
    return _peek_config(Path(folder)).get("format") == FORMAT


def read(folder: Path) -> CheckpointData:
    """Read and check the JSON parts; weights are loaded by `load_weights`."""
    folder = Path(folder)
    recover(folder)  # what a killed save left: the model put back if it is missing, stale copies removed
    if not folder.is_dir():
        raise CheckpointError(f"no model at {folder}: train one with `rnngen train CORPUS --out NAME`")
    missing = [name for name in REQUIRED if not os.path.lexists(folder / name)]
    if missing:
        raise CheckpointError(f"{folder} is not a complete rnngen model (missing {', '.join(missing)})")
    config = read_json(folder / "config.json")
    _check_config(folder, config)
    history = _optional(folder, "history.json", _check_history)
    corpus = _optional(folder, "corpus.json", _check_corpus)
    vocab_json = read_text(folder / "vocab.json", VOCAB_LIMIT)
    _check_vocab(folder / "vocab.json", vocab_json)
    return CheckpointData(config, vocab_json, history, corpus)


def _check_vocab(path: Path, text: str) -> None:
    """The vocabulary is a list of usable words (`Vocabulary` says which), so listing shows a broken one."""
    from rnngen.vocab import Vocabulary

    try:
        data = _loads(text, path)
        if not isinstance(data, dict) or not isinstance(data.get("words"), list):
            raise ValueError("it is not {\"words\": [...]}")
        Vocabulary(data["words"])
    except ValueError as exc:
        raise CheckpointError(f"{path} is not a usable vocabulary: {exc}") from None


def _optional(folder: Path, name: str, check) -> dict:
    path = folder / name
    if not os.path.lexists(path):
        return {}
    return check(path, read_json(path))


def _check_config(folder: Path, config: Any) -> None:
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{folder}/config.json is not an rnngen checkpoint")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise CheckpointError(f"{folder}/config.json: format_version must be a whole number, got {version!r}")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} was written in checkpoint format {version}; this rnngen reads format {FORMAT_VERSION}"
        )
    for key in ("model", "train", "tokenizer"):
        if key in config and not isinstance(config[key], dict):
            raise CheckpointError(f"{folder}/config.json: {key!r} must be an object, got {_kind(config[key])}")
    if not isinstance(config.get("model"), dict):
        raise CheckpointError(f"{folder}/config.json has no model settings")
    for key in ("vocab_size", "parameters"):
        value = config.get(key, 0)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise CheckpointError(f"{folder}/config.json: {key!r} must be a whole number, got {value!r}")
    if "run" in config and not isinstance(config["run"], str):
        raise CheckpointError(f"{folder}/config.json: 'run' must be a string")


def _check_history(path: Path, history: Any) -> dict:
    if not isinstance(history, dict):
        raise CheckpointError(f"{path} must hold an object, got {_kind(history)}")
    epochs = history.get("epochs", [])
    if not isinstance(epochs, list):
        raise CheckpointError(f"{path}: 'epochs' must be a list, got {_kind(epochs)}")
    best = history.get("best_valid_ppl")
    if best is not None and (not _is_number(best) or not best > 0):
        raise CheckpointError(f"{path}: 'best_valid_ppl' must be a positive number, got {best!r}")
    return {**history, "epochs": [h for h in epochs if is_record(h)]}


def _check_corpus(path: Path, corpus: Any) -> dict:
    if not isinstance(corpus, dict):
        raise CheckpointError(f"{path} must hold an object, got {_kind(corpus)}")
    for key in ("name", "source", "fingerprint"):
        if key in corpus and not isinstance(corpus[key], str):
            raise CheckpointError(f"{path}: {key!r} must be a string, got {_kind(corpus[key])}")
    return corpus


def is_record(h: object) -> bool:
    """A well-formed history record (history.json is a plain file a person may have edited)."""
    return (isinstance(h, dict) and isinstance(h.get("epoch"), int) and not isinstance(h.get("epoch"), bool)
            and all(_is_number(h.get(key)) for key in ("train_loss", "valid_ppl")))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string"}.get(type(value), type(value).__name__)


def weight_shapes(folder: Path) -> dict[str, tuple[int, ...]]:
    """The tensors' names and shapes from the safetensors header, without reading the tensors."""
    from safetensors import SafetensorError, safe_open

    path = Path(folder) / "model.safetensors"
    read_file_check(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from None


def read_file_check(path: Path) -> os.stat_result:
    """Refuse a checkpoint file that is not a regular file (a link, FIFO or device); its status otherwise."""
    try:
        info = os.lstat(path)
    except OSError as exc:
        raise CheckpointError(f"{path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CheckpointError(f"{path} is not a regular file")
    return info


def load_weights(folder: Path, module) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    read_file_check(Path(folder) / "model.safetensors")
    try:
        missing, unexpected = load_model(module, str(Path(folder) / "model.safetensors"), strict=False)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{folder}/model.safetensors is corrupt or does not fit its config: {exc}") from None
    if missing or unexpected:
        raise CheckpointError(f"{folder}/model.safetensors does not match its config (missing {missing}, extra {unexpected})")


def load_trainer_state(folder: Path) -> dict | None:
    """Optimiser and loop state for resuming, loaded with `weights_only=True` and checked."""
    path = Path(folder) / "trainer.pt"
    if not os.path.lexists(path):
        return None
    read_file_check(path)
    import pickle

    import torch

    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise CheckpointError(f"{path} holds Python objects that rnngen does not load; cannot resume "
                              "(the model itself is still usable)") from None
    except Exception as exc:  # corrupt file: the weights are still usable
        raise CheckpointError(f"{path} is corrupt, cannot resume: {str(exc).splitlines()[0][:200]}") from None
    _check_trainer_state(path, state)
    return state


def _check_trainer_state(path: Path, state: Any) -> None:
    problems = []
    if not isinstance(state, dict):
        problems.append("it is not a dictionary")
    else:
        if not isinstance(state.get("optimizer"), dict):
            problems.append("no optimizer state")
        for key, kind in (("lr", "number"), ("best", "number"), ("epoch", "whole number")):
            value = state.get(key)
            ok = isinstance(value, int) and not isinstance(value, bool) if kind == "whole number" else (
                isinstance(value, (int, float)) and not isinstance(value, bool))
            if not ok:
                problems.append(f"{key!r} is not a {kind}")
    if problems:
        raise CheckpointError(f"{path} is not a trainer state rnngen wrote ({'; '.join(problems)}); cannot resume")


def list_checkpoints(root: Path | None = None) -> list[tuple[Path, CheckpointData | None, str]]:
    """Every model folder under root, with its data or the reason it cannot be read."""
    root = root or default_root()
    out: list[tuple[Path, CheckpointData | None, str]] = []
    if not root.is_dir():
        return out
    for entry in list(root.iterdir()):
        m = _COPY.match(entry.name)
        if m:
            recover(root / m["name"])
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            out.append((folder, read(folder), ""))
        except CheckpointError as exc:
            out.append((folder, None, str(exc)))
    return out


def rename(folder: Path, new_name: str) -> Path:
    problem = name_problem(new_name)
    if problem:
        raise CheckpointError(problem)
    target = folder.parent / new_name
    if os.path.lexists(target):
        raise CheckpointError(f"a model named {new_name!r} already exists")
    with ModelLock(folder), ModelLock(target):
        folder.rename(target)
    return target


def looks_like_model(folder: Path) -> bool:
    """Whether `folder` is an rnngen model, perhaps a damaged one: its config.json names the format, or
    it holds every file a model has (so a model whose config.json was corrupted can still be deleted,
    while a folder of someone's own files never can)."""
    folder = Path(folder)
    return is_model_folder(folder) or all((folder / name).is_file() and not (folder / name).is_symlink()
                                          for name in REQUIRED)


def delete(folder: Path) -> None:
    """Delete a model folder, readable or not; refuses anything that is not an rnngen model."""
    folder = Path(folder)
    if folder.is_symlink() or not folder.is_dir() or not looks_like_model(folder):
        raise CheckpointError(f"{folder} is not an rnngen model; refusing to delete it")
    with ModelLock(folder):
        shutil.rmtree(folder)
