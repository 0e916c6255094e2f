"""A model on disk: one folder, written atomically, read without unpickling.

Layout of `checkpoints/NAME/`:
  model.safetensors   weights (safetensors: no code can hide in them)
  config.json         format version, model/train/tokenizer settings
  vocab.json          the vocabulary, id order
  history.json        per-epoch training history and the best validation perplexity
  corpus.json         where the training text came from and its fingerprint
  trainer.pt          optimiser state for --resume (read with weights_only=True)

The folder is assembled under a temporary name beside the target and renamed
into place, so a crash never leaves a half-written model where a good one was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnngen.errors import CheckpointError

FORMAT = "rnngen-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("config.json", "vocab.json", "model.safetensors")


@dataclass
class CheckpointData:
    """Everything in a checkpoint folder except the tensors' owner objects."""

    config: dict[str, Any]
    vocab_json: str
    history: dict[str, Any] = field(default_factory=dict)
    corpus: dict[str, Any] = field(default_factory=dict)


def default_root() -> Path:
    """`checkpoints/` in the working directory, or $RNNGEN_CHECKPOINTS."""
    return Path(os.environ.get("RNNGEN_CHECKPOINTS", "checkpoints"))


def resolve(name_or_path: str | Path, root: Path | None = None) -> Path:
    """A bare name means a folder under the checkpoints root; anything with a slash is a path."""
    p = Path(name_or_path)
    if p.is_absolute() or len(p.parts) > 1 or p.exists() and p.is_dir() and (p / "config.json").exists():
        return p
    return (root or default_root()) / p


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def save(folder: Path, module, data: CheckpointData, trainer_state: dict | None = None) -> Path:
    """Write a checkpoint folder atomically (temp folder, then rename)."""
    from safetensors.torch import save_model

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        config = {"format": FORMAT, "format_version": FORMAT_VERSION, **data.config}
        write_json(tmp / "config.json", config)
        (tmp / "vocab.json").write_text(data.vocab_json, encoding="utf-8")
        write_json(tmp / "history.json", data.history)
        write_json(tmp / "corpus.json", data.corpus)
        save_model(module, str(tmp / "model.safetensors"), metadata={"format": FORMAT})
        if trainer_state is not None:
            import torch

            torch.save(trainer_state, tmp / "trainer.pt")
        _swap_into_place(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def _swap_into_place(tmp: Path, folder: Path) -> None:
    if folder.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{folder.name}.old-", dir=folder.parent))
        old.rmdir()
        folder.rename(old)
        tmp.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(folder)


def read(folder: Path) -> CheckpointData:
    """Read and check the JSON parts; weights are loaded by `load_weights`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CheckpointError(f"no model at {folder}: train one with `rnngen train CORPUS --out NAME`")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise CheckpointError(f"{folder} is not a complete rnngen model (missing {', '.join(missing)})")
    config = _read_json(folder / "config.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CheckpointError(f"{folder}/config.json is not an rnngen checkpoint")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"{folder} was written in checkpoint format {version}; this rnngen reads format {FORMAT_VERSION}"
        )
    history = _read_json(folder / "history.json") if (folder / "history.json").exists() else {}
    corpus = _read_json(folder / "corpus.json") if (folder / "corpus.json").exists() else {}
    vocab_json = (folder / "vocab.json").read_text(encoding="utf-8")
    return CheckpointData(config, vocab_json, history, corpus)


def load_weights(folder: Path, module) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    try:
        missing, unexpected = load_model(module, str(Path(folder) / "model.safetensors"), strict=False)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"{folder}/model.safetensors is corrupt or does not fit its config: {exc}") from None
    if missing or unexpected:
        raise CheckpointError(f"{folder}/model.safetensors does not match its config (missing {missing}, extra {unexpected})")


def load_trainer_state(folder: Path) -> dict | None:
    """Optimiser and loop state for resuming, loaded with `weights_only=True`."""
    path = Path(folder) / "trainer.pt"
    if not path.exists():
        return None
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file: the weights are still usable
        raise CheckpointError(f"{path} is corrupt, cannot resume: {exc}") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path} is corrupt: {exc}") from None


def list_checkpoints(root: Path | None = None) -> list[tuple[Path, CheckpointData | None, str]]:
    """Every model folder under root, with its data or the reason it cannot be read."""
    root = root or default_root()
    out: list[tuple[Path, CheckpointData | None, str]] = []
    if not root.is_dir():
        return out
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        try:
            out.append((folder, read(folder), ""))
        except CheckpointError as exc:
            out.append((folder, None, str(exc)))
    return out


def rename(folder: Path, new_name: str) -> Path:
    target = folder.parent / new_name
    if not new_name or "/" in new_name or new_name.startswith("."):
        raise CheckpointError(f"{new_name!r} is not a valid model name")
    if target.exists():
        raise CheckpointError(f"a model named {new_name!r} already exists")
    folder.rename(target)
    return target


def delete(folder: Path) -> None:
    read(folder)  # refuse to delete anything that is not a checkpoint
    shutil.rmtree(folder)
