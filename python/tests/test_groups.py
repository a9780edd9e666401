"""Consumer groups end to end, with a manual clock: assignment, polling,
iteration, commits, seeks, lag, rebalances, session timeouts and fencing."""

from __future__ import annotations

import datetime
import pathlib
from typing import Dict, Iterator, List, Tuple

import pytest

import logpond


@pytest.fixture
def clock() -> logpond.ManualClock:
    return logpond.ManualClock(start_ms=1_000_000)


@pytest.fixture
def mpond(clock: logpond.ManualClock) -> Iterator[logpond.Pond]:
    with logpond.memory(clock=clock) as p:
        yield p


def fill(pond: logpond.Pond, topic: str = "t", partitions: int = 3, per_partition: int = 5) -> None:
    pond.create_topic(topic, partitions=partitions)
    for p in range(partitions):
        pond.send_many(topic, [{"value": f"{p}:{i}", "partition": p} for i in range(per_partition)])


def by_partition(records: List[logpond.Record]) -> Dict[Tuple[str, int], List[int]]:
    out: Dict[Tuple[str, int], List[int]] = {}
    for r in records:
        out.setdefault((r.topic, r.partition), []).append(r.offset)
    return out


def test_a_lone_member_reads_every_partition_in_order(mpond: logpond.Pond) -> None:
    fill(mpond)
    with mpond.consumer("g", ["t"], auto_offset_reset="earliest") as c:
        assert c.assignment() == [("t", 0), ("t", 1), ("t", 2)]
        records = c.poll(100)
        assert by_partition(records) == {("t", p): [0, 1, 2, 3, 4] for p in range(3)}
        assert all(isinstance(r, logpond.Record) and r.topic == "t" for r in records)
        assert records[0].value is not None and records[0].value.decode().split(":")[1] == "0"
        assert c.poll() == []
        assert c.lag() == {("t", 0): 0, ("t", 1): 0, ("t", 2): 0}
        assert c.group == "g" and c.topics == ["t"]


def test_poll_shares_max_records_fairly(mpond: logpond.Pond) -> None:
    fill(mpond, per_partition=10)
    with mpond.consumer("g", "t", auto_offset_reset="earliest") as c:  # one topic as a str
        first = by_partition(c.poll(6))
        assert sorted(len(v) for v in first.values()) == [2, 2, 2]


def test_latest_reset_reads_only_new_records(mpond: logpond.Pond) -> None:
    fill(mpond)
    with mpond.consumer("g", ["t"]) as c:  # "latest" is the default, as in Kafka
        assert c.poll() == []
        mpond.send("t", b"new", partition=1)
        [r] = c.poll()
        assert (r.partition, r.offset, r.value) == (1, 5, b"new")


def test_none_reset_raises_offset_out_of_range(mpond: logpond.Pond) -> None:
    fill(mpond)
    with mpond.consumer("g", ["t"], auto_offset_reset="none") as c:
        with pytest.raises(logpond.OffsetOutOfRange):
            c.poll()


def test_members_split_partitions_and_rebalance(mpond: logpond.Pond) -> None:
    fill(mpond, partitions=4)
    a = mpond.consumer("g", ["t"], auto_offset_reset="earliest", assignor="range")
    gen = a.generation
    b = mpond.consumer("g", ["t"], auto_offset_reset="earliest", assignor="range")
    assert b.generation == a.generation > gen
    assert a.assignment() == [("t", 0), ("t", 1)]
    assert b.assignment() == [("t", 2), ("t", 3)]
    assert a.member_id != b.member_id
    assert set(by_partition(a.poll(100))) == {("t", 0), ("t", 1)}
    b.close()
    assert a.assignment() == [("t", 0), ("t", 1), ("t", 2), ("t", 3)]
    assert set(by_partition(a.poll(100))) == {("t", 2), ("t", 3)}
    a.close()


def test_round_robin_and_sticky_assignors(mpond: logpond.Pond) -> None:
    fill(mpond, "x", partitions=2, per_partition=1)
    fill(mpond, "y", partitions=2, per_partition=1)
    a = mpond.consumer("rr", ["x", "y"], assignor="round-robin")
    b = mpond.consumer("rr", ["x", "y"], assignor="round-robin")
    assert a.assignment() == [("x", 0), ("y", 0)]
    assert b.assignment() == [("x", 1), ("y", 1)]
    s1 = mpond.consumer("sticky", ["x", "y"])
    s2 = mpond.consumer("sticky", ["x", "y"])
    kept = s1.assignment()
    assert len(kept) == 2 and len(s2.assignment()) == 2
    s3 = mpond.consumer("sticky", ["x", "y"])
    # Only what balance requires moves: s1 keeps at least one of its two.
    assert set(s1.assignment()) <= set(kept) and len(s1.assignment()) >= 1
    assert len(s1.assignment()) + len(s2.assignment()) + len(s3.assignment()) == 4
    for c in (a, b, s1, s2, s3):
        c.close()


