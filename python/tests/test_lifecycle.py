"""Opening, closing, reopening, locking, durability and storage errors."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import time

from typing import Any, Callable

import pytest

import logpond


def _fill(pond: logpond.Pond) -> None:
    now = int(time.time() * 1000)
    pond.create_topic("orders", partitions=3, retention=3600.0, max_record_bytes=4096)
    pond.create_topic("state", compact=True)
    pond.send_many(
        "orders",
        [
            {"key": f"customer-{i % 7}", "value": f'{{"n": {i}}}', "headers": [("i", str(i))], "timestamp_ms": now + i}
            for i in range(300)
        ],
    )
    pond.send("orders", b"\x00\xff binary", partition=2, timestamp_ms=now)
    pond.send("state", None, key=b"gone", timestamp_ms=now)
    pond.send("state", b"v", key=b"kept", headers=[("a", b""), ("a", b"2")], timestamp_ms=now)


def _snapshot(pond: logpond.Pond) -> dict[str, Any]:
    out = {}
    for topic in pond.topics():
        info = pond.describe(topic)
        out[topic] = (info, [pond.read(topic, p.partition, p.start_offset, max_records=10_000) for p in info.partitions])
    return out


def test_written_closed_reopened_reads_identical(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir) as pond:
        _fill(pond)
        before = _snapshot(pond)
    assert pond.closed
    assert pond_dir.is_dir()
    with logpond.open(str(pond_dir)) as again:
        after = _snapshot(again)
        assert after == before
        assert sum(len(r) for r in after["orders"][1]) == 301
        # and it goes on from where it was
        assert again.send("orders", b"next", partition=2).offset == before["orders"][0].partitions[2].end_offset


def test_survives_a_killed_process(pond_dir: pathlib.Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, logpond
        pond = logpond.open({str(pond_dir)!r})
        pond.create_topic("t")
        for i in range(100):
            pond.send("t", str(i))
        os._exit(0)  # no close, no flush
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, cwd=pond_dir.parent)
    with logpond.open(pond_dir) as pond:
        assert [r.value for r in pond.read("t")] == [str(i).encode() for i in range(100)]


def test_two_handles_share_a_pond_and_its_groups(pond_dir: pathlib.Path) -> None:
    first = logpond.open(pond_dir)
    second = logpond.open(pond_dir)  # no PondLocked: handles share a directory
    first.create_topic("t", partitions=2)
    second.send("t", "from the second", partition=1)
    assert [r.value for r in first.read("t", 1)] == [b"from the second"]
    a = first.consumer("g", "t", auto_offset_reset="earliest")
    b = second.consumer("g", "t", auto_offset_reset="earliest")  # the same group, another handle
    for _ in range(3):
        a.poll()
        b.poll()
    assert sorted(a.assignment() + b.assignment()) == [("t", 0), ("t", 1)]
    a.close()
    b.close()
    first.close()
    second.close()


def test_processes_share_a_pond(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir) as pond:
        pond.create_topic("t")
        pond.send("t", "parent")
        script = textwrap.dedent(
            f"""
            import logpond
            with logpond.open({str(pond_dir)!r}) as pond:
                assert [r.value for r in pond.read("t")] == [b"parent"]
                pond.send("t", "child")
            """
        )
        subprocess.run([sys.executable, "-c", script], cwd=pond_dir.parent, check=True, timeout=60)
        assert [r.value for r in pond.read("t")] == [b"parent", b"child"]


def test_closed(pond_dir: pathlib.Path) -> None:
    pond = logpond.open(pond_dir)
    pond.create_topic("t")
    assert not pond.closed
    pond.close()
    pond.close()  # twice is harmless
    assert pond.closed
    calls: list[Callable[[], object]] = [
        lambda: pond.topics(),
        lambda: pond.create_topic("u"),
        lambda: pond.describe("t"),
        lambda: pond.delete_topic("t"),
        lambda: pond.send("t", b"v"),
        lambda: pond.send_many("t", [b"v"]),
        lambda: pond.read("t"),
        lambda: pond.offset_for_time("t", 0, 0),
        lambda: pond.offsets("t"),
        lambda: pond.delete_records("t", 0, 0),
        lambda: pond.maintain(),
        lambda: pond.flush(),
    ]
    for call in calls:
        with pytest.raises(logpond.Closed) as e:
            call()
        assert e.value.code == "CLOSED"
    # the directory is free again
    with logpond.open(pond_dir):
        pass


def test_memory_pond_closes_too() -> None:
    pond = logpond.memory()
    pond.close()
    with pytest.raises(logpond.Closed):
        pond.create_topic("t")


def test_context_manager_closes_on_error(pond_dir: pathlib.Path) -> None:
    with pytest.raises(RuntimeError):
        with logpond.open(pond_dir) as pond:
            raise RuntimeError("boom")
    assert pond.closed
    logpond.open(pond_dir).close()  # not locked any more


def test_fsync_durability_and_flush(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir, durability="fsync") as pond:
        assert pond.durability == "fsync"
        pond.create_topic("t")
        pond.send_many("t", [b"a", b"b"])
        pond.send("t", b"c")
        pond.flush()
    with logpond.open(pond_dir) as pond:
        assert pond.durability == "os"
        assert [r.value for r in pond.read("t")] == [b"a", b"b", b"c"]
        pond.flush()


def test_open_arguments() -> None:
    with pytest.raises(logpond.InvalidArgument):
        logpond.open("/tmp/never-created-logpond", durability="sometimes")
    with pytest.raises(TypeError):
        logpond.memory(clock="not a clock")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        logpond.open(42)  # type: ignore[arg-type]
    assert not os.path.exists("/tmp/never-created-logpond")


def test_path_and_repr(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir) as pond:
        assert pond.path == pond_dir
        assert repr(pond) == f"<logpond.Pond {str(pond_dir)!r} durability=os>"
    assert repr(pond).endswith("closed>")
    with logpond.memory() as m:
        assert m.path is None
        assert repr(m) == "<logpond.Pond memory durability=os>"
    assert isinstance(m, logpond.Pond)
    assert isinstance(logpond.Pond.memory(), logpond.Pond)


def test_storage_error_is_io_error(tmp_path: pathlib.Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_bytes(b"not a directory")
    with pytest.raises(logpond.IoError) as e:
        logpond.open(a_file)
    assert isinstance(e.value, OSError) and isinstance(e.value, logpond.LogpondError)
    assert e.value.errno is not None and e.value.code == "IO"


def test_corruption_on_open(pond_dir: pathlib.Path) -> None:
    logpond.open(pond_dir).close()
    (pond_dir / "pond.meta").write_bytes(b"garbage, not a format marker")
    with pytest.raises(logpond.Corruption) as e:
        logpond.open(pond_dir)
    assert e.value.code == "CORRUPTION"


def test_torn_tail_is_truncated(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir) as pond:
        pond.create_topic("t")
        pond.send_many("t", [b"one", b"two"])
        pond.send("t", b"three")
    segments = sorted((pond_dir / "topics" / "t" / "0").glob("*.log"))
    assert segments
    with open(segments[-1], "ab") as f:
        f.write(b"\x13\x00\x00\x00half a frame")
    with logpond.open(pond_dir) as pond:
        assert [r.value for r in pond.read("t")] == [b"one", b"two", b"three"]
        assert pond.send("t", b"four").offset == 3
