"""Sole tenure across processes: a process alone on its pond holds it
exclusively (no lock per operation), lets another process in when it
opens the pond, loses nothing when it is killed while alone, and a child it
forked does not keep its tenure after it dies."""

from __future__ import annotations

import os
import pathlib
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

import logpond
from conftest import Children

pytestmark = pytest.mark.skipif(not pathlib.Path("/proc/locks").exists(), reason="needs Linux /proc/locks")


def spawn(code: str, pond_dir: pathlib.Path) -> "subprocess.Popen[Any]":
    # Run beside the pond, not in python/ (whose logpond/ has no native module).
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), str(pond_dir)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=pond_dir.parent,
    )


def read_line(p: "subprocess.Popen[Any]", timeout: float) -> str:
    assert p.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(p.stdout, selectors.EVENT_READ)
        assert sel.select(timeout), f"no output within {timeout} s"
    return str(p.stdout.readline())


def held_alone(pond_dir: pathlib.Path) -> bool:
    """Whether some process holds LOCK.handles exclusively (found in
    /proc/locks by inode: looking must not open the file, which knocks)."""
    ino = os.stat(pond_dir / "LOCK.handles").st_ino
    for line in pathlib.Path("/proc/locks").read_text().splitlines():
        parts = line.split()
        if "->" in parts:
            continue  # a waiter, not a holder
        if len(parts) >= 6 and parts[1] == "FLOCK" and parts[3] == "WRITE":
            if int(parts[5].split(":")[2]) == ino:
                return True
    return False


def wait_until(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.01)
    return False


WRITER = """
    import sys, logpond
    with logpond.open(sys.argv[1]) as pond:
        n = 0
        while True:
            pond.send("t", f"w:{n}")
            n += 1
            if n % 100 == 0:
                print(n, flush=True)  # every record up to n is acknowledged
"""


def test_a_sole_writer_lets_another_process_in_and_loses_nothing_when_killed(
    pond_dir: pathlib.Path, children: Children
) -> None:
    with logpond.open(pond_dir) as pond:
        pond.create_topic("t", segment_bytes=64 * 1024)
    writer = spawn(WRITER, pond_dir)
    children.append(writer)
    while int(read_line(writer, 30)) < 1000:
        pass
    assert wait_until(lambda: held_alone(pond_dir), 10), "a lone writer holds the pond alone"

    started = time.monotonic()
    with logpond.open(pond_dir) as other:
        assert time.monotonic() - started < 5, "let in promptly"
        assert not held_alone(pond_dir), "shared while another handle is open"
        records = other.read("t", 0, max_records=10_000_000)
        assert [r.offset for r in records] == list(range(len(records)))
        mine = other.send("t", "from the test")
        assert mine.offset >= len(records)
    assert wait_until(lambda: held_alone(pond_dir), 10), "alone again once the other closed"

    acked = 0
    for _ in range(3):
        acked = int(read_line(writer, 30))
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)

    with logpond.open(pond_dir) as after:
        records = after.read("t", 0, max_records=10_000_000)
        assert [r.offset for r in records] == list(range(len(records)))
        values = [(r.value or b"").decode() for r in records]
        written = [int(v[2:]) for v in values if v.startswith("w:")]
        assert written == list(range(len(written))), "the writer's records, each once, in order"
        assert len(written) >= acked, "every acknowledged record is there"
        assert values.count("from the test") == 1
        assert after.send("t", "next").offset == len(records)


FORKING_PARENT = """
    import os, sys, time, logpond
    pond = logpond.open(sys.argv[1])
    for n in range(300):
        pond.send("t", f"p:{n}")
    child = os.fork()
    if child == 0:
        time.sleep(120)  # a worker that never touches the pond
        os._exit(0)
    print(child, flush=True)
    time.sleep(120)  # killed here, alone on the pond
"""


def test_a_forked_child_does_not_keep_a_dead_parents_tenure(pond_dir: pathlib.Path, children: Children) -> None:
    with logpond.open(pond_dir) as pond:
        pond.create_topic("t")
    parent = spawn(FORKING_PARENT, pond_dir)
    children.append(parent)
    child = int(read_line(parent, 30))
    try:
        assert wait_until(lambda: held_alone(pond_dir), 10), "the parent holds the pond alone"
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        # The child still has the parent's open files; it closed its copy
        # of the presence lock after the fork, so nobody holds the pond.
        assert wait_until(lambda: not held_alone(pond_dir), 5)
        started = time.monotonic()
        with logpond.open(pond_dir) as after:
            assert time.monotonic() - started < 5
            assert len(after.read("t", 0, max_records=1000)) == 300
    finally:
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
