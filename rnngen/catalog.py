"""The models on disk as plain rows, for `rnngen models` and the Models screen."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from rnngen import checkpoint


def model_row(folder: Path, data: checkpoint.CheckpointData | None, error: str = "") -> dict[str, Any]:
    """One model's facts, read from its JSON files only (no weights are loaded)."""
    if data is None:
        return {"name": folder.name, "path": str(folder), "error": error}
    model = data.config.get("model", {})
    mtime = (folder / "config.json").stat().st_mtime
    ngram = model.get("kind") == "ngram"
    return {
        "name": folder.name,
        "path": str(folder),
        "type": f"{model.get('order', '?')}-gram" if ngram else model.get("rnn_type", "?"),
        "size": "KN" if ngram else f"{model.get('layers', 0)}x{model.get('hidden', 0)}",
        "layers": model.get("layers", 0),
        "emb": model.get("emb", 0),
        "hidden": model.get("hidden", 0),
        "tied": model.get("tied", False),
        "vocab": data.config.get("vocab_size", 0),
        "parameters": data.config.get("parameters", 0),
        "corpus": data.corpus.get("name", ""),
        "best_valid_ppl": data.history.get("best_valid_ppl"),
        "epochs": len(data.history.get("epochs", [])),
        "date": dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M"),
        "error": "",
    }


def model_rows(root: Path | None = None) -> list[dict[str, Any]]:
    return [model_row(folder, data, error) for folder, data, error in checkpoint.list_checkpoints(root)]


def details(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A model's options flat ('model.hidden', 'train.lr', 'parameters') and its per-epoch records
    (epoch, train_loss, valid_ppl, ...), from one read through the checked reader."""
    data = checkpoint.read(Path(folder))
    flat = {f"{section}.{key}": value for section in ("model", "train") for key, value in
            (data.config.get(section) or {}).items()}
    flat["parameters"] = data.config.get("parameters", "")
    return flat, [e for e in data.history.get("epochs", []) if checkpoint.is_record(e)]


def differing(a: dict[str, Any], b: dict[str, Any]) -> list[tuple[str, Any, Any, bool]]:
    """(setting, value in a, value in b, whether they differ) for every setting of either, model ones first."""
    keys = sorted(set(a) | set(b), key=lambda k: (not k.startswith("model"), k))
    return [(k, a.get(k, ""), b.get(k, ""), str(a.get(k, "")) != str(b.get(k, ""))) for k in keys]