def test_fan_out_every_group_sees_every_record(mpond: logpond.Pond) -> None:
    fill(mpond)
    with mpond.consumer("a", ["t"], auto_offset_reset="earliest") as a, mpond.consumer(
        "b", ["t"], auto_offset_reset="earliest"
    ) as b:
        assert len(a.poll(100)) == 15 and len(b.poll(100)) == 15


def test_commit_forms_and_committed(mpond: logpond.Pond) -> None:
    fill(mpond)
    with mpond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit=False) as c:
        assert c.committed("t", 0) is None
        c.poll(6)
        positions = {p: c.position("t", p) for p in range(3)}
        c.commit()
        assert {p: c.committed("t", p) for p in range(3)} == positions
        c.commit({("t", 0): 4})
        c.commit([("t", 1, 1), ("t", 2, 3)])
        assert [c.committed("t", p) for p in range(3)] == [4, 1, 3]
        # Committing does not move positions.
        assert {p: c.position("t", p) for p in range(3)} == positions
        with pytest.raises(TypeError):
            c.commit({"t": 1})  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            c.commit([("t", 1)])  # type: ignore[list-item]
        with pytest.raises(TypeError):
            c.commit("t")  # type: ignore[arg-type]
        with pytest.raises(logpond.InvalidArgument):
            c.commit({("t", 0): -1})
    # A new member of the group resumes from the commits.
    with mpond.consumer("g", ["t"], auto_commit=False) as c:
        assert by_partition(c.poll(100)) == {("t", 0): [4], ("t", 1): [1, 2, 3, 4], ("t", 2): [3, 4]}


def test_commits_survive_reopen(tmp_path: pathlib.Path, clock: logpond.ManualClock) -> None:
    with logpond.open(tmp_path / "p", clock=clock) as pond:
        fill(pond)
        c = pond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit=False)
        c.poll(3)
        c.commit()
        c.commit({("t", 2): 2})
    with logpond.open(tmp_path / "p", clock=clock) as pond:
        with pond.consumer("g", ["t"], auto_commit=False) as c:
            assert [c.committed("t", p) for p in range(3)] == [1, 1, 2]
            assert by_partition(c.poll(100)) == {("t", 0): [1, 2, 3, 4], ("t", 1): [1, 2, 3, 4], ("t", 2): [2, 3, 4]}


def test_auto_commit_every_interval_and_on_close(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    fill(mpond, partitions=1, per_partition=10)
    c = mpond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit_interval=1.0)
    assert len(c.poll(4)) == 4
    assert c.committed("t", 0) is None
    clock.advance(1.0)
    assert len(c.poll(3)) == 3  # commits the positions as they were before this poll
    assert c.committed("t", 0) == 4
    c.close()  # commits on close
    with mpond.consumer("g", ["t"]) as again:
        assert again.committed("t", 0) == 7
        assert [r.offset for r in again.poll()] == [7, 8, 9]


def test_graceful_hand_over_neither_skips_nor_repeats(mpond: logpond.Pond) -> None:
    fill(mpond, partitions=2, per_partition=6)
    a = mpond.consumer("g", ["t"], auto_offset_reset="earliest")
    seen = [(r.partition, r.offset) for r in a.poll(4)]
    b = mpond.consumer("g", ["t"], auto_offset_reset="earliest")  # takes one partition from a
    for _ in range(3):
        seen += [(r.partition, r.offset) for r in a.poll(100) + b.poll(100)]
    assert sorted(seen) == [(p, o) for p in range(2) for o in range(6)]
    a.close()
    b.close()


