"""Queues end to end, with a manual clock: leases, acks, nacks, redelivery,
dead letters, parking, prefetch, backpressure, subscriptions, durability."""

from __future__ import annotations

import datetime
import pathlib
import threading
import time
from typing import Iterator, List, Optional

import pytest

import logpond


@pytest.fixture
def clock() -> logpond.ManualClock:
    return logpond.ManualClock(start_ms=5_000_000)


@pytest.fixture
def mpond(clock: logpond.ManualClock) -> Iterator[logpond.Pond]:
    with logpond.memory(clock=clock) as p:
        yield p


def jobs(pond: logpond.Pond, n: int = 5, partitions: int = 1, **config: Optional[int]) -> None:
    pond.create_topic("jobs", partitions=partitions, **config)  # type: ignore[arg-type]
    pond.send_many("jobs", [{"value": f"job {i}", "partition": i % partitions} for i in range(n)])


def offsets(ds: List[logpond.Delivery]) -> List[int]:
    return [d.record.offset for d in ds]


def test_receive_ack_backlog_in_flight(mpond: logpond.Pond) -> None:
    jobs(mpond)
    with mpond.queue("jobs", "workers") as q:
        assert (q.topic, q.subscription) == ("jobs", "workers")
        assert q.backlog() == 5 and q.in_flight() == 0
        [d] = q.receive()  # one by default
        assert isinstance(d, logpond.Delivery)
        assert d.record.value == b"job 0" and d.record.topic == "jobs" and d.delivery_count == 1
        assert d.queue is q and not d.done
        assert repr(d) == "Delivery(topic='jobs', partition=0, offset=0, delivery_count=1)"
        more = q.receive(10)
        assert offsets(more) == [1, 2, 3, 4]
        assert q.backlog() == 5 and q.in_flight() == 5
        d.ack()
        assert d.done and repr(d).endswith(", done)")
        q.ack_many(more[:2])
        assert all(x.done for x in more[:2])
        assert q.backlog() == 2 and q.in_flight() == 2
        with pytest.raises(logpond.LeaseExpired) as e:
            d.ack()  # settled already: never twice
        assert e.value.code == "LEASE_EXPIRED"
        assert q.receive(10) == []


def test_competing_consumers_split_the_records(mpond: logpond.Pond) -> None:
    jobs(mpond, n=10, partitions=2)
    a = mpond.queue("jobs", "workers")
    b = mpond.queue("jobs", "workers")
    got = a.receive(3) + b.receive(3) + a.receive(10) + b.receive(10)
    assert sorted((d.record.partition, d.record.offset) for d in got) == [(p, o) for p in range(2) for o in range(5)]
    # Any consumer of the subscription may ack any of its deliveries.
    a.ack_many(got)
    assert b.backlog() == 0
    a.close()
    b.close()


def test_subscriptions_fan_out_and_are_listed(mpond: logpond.Pond) -> None:
    jobs(mpond)
    a = mpond.queue("jobs", "billing")
    b = mpond.queue("jobs", "audit")
    assert offsets(a.receive(10)) == offsets(b.receive(10)) == [0, 1, 2, 3, 4]
    assert mpond.subscriptions("jobs") == ["audit", "billing"]
    a.close()
    mpond.delete_subscription("jobs", "billing")
    assert mpond.subscriptions("jobs") == ["audit"]
    with pytest.raises(logpond.TopicNotFound):
        mpond.delete_subscription("jobs", "billing")
    # A new subscription of the same name starts afresh.
    with mpond.queue("jobs", "billing") as again:
        assert again.backlog() == 5
    mpond.delete_topic("jobs")
    mpond.create_topic("jobs")
    assert mpond.subscriptions("jobs") == []


def test_start_at_end(mpond: logpond.Pond) -> None:
    jobs(mpond)
    with mpond.queue("jobs", "late", start_at_end=True) as q:
        assert q.backlog() == 0 and q.receive(10) == []
        mpond.send("jobs", b"new")
        [d] = q.receive(10)
        assert d.record.offset == 5


