"""The README's examples and the package docstring run as written."""

from __future__ import annotations

import doctest
import pathlib
import re

import pytest

import logpond

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_has_examples() -> None:
    assert _blocks()


@pytest.mark.parametrize("index", range(len(_blocks())))
def test_readme_example_runs(index: int, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = compile(_blocks()[index], f"README.md example {index + 1}", "exec")
    exec(code, {"__name__": "__readme__"})


def test_package_docstring() -> None:
    failures, tried = doctest.testmod(logpond, verbose=False)
    assert tried > 0 and failures == 0