def test_session_timeout_rebalance_and_commit_failed(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    fill(mpond, partitions=2, per_partition=3)
    a = mpond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit=False, session_timeout=1.0)
    b = mpond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit=False, session_timeout=1.0)
    assert a.assignment() == [("t", 0)]
    old_id = a.member_id
    assert [r.offset for r in a.poll(1)] == [0]
    clock.advance(0.6)
    b.poll(100)
    clock.advance(0.6)  # a has not polled for 1.2 s: b's poll removes it
    got = by_partition(b.poll(100))
    assert got == {("t", 0): [0, 1, 2]}  # a never committed: at-least-once
    assert b.assignment() == [("t", 0), ("t", 1)]
    assert a.assignment() == []
    with pytest.raises(logpond.CommitFailed) as e:
        a.commit({("t", 0): 1})
    assert e.value.code == "COMMIT_FAILED"
    assert isinstance(e.value, logpond.LogpondError)
    with pytest.raises(logpond.CommitFailed):
        a.commit()
    assert b.committed("t", 0) is None  # the fenced commit changed nothing
    # Polling again, a rejoins as a new member and gets a partition back.
    a.poll()
    assert a.member_id != old_id
    assert len(a.assignment()) == 1 and len(b.assignment()) == 1
    a.close()
    b.close()


def test_seeks_position_and_lag(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    mpond.create_topic("t", partitions=2)
    for i in range(10):
        mpond.send("t", f"{i}", partition=i % 2, timestamp_ms=1000 * i)
    with mpond.consumer("g", ["t"], auto_offset_reset="earliest") as c:
        assert c.position("t", 0) == 0
        assert c.lag() == {("t", 0): 5, ("t", 1): 5}
        c.seek("t", 1, 3)
        assert c.position("t", 1) == 3
        assert c.lag()[("t", 1)] == 2
        c.seek_to_end()
        assert c.lag() == {("t", 0): 0, ("t", 1): 0}
        assert c.poll() == []
        c.seek_to_beginning()
        assert [c.position("t", p) for p in (0, 1)] == [0, 0]
        c.seek_to_time(5000)  # p0 holds 0,2,4,6,8 s; p1 1,3,5,7,9 s
        assert [c.position("t", p) for p in (0, 1)] == [3, 2]
        c.seek_to_time(10**13)
        assert [c.position("t", p) for p in (0, 1)] == [5, 5]
        with pytest.raises(logpond.InvalidArgument):
            c.seek("t", 7, 0)  # not assigned
        with pytest.raises(logpond.InvalidArgument):
            c.position("other", 0)
        # A seek past the end is reset by auto_offset_reset on the next poll.
        c.seek("t", 0, 99)
        assert [r.offset for r in c.poll(100) if r.partition == 0] == [0, 1, 2, 3, 4]


def test_iteration_hands_out_records_and_a_break_keeps_the_position(mpond: logpond.Pond) -> None:
    fill(mpond, partitions=2, per_partition=50)
    c = mpond.consumer("g", ["t"], auto_offset_reset="earliest")
    assert iter(c) is c
    taken: List[logpond.Record] = []
    for record in c:
        taken.append(record)
        if len(taken) == 7:
            break
    # The iterator fetched more than 7: positions still follow what it handed out.
    last = {p: max(r.offset for r in taken if r.partition == p) for p in {r.partition for r in taken}}
    for p, o in last.items():
        assert c.position("t", p) == o + 1
    c.close()  # auto-commit on close commits what was handed out
    with mpond.consumer("g", ["t"]) as again:
        rest = again.poll(1000)
    assert sorted((r.partition, r.offset) for r in taken + rest) == [(p, o) for p in range(2) for o in range(50)]


def test_commit_inside_a_loop_commits_what_was_handed_out(mpond: logpond.Pond) -> None:
    fill(mpond, partitions=1, per_partition=20)
    with mpond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit=False) as c:
        for record in c:
            c.commit()
            assert c.committed("t", 0) == record.offset + 1
            if record.offset == 4:
                break
        assert [r.offset for r in c.poll(3)] == [5, 6, 7]


def test_a_rebalance_during_iteration_neither_skips_nor_repeats(
    mpond: logpond.Pond, clock: logpond.ManualClock
) -> None:
    fill(mpond, partitions=2, per_partition=30)
    a = mpond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit_interval=1.0)
    seen: List[Tuple[int, int]] = []
    for record in a:  # fetches a batch from both partitions, hands out 5
        seen.append((record.partition, record.offset))
        if len(seen) == 3:
            clock.advance(1.0)  # auto-commit falls due mid-batch
        if len(seen) == 5:
            break
    b = mpond.consumer("g", ["t"], auto_offset_reset="earliest")  # takes a partition from a
    for record in a:  # a's next fetch hands the partition over, committing its position
        seen.append((record.partition, record.offset))
        if not any(a.lag().values()):
            break
    assert len(a.assignment()) == 1 and len(b.assignment()) == 1
    assert any(b.lag().values())
    for record in b:
        seen.append((record.partition, record.offset))
        if not any(b.lag().values()):
            break
    assert sorted(seen) == [(p, o) for p in range(2) for o in range(30)]
    a.close()
    b.close()


