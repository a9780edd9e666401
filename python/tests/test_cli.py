"""The `logpond` console script the wheel installs: the one Rust command
line, run as a user runs it."""

from __future__ import annotations

import pathlib
import signal
import subprocess
import sys
import time

import logpond

SCRIPT = pathlib.Path(sys.executable).parent / "logpond"


def cli(*args: str, stdin: str = "") -> "subprocess.CompletedProcess[str]":
    return subprocess.run([str(SCRIPT), *args], input=stdin, capture_output=True, text=True, timeout=60)


def test_the_console_script_sends_and_tails(tmp_path: pathlib.Path) -> None:
    pond = str(tmp_path / "pond")
    assert cli("--pond", pond, "create-topic", "orders", "--partitions", "1").returncode == 0
    assert cli("--pond", pond, "send", "orders", "--key", "k", stdin="a\nb\n").returncode == 0
    out = cli("--pond", pond, "tail", "orders", "--from-beginning", "--format", r"%o:%k=%s\n")
    assert (out.returncode, out.stdout) == (0, "0:k=a\n1:k=b\n")
    with logpond.open(pond, read_only=True) as p:
        assert [r.value for r in p.read("orders", 0)] == [b"a", b"b"]


def test_bad_input_exits_2_with_one_line(tmp_path: pathlib.Path) -> None:
    out = cli("--pond", str(tmp_path / "missing"), "topics")
    assert out.returncode == 2
    assert out.stderr.startswith("logpond: ") and out.stderr.count("\n") == 1


def test_ctrl_c_ends_a_follow(tmp_path: pathlib.Path) -> None:
    pond = str(tmp_path / "pond")
    with logpond.open(pond) as p:
        p.create_topic("t")
    child = subprocess.Popen([str(SCRIPT), "--pond", pond, "tail", "t", "-f"], stdout=subprocess.PIPE)
    try:
        time.sleep(0.5)
        child.send_signal(signal.SIGINT)
        assert child.wait(timeout=10) == -signal.SIGINT
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
