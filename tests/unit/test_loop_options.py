"""The event loop `motia start` runs on: uvloop when it is installed, unless MOTIA_UVLOOP=0."""

from __future__ import annotations

import importlib.util

import pytest

from motia_core.runtime import app


def test_uvloop_is_used_when_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTIA_UVLOOP", raising=False)
    expected = {} if importlib.util.find_spec("uvloop") is None else {"use_uvloop": True}
    assert app.loop_options() == expected


def test_motia_uvloop_0_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MOTIA_UVLOOP", "0")
    assert app.loop_options() == {}


def test_without_uvloop_the_default_loop_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTIA_UVLOOP", raising=False)
    monkeypatch.setattr(app.importlib.util, "find_spec", lambda name: None)
    assert app.loop_options() == {}
