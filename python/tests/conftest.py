from __future__ import annotations

import pathlib
import subprocess
from typing import Any, Iterator, List

import pytest

import logpond


@pytest.fixture
def pond() -> Iterator[logpond.Pond]:
    with logpond.memory() as p:
        yield p


@pytest.fixture
def pond_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "pond"


@pytest.fixture(params=["memory", "file"])
def any_pond(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[logpond.Pond]:
    """The same test on both storages."""
    if request.param == "memory":
        p = logpond.memory()
    else:
        p = logpond.open(tmp_path / "pond")
    with p:
        yield p

Children = List["subprocess.Popen[Any]"]


@pytest.fixture
def children() -> Iterator[Children]:
    """Processes started by a test: every one is killed, also on failure."""
    started: Children = []
    yield started
    for p in started:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)
