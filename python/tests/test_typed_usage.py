from __future__ import annotations

import pathlib

import pytest

import typed_usage


def test_typed_usage_runs(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    typed_usage.main()
    assert (tmp_path / "typed-usage-pond").is_dir()
