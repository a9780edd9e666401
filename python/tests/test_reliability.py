"""Failures found by trying logpond as a hostile user and a crashing machine
would (the reliability issue's F1-F9 and the smaller items); each test
failed before its fix."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap
import threading
import time
from typing import List

import pytest

import logpond


def test_a_recreated_topic_is_read_from_its_start_by_an_old_group() -> None:  # F1
    p = logpond.memory()
    p.create_topic("t")
    p.send_many("t", [b"a", b"b", b"c"])
    c = p.consumer("g", "t", auto_offset_reset="earliest")
    assert len(c.poll(10)) == 3
    c.commit()
    p.delete_topic("t")
    c.close()  # auto-commit on close must not write the old position back
    p.create_topic("t")
    p.send_many("t", [b"new0", b"new1", b"new2", b"new3"])
    c2 = p.consumer("g", "t", auto_offset_reset="earliest")
    assert c2.committed("t", 0) is None
    assert [r.value for r in c2.poll(10)] == [b"new0", b"new1", b"new2", b"new3"]


def test_a_relative_pond_path_does_not_follow_chdir(tmp_path: pathlib.Path) -> None:  # F2
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    script = textwrap.dedent(
        """
        import os, sys, logpond
        os.chdir(sys.argv[1])
        p = logpond.open("pond")
        p.create_topic("t", segment_bytes=256)
        os.chdir(sys.argv[2])
        for i in range(200):
            p.send("t", b"x" * 40)
        p.create_topic("later")
        p.send("later", b"y")
        p.close()
        """
    )
    subprocess.run([sys.executable, "-c", script, str(a), str(b)], check=True, timeout=60, cwd=tmp_path)
    assert not (b / "pond").exists()
    with logpond.open(a / "pond") as p:
        assert p.topics() == ["later", "t"]
        assert p.describe("t").partitions[0].end_offset == 200
        assert len(p.read("t", offset=150, max_records=100)) == 50


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks need privileges on Windows")
def test_symlinks_inside_a_pond_are_never_followed(tmp_path: pathlib.Path) -> None:  # F4
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    d = tmp_path / "pond"
    with logpond.open(d) as p:
        p.create_topic("t")
        p.send("t", b"x")
    segment = d / "topics" / "t" / "0" / "00000000000000000000.log"
    segment.unlink()
    segment.symlink_to(victim)
    with pytest.raises(logpond.LogpondError, match="symbolic link"):
        logpond.open(d)
    assert victim.read_bytes() == b"precious"
    # A planted temporary is removed, never written through.
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "pond.meta.tmp").symlink_to(victim)
    with logpond.open(fresh) as p:
        p.create_topic("u")
    assert victim.read_bytes() == b"precious"


def test_new_files_are_private_whatever_the_umask(tmp_path: pathlib.Path) -> None:
    old = os.umask(0)
    try:
        with logpond.open(tmp_path / "pond") as p:
            p.create_topic("t")
            p.send("t", b"x")
    finally:
        os.umask(old)
    for path in (tmp_path / "pond").rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_a_missing_topic_meta_is_corruption_not_a_deletion(tmp_path: pathlib.Path) -> None:  # F5
    d = tmp_path / "pond"
    with logpond.open(d) as p:
        p.create_topic("orders")
        p.send("orders", b"keep")
    (d / "topics" / "orders" / "topic.meta").unlink()
    with pytest.raises(logpond.Corruption, match="topics/orders/topic.meta"):
        logpond.open(d)
    assert list((d / "topics" / "orders" / "0").glob("*.log"))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() here")
def test_a_handle_used_after_fork_raises_and_loses_nothing(tmp_path: pathlib.Path) -> None:  # F6
    d = tmp_path / "pond"
    p = logpond.open(d)
    p.create_topic("t")
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: every use fails, and letting go writes nothing
        code = 0
        try:
            p.send("t", b"child")
            code = 1
        except logpond.LogpondError:
            pass
        try:
            p.close()
        except logpond.LogpondError:
            pass
        os.write(w, b"done")
        os._exit(code)
    os.read(r, 4)
    for i in range(2000):
        p.send("t", b"parent %d" % i)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0, "the child's send succeeded"
    p.close()
    with logpond.open(d) as again:
        assert again.describe("t").partitions[0].end_offset == 2000
        assert again.read("t", offset=1999)[0].value == b"parent 1999"


def test_one_failing_record_does_not_starve_a_subscription() -> None:  # F7
    p = logpond.memory()
    p.create_topic("t")
    p.send_many("t", [b"m0", b"m1", b"m2", b"m3"])
    seen: List[bytes] = []

    def handler(d: logpond.Delivery) -> None:
        seen.append(d.record.value or b"")
        if d.record.value == b"m1":
            raise ValueError("poison")

    with p.queue("t", "s").subscribe(handler):
        time.sleep(0.5)
    assert sorted(set(seen)) == [b"m0", b"m1", b"m2", b"m3"]
    assert seen.count(b"m1") == 1  # backed off 1 s before its second try


def test_a_plain_nack_goes_behind_the_waiting_records() -> None:  # F7
    p = logpond.memory()
    p.create_topic("t")
    p.send_many("t", [b"m0", b"m1", b"m2", b"m3"])
    q = p.queue("t", "s")
    order = []
    for _ in range(6):
        got = q.receive(1)
        if not got:
            break
        d = got[0]
        order.append(d.record.value)
        if d.record.value == b"m1" and d.delivery_count == 1:
            d.nack()
        else:
            d.ack()
    assert order == [b"m0", b"m1", b"m2", b"m3", b"m1"]


def test_headers_count_toward_max_record_bytes() -> None:  # F9
    p = logpond.memory()
    p.create_topic("t", max_record_bytes=100)
    with pytest.raises(logpond.RecordTooLarge):
        p.send("t", b"", headers=[("", b"")] * 100_000)
    with pytest.raises(logpond.RecordTooLarge):
        p.send("t", b"", headers=[("", b"")] * 51)
    p.send("t", b"", headers=[("", b"")] * 50)


def test_io_errors_name_the_path(tmp_path: pathlib.Path) -> None:
    f = tmp_path / "a-file"
    f.write_bytes(b"")
    with pytest.raises(logpond.LogpondError, match="a-file"):
        logpond.open(f)


def test_ack_many_with_a_delivery_twice_acts_as_a_second_ack() -> None:
    p = logpond.memory()
    p.create_topic("t")
    p.send("t", b"x")
    q = p.queue("t", "s")
    [d] = q.receive(1)
    with pytest.raises(logpond.LeaseExpired, match="listed twice"):
        q.ack_many([d, d])
    assert q.backlog() == 1  # all or none
    q.ack_many([d])
    assert q.backlog() == 0


def test_a_handler_raising_system_exit_stops_the_subscription_visibly() -> None:
    p = logpond.memory()
    p.create_topic("t")
    p.send_many("t", [b"a", b"b", b"c"])
    calls = []

    def handler(d: logpond.Delivery) -> None:
        calls.append(d.record.value)
        raise SystemExit(3)

    sub = p.queue("t", "s").subscribe(handler, concurrency=2)
    deadline = time.monotonic() + 10
    while sub.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sub.running
    assert isinstance(sub.error, SystemExit)
    with pytest.raises(SystemExit):
        sub.stop()
    sub.stop()  # raised once
    assert 1 <= len(calls) <= 2


def test_internal_topics_cannot_be_consumed_or_subscribed() -> None:
    p = logpond.memory()
    p.create_topic("t")
    c = p.consumer("g", "t", auto_offset_reset="earliest")
    p.send("t", b"x")
    c.poll(10)
    c.commit()  # __consumer_offsets now exists
    with pytest.raises(logpond.InvalidName):
        p.consumer("g2", "__consumer_offsets")
    with pytest.raises(logpond.InvalidName):
        p.queue("__consumer_offsets", "s")


def test_concurrent_subscribers_do_not_spin_on_a_poison_record() -> None:
    p = logpond.memory()
    p.create_topic("t")
    p.send("t", b"poison")
    calls = 0
    lock = threading.Lock()

    def handler(d: logpond.Delivery) -> None:
        nonlocal calls
        with lock:
            calls += 1
        raise RuntimeError("always")

    with p.queue("t", "s").subscribe(handler, concurrency=4):
        time.sleep(0.3)
    assert calls == 1


def _damaged_pond(d: pathlib.Path) -> None:
    """A 3-partition topic of one-record batches in small segments, one byte
    flipped in the middle of partition 0's first (sealed) segment."""
    with logpond.open(d) as p:
        p.create_topic("t", partitions=3, segment_bytes=1024)
        for i in range(100):
            for part in range(3):
                p.send("t", b"p%d-%03d" % (part, i) + b"x" * 40, partition=part)
    seg = d / "topics" / "t" / "0" / "00000000000000000000.log"
    data = bytearray(seg.read_bytes())
    data[len(data) // 2] ^= 0x40
    seg.write_bytes(bytes(data))


def test_damage_stays_in_its_partition_for_groups(tmp_path: pathlib.Path) -> None:  # F8
    _damaged_pond(tmp_path / "pond")
    with logpond.open(tmp_path / "pond") as p:
        c = p.consumer("g", "t", auto_offset_reset="earliest")
        got: List[logpond.Record] = []
        skipped = []
        for _ in range(100):
            try:
                batch = c.poll(50)
            except logpond.Corruption as e:
                assert "partition 0" in str(e) and "skip_damaged" in str(e)
                skipped += c.skip_damaged()
                continue
            if not batch:
                break
            got += batch
        assert len(skipped) == 1
        topic, partition, start, end = skipped[0]
        assert (topic, partition) == ("t", 0) and end > start
        assert sum(1 for r in got if r.partition != 0) == 200
        for r in got:
            assert r.value == b"p%d-%03d" % (r.partition, r.offset) + b"x" * 40
        p0 = [r.offset for r in got if r.partition == 0]
        assert p0 == [o for o in range(100) if not start <= o < end]


def test_damage_stays_in_its_partition_for_queues(tmp_path: pathlib.Path) -> None:  # F8
    _damaged_pond(tmp_path / "pond")
    with logpond.open(tmp_path / "pond") as p:
        q = p.queue("t", "s", max_in_flight=1000)
        got = 0
        skipped = []
        for _ in range(100):
            try:
                batch = q.receive(50)
            except logpond.Corruption:
                skipped += q.skip_damaged()
                continue
            if not batch:
                break
            q.ack_many(batch)
            got += len(batch)
        assert len(skipped) == 1
        part, start, end = skipped[0]
        assert part == 0 and got == 300 - (end - start)
        assert q.backlog() == 0


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_open_files_stay_bounded_however_many_segments(tmp_path: pathlib.Path) -> None:  # F3
    def open_fds() -> int:
        return len(os.listdir("/proc/self/fd"))

    with logpond.open(tmp_path / "pond") as p:
        before = open_fds()
        p.create_topic("t", segment_bytes=64)
        for i in range(1500):
            p.send("t", b"record %05d " % i + b"x" * 60)
        segments = len(list((tmp_path / "pond" / "topics" / "t" / "0").glob("*.log")))
        assert segments >= 1000
        # At most 256 handles (the default max_open_files), whatever the count.
        assert open_fds() - before <= 256 + 8, open_fds() - before
        assert len(p.read("t", offset=0, max_records=2000)) == 1500
        assert open_fds() - before <= 256 + 8


def test_a_compacted_topic_does_not_pile_up_segments(tmp_path: pathlib.Path) -> None:  # F3
    with logpond.open(tmp_path / "pond") as p:
        p.create_topic("c", compact=True, segment_bytes=600)
        for i in range(20_000):
            p.send("c", b"v" * 100, key=b"k%d" % (i % 10))
        segments = len(list((tmp_path / "pond" / "topics" / "c" / "0").glob("*.log")))
        assert segments <= 20, segments
        assert p.describe("c").partitions[0].start_offset == 0


def test_group_access_makes_files_group_shared_whatever_the_umask(tmp_path: pathlib.Path) -> None:
    old = os.umask(0o077)
    try:
        with logpond.open(tmp_path / "pond", group_access=True) as p:
            p.create_topic("t")
            p.send("t", b"x")
    finally:
        os.umask(old)
    for path in (tmp_path / "pond").rglob("*"):
        mode = path.stat().st_mode & 0o777
        assert mode == (0o770 if path.is_dir() else 0o660), (path, oct(mode))
