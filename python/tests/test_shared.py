"""Several processes on one pond at once: producers in three processes get
dense, unique offsets with each producer's order kept; a reader process
tails live; groups and queues run in one handle at a time."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import textwrap
from typing import Any, List

import pytest

import logpond
from conftest import Children

PRODUCER = textwrap.dedent(
    """
    import sys, logpond
    path, name, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with logpond.open(path) as pond:
        for n in range(count):
            batch = [dict(value=f"{name}:{n}:{i}", partition=(n + i) % 2) for i in range(n % 3 + 1)]
            pond.send_many("t", batch)
    """
)


def spawn(args: List[str], cwd: pathlib.Path) -> "subprocess.Popen[Any]":
    return subprocess.Popen([sys.executable, "-c", *args], cwd=cwd)



def test_producers_in_three_processes(pond_dir: pathlib.Path, children: Children) -> None:
    with logpond.open(pond_dir) as pond:
        pond.create_topic("t", partitions=2, segment_bytes=4096)
        for name in ("a", "b", "c"):
            children.append(spawn([PRODUCER, str(pond_dir), name, "300"], pond_dir.parent))
        for p in children:
            assert p.wait(timeout=120) == 0
        seen: dict[str, list[tuple[int, int, int]]] = {name: [] for name in "abc"}
        total = 0
        for partition in (0, 1):
            records = pond.read("t", partition, max_records=100_000)
            # No gaps, no duplicates: offsets are exactly 0..n-1.
            assert [r.offset for r in records] == list(range(len(records)))
            total += len(records)
            for r in records:
                name, n, i = (r.value or b"").decode().split(":")
                seen[name].append((int(n), int(i), partition))
        assert total == 3 * sum(n % 3 + 1 for n in range(300))
        for name, order in seen.items():
            # Each producer's records, per partition, in the order it sent them.
            for partition in (0, 1):
                mine = [(n, i) for n, i, p in order if p == partition]
                assert mine == sorted(mine), name


def test_a_reader_process_tails_live(pond_dir: pathlib.Path, children: Children) -> None:
    reader = textwrap.dedent(
        """
        import sys, logpond
        with logpond.open(sys.argv[1]) as pond:
            with pond.consumer("tail", "t", auto_offset_reset="earliest") as c:
                got = []
                while len(got) < 20:
                    batch = c.poll(timeout=30)
                    assert batch, "woken by nothing for 30 s"
                    got.extend(r.value for r in batch)
        assert got == [str(i).encode() for i in range(20)], got
        """
    )
    with logpond.open(pond_dir) as pond:
        pond.create_topic("t")
        children.append(spawn([reader, str(pond_dir)], pond_dir.parent))
        for i in range(20):
            pond.send("t", str(i))
        assert children[0].wait(timeout=90) == 0


WORKER = textwrap.dedent(
    """
    import sys, time, logpond
    path, mode = sys.argv[1], sys.argv[2]
    with logpond.open(path) as pond:
        q = pond.queue("jobs", "workers", ack_timeout=600, max_in_flight=8)
        if mode == "victim":
            held = q.receive(max_messages=8, timeout=30)
            print("HOLDING", " ".join(f"{d.record.partition}:{d.record.offset}" for d in held), flush=True)
            time.sleep(600)  # killed here, holding its leases
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            batch = q.receive(max_messages=5, timeout=0.2)
            for d in batch:
                d.ack()
                print("ACK", d.record.partition, d.record.offset, d.delivery_count, flush=True)
            if not batch and q.backlog() == 0:
                sys.exit(0)
        sys.exit(3)  # the backlog never drained
    """
)


def test_queue_workers_in_three_processes_and_a_killed_holder(pond_dir: pathlib.Path, children: Children) -> None:
    import signal

    with logpond.open(pond_dir) as pond:
        pond.create_topic("jobs", partitions=2)
        # The subscription (and its settings) exist before the records.
        pond.queue("jobs", "workers", ack_timeout=600).close()
        pond.send_many("jobs", [str(i) for i in range(200)])
    victim = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(pond_dir), "victim"], cwd=pond_dir.parent, stdout=subprocess.PIPE, text=True
    )
    children.append(victim)
    assert victim.stdout is not None
    line = victim.stdout.readline().split()
    assert line[0] == "HOLDING" and len(line) == 9, line
    held = {(int(place.split(":")[0]), int(place.split(":")[1])) for place in line[1:]}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(pond_dir), "worker"],
            cwd=pond_dir.parent,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    children.extend(workers)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    acked: dict[tuple[int, int], int] = {}
    for w in workers:
        out, _ = w.communicate(timeout=90)
        assert w.returncode == 0, out
        for row in out.splitlines():
            _, p, o, count = row.split()
            place = (int(p), int(o))
            assert place not in acked, f"{place} acked twice"
            acked[place] = int(count)
    with logpond.open(pond_dir) as pond:
        ends = {p.partition: p.end_offset for p in pond.describe("jobs").partitions}
    assert set(acked) == {(p, o) for p, end in ends.items() for o in range(end)}
    # What the killed worker held came back at once (its ack timeout is
    # 10 minutes), counted as delivered twice.
    assert all(acked[place] == 2 for place in held)
    assert all(count == 1 for place, count in acked.items() if place not in held)


MEMBER = textwrap.dedent(
    """
    import os, sys, time, logpond
    path, mode, stop = sys.argv[1], sys.argv[2], sys.argv[3]
    with logpond.open(path) as pond:
        c = pond.consumer("g", "events", auto_offset_reset="earliest", auto_commit=(mode != "victim"))
        if mode == "victim":
            got = []
            while not got:
                got = c.poll(max_records=30, timeout=5)
            for r in got:
                print("R", r.partition, r.offset, flush=True)
            print("HOLDING", flush=True)
            time.sleep(600)  # killed here, its records uncommitted
        deadline = time.monotonic() + 90
        while not os.path.exists(stop) and time.monotonic() < deadline:
            for r in c.poll(max_records=20, timeout=0.1):
                print("R", r.partition, r.offset, flush=True)
            c.commit()
        c.close()
    """
)


def test_group_members_in_three_processes_and_a_killed_member(tmp_path: pathlib.Path, children: Children) -> None:
    import queue
    import signal
    import threading

    pond_dir, stop = tmp_path / "pond", tmp_path / "STOP"
    with logpond.open(pond_dir) as pond:
        pond.create_topic("events", partitions=6)
        pond.send_many("events", [dict(value=str(i), partition=i % 6) for i in range(600)])

    def args(mode: str) -> List[str]:
        return [sys.executable, "-c", MEMBER, str(pond_dir), mode, str(stop)]

    victim = subprocess.Popen(args("victim"), cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    children.append(victim)
    assert victim.stdout is not None
    held = set()
    for line in victim.stdout:
        if line.startswith("HOLDING"):
            break
        _, p, o = line.split()
        held.add((int(p), int(o)))
    assert held, "the victim consumed something"
    lines: "queue.Queue[tuple[int, str]]" = queue.Queue()
    members = [subprocess.Popen(args("member"), cwd=tmp_path, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    children.extend(members)

    def pump(n: int, m: "subprocess.Popen[Any]") -> None:
        for x in m.stdout or []:
            lines.put((n, x))

    for n, m in enumerate(members):
        threading.Thread(target=pump, args=(n, m), daemon=True).start()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    consumed: dict[tuple[int, int], int] = {}
    while len(consumed) < 600:
        _, line = lines.get(timeout=60)
        _, p, o = line.split()
        place = (int(p), int(o))
        consumed[place] = consumed.get(place, 0) + 1
    stop.touch()
    for m in members:
        assert m.wait(timeout=60) == 0
    while not lines.empty():
        _, line = lines.get()
        _, p, o = line.split()
        place = (int(p), int(o))
        consumed[place] = consumed.get(place, 0) + 1
    # Every record consumed; what the two live members committed was never
    # consumed again (the killed member's uncommitted records were: once more).
    assert set(consumed) == {(i % 6, i // 6) for i in range(600)}
    twice = {place for place, n in consumed.items() if n > 1}
    assert not twice, sorted(twice)[:10]
    with logpond.open(pond_dir) as pond:
        c = pond.consumer("g", "events", auto_offset_reset="none")
        assert c.poll(timeout=1.0) == [], "the group committed everything"
        c.close()


def test_a_read_only_handle_beside_a_writer(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir) as writer:
        writer.create_topic("t")
        writer.send("t", "one")
        with logpond.open(pond_dir, read_only=True) as reader:
            assert [r.value for r in reader.read("t")] == [b"one"]
            writer.send("t", "two")
            assert [r.value for r in reader.read("t")] == [b"one", b"two"]
            with pytest.raises(logpond.IoError, match="read-only"):
                reader.send("t", "nope")
            with pytest.raises(logpond.IoError, match="read-only"):
                reader.consumer("g", "t")
    with pytest.raises(logpond.IoError):
        logpond.open(pond_dir.parent / "missing", read_only=True)
    assert not (pond_dir.parent / "missing").exists()


def test_backlog_limit_and_dead_letters_across_processes(pond_dir: pathlib.Path) -> None:
    child = textwrap.dedent(
        """
        import sys, logpond
        with logpond.open(sys.argv[1]) as pond:
            pond.send_many("jobs", ["ok"] * 4 + ["poison"])
            try:
                pond.send("jobs", "one too many")
                sys.exit("the backlog limit let a sixth record in")
            except logpond.Backpressure:
                pass
            q = pond.queue("jobs", "w", max_deliveries=2, dead_letter_topic="jobs.dlq")
            for _ in range(3):
                for d in q.receive(max_messages=10):
                    if d.record.value == b"poison":
                        d.nack()
        """
    )
    with logpond.open(pond_dir) as pond:
        pond.create_topic("jobs", max_backlog=5)
        pond.create_topic("jobs.dlq")
        q = pond.queue("jobs", "w", max_deliveries=2, dead_letter_topic="jobs.dlq")
        subprocess.run([sys.executable, "-c", child, str(pond_dir)], cwd=pond_dir.parent, check=True, timeout=60)
        # The child leased the four good records and died with them: they
        # come back here at once; the poison one was dead-lettered there.
        got = q.receive(max_messages=10, timeout=5)
        assert sorted(d.record.value or b"" for d in got) == [b"ok"] * 4
        q.ack_many(got)
        assert q.backlog() == 0
        (letter,) = pond.read("jobs.dlq")
        assert letter.value == b"poison"
        assert dict(letter.headers)["logpond.dlq.delivery_count"] == b"2"
        pond.send("jobs", "room again")


def test_a_manual_clock_pond_is_not_shared_with_another_process(pond_dir: pathlib.Path) -> None:
    child = textwrap.dedent(
        """
        import sys, logpond
        manual = sys.argv[2] == "manual"
        try:
            logpond.open(sys.argv[1], clock=logpond.ManualClock(0) if manual else None).close()
        except logpond.PondLocked as e:
            print(e)
            sys.exit(3)
        """
    )

    def other(kind: str) -> "subprocess.CompletedProcess[str]":
        args = [sys.executable, "-c", child, str(pond_dir), kind]
        return subprocess.run(args, cwd=pond_dir.parent, capture_output=True, text=True, timeout=60)

    clock = logpond.ManualClock(1_000)
    with logpond.open(pond_dir, clock=clock) as pond:
        with logpond.open(pond_dir, clock=clock):  # the same process may share its clock
            pass
        refused = other("system")
        assert refused.returncode == 3 and "ManualClock" in refused.stdout, refused
        pond.create_topic("t")
    assert other("system").returncode == 0, "once closed, the pond is anyone's"
    with logpond.open(pond_dir):
        assert other("manual").returncode == 3
        assert other("system").returncode == 0