def test_iteration_resumes_after_poll_and_seek(mpond: logpond.Pond) -> None:
    fill(mpond, partitions=1, per_partition=10)
    with mpond.consumer("g", ["t"], auto_offset_reset="earliest") as c:
        it = iter(c)
        assert next(it).offset == 0
        assert [r.offset for r in c.poll(2)] == [1, 2]  # poll continues after the handed-out record
        assert next(it).offset == 3
        c.seek("t", 0, 8)
        assert next(it).offset == 8
        c.seek_to_beginning()
        assert next(it).offset == 0


def test_topics_appearing_later_are_assigned(mpond: logpond.Pond) -> None:
    with mpond.consumer("g", ["later"], auto_offset_reset="earliest") as c:
        assert c.assignment() == [] and c.poll() == []
        mpond.create_topic("later", partitions=2)
        mpond.send("later", b"x", partition=1)
        assert [r.value for r in c.poll()] == [b"x"]
        assert c.assignment() == [("later", 0), ("later", 1)]


def test_close_and_closed(mpond: logpond.Pond) -> None:
    fill(mpond)
    c = mpond.consumer("g", ["t"])
    assert not c.closed and "closed" not in repr(c)
    c.close()
    c.close()  # harmless
    assert c.closed and "closed" in repr(c)
    for call in (c.poll, c.commit, c.assignment, c.lag, c.seek_to_end, lambda: c.position("t", 0)):
        with pytest.raises(logpond.Closed):
            call()
    assert list(c) == []  # iteration ends at once
    with mpond.consumer("g", ["t"]) as d:
        pass
    assert d.closed


def test_a_closed_pond_closes_its_consumers(clock: logpond.ManualClock) -> None:
    pond = logpond.memory(clock=clock)
    fill(pond)
    c = pond.consumer("g", ["t"], auto_offset_reset="earliest")
    pond.close()
    with pytest.raises(logpond.Closed):
        c.poll()
    assert list(c) == []
    c.close()  # nothing to leave: harmless


def test_consumer_arguments_are_checked(mpond: logpond.Pond) -> None:
    fill(mpond)
    with pytest.raises(logpond.InvalidArgument):
        mpond.consumer("g", ["t"], auto_offset_reset="oldest")
    with pytest.raises(logpond.InvalidArgument):
        mpond.consumer("g", ["t"], assignor="sticky-ish")
    with pytest.raises(logpond.InvalidArgument):
        mpond.consumer("g", [])
    with pytest.raises(logpond.InvalidArgument):
        mpond.consumer("", ["t"])
    with pytest.raises(logpond.InvalidArgument):
        mpond.consumer("g", ["t"], session_timeout=0)
    with pytest.raises(logpond.InvalidArgument):
        mpond.consumer("g", ["t"], auto_commit_interval=-1.0)
    with pytest.raises(logpond.InvalidName):
        mpond.consumer("g", ["bad name"])
    with pytest.raises(TypeError):
        mpond.consumer(7, ["t"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mpond.consumer("g", b"t")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mpond.consumer("g", [1])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        mpond.consumer("g", ["t"], auto_commit="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mpond.consumer("g", ["t"], "earliest")  # type: ignore[call-arg]
    with mpond.consumer("g", ["t"], session_timeout=datetime.timedelta(seconds=30)) as c:
        with pytest.raises(logpond.InvalidArgument):
            c.poll(-1)
        with pytest.raises(TypeError):
            c.poll(1.5)  # type: ignore[arg-type]
        with pytest.raises(logpond.InvalidArgument):
            c.poll(1, timeout=-1)
        with pytest.raises(TypeError):
            c.poll(1, timeout="1")  # type: ignore[arg-type]
        assert c.poll(0) == []
        assert c.poll(max_records=1, timeout=datetime.timedelta(0)) == []


def test_public_consumer_class(mpond: logpond.Pond) -> None:
    fill(mpond)
    c = logpond.Consumer(mpond, "g", ["t"], auto_offset_reset="earliest")
    assert isinstance(c, logpond.Consumer)
    assert len(c.poll(100)) == 15
    assert repr(c) == "<logpond.Consumer group='g' topics=['t']>"
    c.close()