def test_ack_timeout_redelivers(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    jobs(mpond, n=2)
    with mpond.queue("jobs", "w", ack_timeout=5.0) as q:
        first = q.receive(10)
        clock.advance(4.999)
        assert q.receive(10) == []
        clock.advance(0.001)
        again = q.receive(10)
        assert offsets(again) == [0, 1] and [d.delivery_count for d in again] == [2, 2]
        with pytest.raises(logpond.LeaseExpired):
            first[0].ack()  # delivered again since: the old lease cannot settle it
        with pytest.raises(logpond.LeaseExpired):
            first[1].nack()
        again[0].ack()
        # A late ack still settles when nobody else took the record.
        clock.advance(10.0)
        again[1].ack()
        assert q.backlog() == 0


def test_nack_with_delay(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    jobs(mpond, n=2)
    with mpond.queue("jobs", "w") as q:
        d0, d1 = q.receive(2)
        d0.nack(delay=10.0)
        d1.nack(delay=datetime.timedelta(seconds=1))
        assert d0.done and q.in_flight() == 0 and q.backlog() == 2
        assert q.receive(10) == []
        clock.advance(1.0)
        [r1] = q.receive(10)
        assert (r1.record.offset, r1.delivery_count) == (1, 2)
        clock.advance(9.0)
        [r0] = q.receive(10)
        assert (r0.record.offset, r0.delivery_count) == (0, 2)
        r0.nack()  # no delay: deliverable at once
        [r0] = q.receive(10)
        assert r0.delivery_count == 3
        with pytest.raises(logpond.InvalidArgument):
            r0.nack(delay=-1.0)


def test_dead_letters_carry_their_origin(mpond: logpond.Pond) -> None:
    mpond.create_topic("jobs", partitions=2)
    mpond.send("jobs", b"poison", key=b"k", headers=[("trace", b"t-1")], partition=1, timestamp_ms=42)
    with mpond.queue("jobs", "w", max_deliveries=2, dead_letter_topic="jobs.dlq") as q:
        assert "jobs.dlq" in mpond.topics()  # created on attach
        for count in (1, 2):
            [d] = q.receive()
            assert d.delivery_count == count
            d.nack(reason=f"bad input {count}")
        assert q.receive() == []  # dead-lettered instead of delivered a third time
        assert q.backlog() == 0 and q.parked() == []
    [dead] = mpond.read("jobs.dlq", 0)
    assert (dead.key, dead.value, dead.timestamp_ms) == (b"k", b"poison", 42)
    headers = dict(dead.headers)
    assert headers["trace"] == b"t-1"
    assert headers["logpond.dlq.topic"] == b"jobs"
    assert headers["logpond.dlq.partition"] == b"1"
    assert headers["logpond.dlq.offset"] == b"0"
    assert headers["logpond.dlq.subscription"] == b"w"
    assert headers["logpond.dlq.delivery_count"] == b"2"
    assert headers["logpond.dlq.reason"] == b"bad input 2"


def test_expired_leases_dead_letter_with_their_reason(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    jobs(mpond, n=1)
    with mpond.queue("jobs", "w", ack_timeout=1.0, max_deliveries=1, dead_letter_topic="dlq") as q:
        q.receive()
        clock.advance(1.0)
        assert q.receive() == []
    [dead] = mpond.read("dlq", 0)
    assert dict(dead.headers)["logpond.dlq.reason"] == b"ack timeout expired"


def test_parked_without_a_dead_letter_topic(mpond: logpond.Pond) -> None:
    jobs(mpond, n=3)
    with mpond.queue("jobs", "w", max_deliveries=1) as q:
        d0, d1, d2 = q.receive(3)
        d1.nack(reason="cannot parse")
        d0.ack()
        d2.ack()
        assert q.receive(10) == []
        assert q.parked() == [logpond.ParkedRecord(partition=0, offset=1, delivery_count=1, reason="cannot parse")]
        assert q.backlog() == 1  # parked records stay in the backlog


def test_prefetch_caps_in_flight_per_consumer(mpond: logpond.Pond) -> None:
    jobs(mpond, n=10)
    a = mpond.queue("jobs", "w", max_in_flight=3)
    b = mpond.queue("jobs", "w", max_in_flight=100)
    got = a.receive(10)
    assert len(got) == 3 and a.receive(10) == []
    assert len(b.receive(2)) == 2  # the cap is per consumer
    got[0].ack()
    assert len(a.receive(10)) == 1
    a.close()
    b.close()


def test_backpressure(mpond: logpond.Pond) -> None:
    mpond.create_topic("jobs", max_backlog=3)
    for i in range(5):
        mpond.send("jobs", b"x")  # no subscription yet: not bounded
    mpond.create_topic("bounded", max_backlog=3)
    with mpond.queue("bounded", "w") as q:
        mpond.send_many("bounded", [b"1", b"2", b"3"])
        with pytest.raises(logpond.Backpressure) as e:
            mpond.send("bounded", b"4")
        assert e.value.code == "BACKPRESSURE" and "max_backlog 3" in str(e.value)
        with pytest.raises(logpond.Backpressure):
            mpond.send_many("bounded", [b"4"])
        assert mpond.offsets("bounded") == (0, 3)  # nothing written
        started = time.monotonic()
        with pytest.raises(logpond.Backpressure):
            mpond.send("bounded", b"4", timeout=0.2)  # waits, then gives up
        assert 0.15 < time.monotonic() - started < 5
        [d] = q.receive()
        assert q.backlog() == 3  # in flight still counts
        d.ack()
        mpond.send("bounded", b"4")
        with pytest.raises(logpond.Backpressure):
            mpond.send("bounded", b"5")


def test_send_with_timeout_waits_for_an_ack() -> None:
    """The waiting form: a producer blocked by backpressure goes on as soon
    as a consumer (another thread) acks."""
    with logpond.memory() as pond:
        pond.create_topic("bounded", max_backlog=2)
        with pond.queue("bounded", "w") as q:
            pond.send_many("bounded", [b"1", b"2"])
            deliveries = q.receive(2)
            timer = threading.Timer(0.2, deliveries[0].ack)
            started = time.monotonic()
            timer.start()
            md = pond.send("bounded", b"3", timeout=10)
            waited = time.monotonic() - started
            timer.join()
            assert md.offset == 2 and 0.1 < waited < 5
            timer = threading.Timer(0.2, lambda: q.ack_many(deliveries[1:]))
            timer.start()
            [md] = pond.send_many("bounded", [b"4"], timeout=None)
            timer.join()
            assert md.offset == 3


def test_ack_many_is_all_or_nothing(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    jobs(mpond, n=3)
    with mpond.queue("jobs", "w", ack_timeout=1.0) as q, mpond.queue("jobs", "other") as other:
        ds = q.receive(3)
        ds[1].ack()
        with pytest.raises(logpond.LeaseExpired):
            q.ack_many(ds)  # ds[1] is settled: nothing is acked
        assert not ds[0].done and q.backlog() == 2
        q.ack_many([ds[0], ds[2]])
        assert q.backlog() == 0
        q.ack_many([])
        with pytest.raises(TypeError):
            q.ack_many([b"x"])  # type: ignore[list-item]
        with pytest.raises(TypeError):
            q.ack_many(7)  # type: ignore[arg-type]
        [theirs] = other.receive()
        with pytest.raises(logpond.InvalidArgument):
            q.ack_many([theirs])  # a delivery of another subscription


def test_close_releases_leases(mpond: logpond.Pond) -> None:
    jobs(mpond, n=3)
    a = mpond.queue("jobs", "w")
    b = mpond.queue("jobs", "w")
    held = a.receive(2)
    a.close()
    a.close()  # harmless
    assert a.closed
    got = b.receive(10)
    assert offsets(got) == [0, 1, 2]
    assert [d.delivery_count for d in got] == [2, 2, 1]  # counts kept
    with pytest.raises(logpond.LeaseExpired):
        b.ack_many(held[:1])  # delivered again since
    with pytest.raises(logpond.Closed, match="queue consumer is closed"):
        held[0].ack()  # through its closed consumer
    with pytest.raises(logpond.Closed, match="queue consumer is closed"):
        a.receive()
    assert list(a) == []  # iteration of a closed queue ends at once
    b.close()


def test_state_survives_reopen(tmp_path: pathlib.Path, clock: logpond.ManualClock) -> None:
    with logpond.open(tmp_path / "p", clock=clock) as pond:
        jobs(pond, n=4)
        q = pond.queue("jobs", "w")
        d0, d1, d2 = q.receive(3)
        d0.ack()
        d1.nack()
        # d2 stays in flight: the pond closes under the queue.
    with logpond.open(tmp_path / "p", clock=clock) as pond:
        assert pond.subscriptions("jobs") == ["w"]
        with pond.queue("jobs", "w") as q:
            assert q.backlog() == 3
            got = q.receive(10)
            # The nacked record keeps its place behind the records that were
            # waiting when it was nacked (2 back from its lease, 3 never sent).
            assert [(d.record.offset, d.delivery_count) for d in got] == [(2, 2), (3, 1), (1, 2)]


def test_retain_until_acked_frees_settled_segments(mpond: logpond.Pond) -> None:
    mpond.create_topic("jobs", retain_until_acked=True, segment_bytes=200)
    assert mpond.describe("jobs").config.retain_until_acked
    with mpond.queue("jobs", "w") as q:
        for i in range(40):
            mpond.send("jobs", f"job {i:03}".encode() * 4)
        assert mpond.offsets("jobs")[0] == 0
        q.ack_many(q.receive(30))
        start = mpond.offsets("jobs")[0]
        assert 0 < start <= 30


def test_iterating_a_queue(mpond: logpond.Pond) -> None:
    jobs(mpond, n=4)
    with mpond.queue("jobs", "w") as q:
        assert iter(q) is q
        seen = []
        for d in q:
            seen.append(d.record.offset)
            d.ack()
            if len(seen) == 2:
                break
        # Iteration leases one delivery at a time: nothing else is held.
        assert q.in_flight() == 0 and q.backlog() == 2
        assert [d.record.offset for d in q.receive(10)] == [2, 3]
    assert seen == [0, 1]


def test_queue_arguments_are_checked(mpond: logpond.Pond) -> None:
    jobs(mpond)
    with pytest.raises(logpond.TopicNotFound):
        mpond.queue("missing", "w")
    with pytest.raises(logpond.InvalidName):
        mpond.queue("jobs", "bad name")
    with pytest.raises(logpond.InvalidArgument):
        mpond.queue("jobs", "w", max_in_flight=0)
    with pytest.raises(logpond.InvalidArgument):
        mpond.queue("jobs", "w", ack_timeout=0)
    with pytest.raises(logpond.InvalidArgument):
        mpond.queue("jobs", "w", max_deliveries=0)
    with pytest.raises(logpond.InvalidArgument):
        mpond.queue("jobs", "w", max_deliveries=-1)
    with pytest.raises(logpond.InvalidArgument):
        mpond.queue("jobs", "w", dead_letter_topic="jobs")
    with pytest.raises(logpond.InvalidName):
        mpond.queue("jobs", "w", dead_letter_topic="__internal")
    with pytest.raises(TypeError):
        mpond.queue("jobs", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        mpond.queue("jobs", "w", 30.0)  # type: ignore[call-arg]
    with mpond.queue("jobs", "w") as q:
        with pytest.raises(logpond.InvalidArgument):
            q.receive(-1)
        with pytest.raises(logpond.InvalidArgument):
            q.receive(1, timeout=-0.5)
        assert q.receive(0) == []
        [d] = q.receive()
        with pytest.raises(TypeError):
            d.nack(reason=b"bytes")  # type: ignore[arg-type]


def test_public_queue_class_and_repr(mpond: logpond.Pond) -> None:
    jobs(mpond)
    q = logpond.Queue(mpond, "jobs", "w", ack_timeout=datetime.timedelta(minutes=1))
    assert isinstance(q, logpond.Queue)
    assert repr(q) == "<logpond.Queue topic='jobs' subscription='w'>"
    q.close()
    assert repr(q) == "<logpond.Queue topic='jobs' subscription='w' closed>"


def test_subscribe_acks_on_return_and_nacks_on_exception(
    mpond: logpond.Pond, clock: logpond.ManualClock
) -> None:
    jobs(mpond, n=6)
    handled: List[int] = []
    lock = threading.Lock()

    def handler(d: logpond.Delivery) -> None:
        if d.record.offset == 3:
            raise ValueError("offset 3 is bad")
        if d.record.offset == 4:
            d.nack(reason="handled by hand")  # settles by itself: no second answer
            return
        with lock:
            handled.append(d.record.offset)

    with mpond.queue("jobs", "w", max_deliveries=1, dead_letter_topic="dlq") as q:
        with q.subscribe(handler, concurrency=2) as sub:
            assert sub.running
            deadline = time.monotonic() + 10
            while sub.handled + sub.failed < 6 and time.monotonic() < deadline:
                time.sleep(0.01)
        assert not sub.running
        assert sorted(handled) == [0, 1, 2, 5]
        assert (sub.handled, sub.failed) == (5, 1)
        clock.advance(1.0)  # past the failure backoff of offset 3
        q.receive()  # offsets 3 and 4 come due: dead-lettered
        reasons = sorted(dict(r.headers)["logpond.dlq.reason"] for r in mpond.read("dlq", 0))
        assert reasons == [b"handled by hand", b"offset 3 is bad"]
        assert q.backlog() == 0
        assert "stopped" in repr(sub)


def test_subscribe_checks_its_arguments(mpond: logpond.Pond) -> None:
    jobs(mpond)
    with mpond.queue("jobs", "w") as q:
        with pytest.raises(logpond.InvalidArgument):
            q.subscribe(lambda d: None, concurrency=0)
        with pytest.raises(TypeError):
            q.subscribe(lambda d: None, concurrency=1.5)  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            q.subscribe("not callable")  # type: ignore[arg-type]


def test_stop_waits_for_running_handlers(mpond: logpond.Pond) -> None:
    jobs(mpond, n=1)
    started = threading.Event()
    finished = threading.Event()

    def slow(d: logpond.Delivery) -> None:
        started.set()
        time.sleep(0.3)
        finished.set()

    with mpond.queue("jobs", "w") as q:
        sub = q.subscribe(slow)
        assert started.wait(10)
        sub.stop()
        assert finished.is_set()
        assert q.backlog() == 0  # the handler returned: acked
        sub.stop()  # harmless


def test_subscription_ends_when_the_queue_closes(mpond: logpond.Pond) -> None:
    jobs(mpond, n=0)
    q = mpond.queue("jobs", "w")
    sub = q.subscribe(lambda d: None, concurrency=2)
    q.close()
    deadline = time.monotonic() + 10
    while sub.running and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not sub.running
    sub.stop()
