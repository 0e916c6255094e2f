"""Fixtures for the TUI tests: the deterministic app environment, built once per session."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import torch

# Tiny models train fastest on one thread, and the test machine is shared.
torch.set_num_threads(1)

from tests.tui._harness import wait_for  # noqa: F401  (one wait for every TUI test: 90 s, for a busy CI machine)
from tests.tui.snapshot_app import build_env, make_snapshot_app, register_tiny


@pytest.fixture(scope="session")
def snapshot_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tui-env")
    build_env(root)
    return root


@pytest.fixture()
def tiny_builtin(monkeypatch):
    """The tiny corpus registered as a built-in (removed again after the test)."""
    from rnngen.corpus import BUILTIN

    monkeypatch.setitem(BUILTIN, "tiny", BUILTIN.get("tiny"))
    register_tiny()
    return "tiny"


@pytest.fixture()
def app_env(tmp_path, snapshot_root, tiny_builtin, monkeypatch):
    """A writable copy of the environment (tests rename and delete models)."""
    import shutil

    root = tmp_path / "env"
    shutil.copytree(snapshot_root, root)
    monkeypatch.setenv("RNNGEN_ERROR_LOG", str(tmp_path / "errors.log"))  # never the user's own log
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    return root


@pytest.fixture()
def app(app_env):
    app = make_snapshot_app(app_env)
    # every notification, also those whose time on screen is up (a slow machine reaches a check later)
    app.notified = []
    shown_for_a_while = app.notify

    def notify(message, *, title="", **kw):
        app.notified.append(f"{title}: {message}")
        return shown_for_a_while(message, title=title, **kw)

    app.notify = notify
    return app


def notifications(app) -> list[str]:
    """Every notification so far as 'title: message' (those still on screen, for an app not made here)."""
    recorded = getattr(app, "notified", None)
    return list(recorded) if recorded is not None else [f"{n.title}: {n.message}" for n in app._notifications]


def shown(widget, width: int = 200) -> str:
    """The text a Static shows (its content rendered by Rich, without styles)."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    content = widget.content
    console.print(content if not isinstance(content, str) else content, markup=False)
    return console.export_text()
