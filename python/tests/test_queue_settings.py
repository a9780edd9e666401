"""Queue subscriptions as SQS and RabbitMQ users expect them, from Python:
stored settings, update_subscription, Delivery.extend, send(delay=, ttl=),
retry_backoff, describe_subscription, and a failing subscribe handler that
is reported and backed off. (The cross-runtime rules are in
tests/scenarios/queue-14..19; these check the Python surface.)"""

from __future__ import annotations

import datetime
import logging
import pathlib
import threading
from typing import Iterator

import pytest

import logpond


@pytest.fixture
def clock() -> logpond.ManualClock:
    return logpond.ManualClock(start_ms=7_000_000)


@pytest.fixture
def mpond(clock: logpond.ManualClock) -> Iterator[logpond.Pond]:
    with logpond.memory(clock=clock) as p:
        p.create_topic("jobs")
        yield p


def test_a_bare_attach_keeps_the_stored_settings(mpond: logpond.Pond) -> None:
    mpond.queue("jobs", "w", max_deliveries=2, retry_backoff=(0.5, 4)).close()
    with mpond.queue("jobs", "w") as q:  # just to look: changes nothing
        assert q.backlog() == 0
    settings = mpond.describe_subscription("jobs", "w").settings
    assert settings == logpond.SubscriptionSettings(
        ack_timeout=30.0, max_deliveries=2, dead_letter_topic=None, retry_backoff=(0.5, 4.0)
    )
    with pytest.raises(logpond.InvalidArgument, match=r"max_deliveries = 2; this attach asks for 5"):
        mpond.queue("jobs", "w", max_deliveries=5)
    with pytest.raises(TypeError, match="retry_backoff must be a pair"):
        mpond.queue("jobs", "x", retry_backoff=1.0)  # type: ignore[arg-type]


def test_update_subscription_changes_and_removes_settings(mpond: logpond.Pond) -> None:
    mpond.queue("jobs", "w", max_deliveries=2).close()
    now = mpond.update_subscription(
        "jobs", "w", ack_timeout=datetime.timedelta(seconds=90), dead_letter_topic="jobs.dlq"
    )
    assert (now.ack_timeout, now.max_deliveries, now.dead_letter_topic) == (90.0, 2, "jobs.dlq")
    assert "jobs.dlq" in mpond.topics()
    cleared = mpond.update_subscription("jobs", "w", max_deliveries=0, dead_letter_topic="")
    assert (cleared.max_deliveries, cleared.dead_letter_topic) == (None, None)
    assert mpond.describe_subscription("jobs", "w").settings == cleared
    with pytest.raises(logpond.InvalidArgument):
        mpond.update_subscription("jobs", "w", retry_backoff=(2, 1))
    with pytest.raises(logpond.TopicNotFound):
        mpond.update_subscription("jobs", "nope", max_deliveries=1)


def test_extend_keeps_a_delivery_leased(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    a = mpond.queue("jobs", "w", ack_timeout=1)
    b = mpond.queue("jobs", "w")
    mpond.send("jobs", b"long job")
    (d,) = a.receive()
    clock.advance(0.9)
    d.extend(5)
    clock.advance(4.99)
    assert b.receive() == []
    clock.advance(0.01)
    (again,) = b.receive()
    assert again.delivery_count == 2
    with pytest.raises(logpond.LeaseExpired):
        d.extend(1)
    with pytest.raises(logpond.InvalidArgument):
        again.extend(0)


def test_delay_and_ttl_count_from_the_append(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    q = mpond.queue("jobs", "w")
    later = mpond.send("jobs", "later", delay=datetime.timedelta(seconds=2))
    mpond.send_many("jobs", ["short", "lived"], ttl=1)
    mpond.send("jobs", "plain")
    got = q.receive(10)
    assert [d.record.value for d in got] == [b"short", b"lived", b"plain"]
    q.ack_many(got)
    assert (b"logpond.deliver_at", str(later.timestamp_ms + 2000).encode()) in [
        (n.encode(), v) for n, v in mpond.read("jobs", 0, 0, max_records=1)[0].headers
    ]
    mpond.send_many("jobs", ["expires"], ttl=1)
    clock.advance(2)
    got = q.receive(10)
    assert [d.record.value for d in got] == [b"later"]
    info = mpond.describe_subscription("jobs", "w")
    assert (info.expired, info.parked, info.in_flight) == (1, 1, 1)
    assert q.parked()[0].reason == "expired"
    with pytest.raises(logpond.InvalidArgument):
        mpond.send("jobs", "x", ttl=0)


def test_a_plain_nack_follows_the_retry_backoff(mpond: logpond.Pond, clock: logpond.ManualClock) -> None:
    q = mpond.queue("jobs", "w", retry_backoff=(0.1, 0.3))
    mpond.send("jobs", "flaky")
    for wait in (0.1, 0.2, 0.3, 0.3):
        (d,) = q.receive()
        d.nack()
        clock.advance(wait - 0.001)
        assert q.receive() == []
        clock.advance(0.001)
    (d,) = q.receive()
    d.nack(delay=0)
    assert len(q.receive()) == 1


def test_describe_subscription_without_attaching(pond_dir: pathlib.Path) -> None:
    clock = logpond.ManualClock(start_ms=1_000)
    with logpond.open(pond_dir, clock=clock) as pond:
        pond.create_topic("jobs")
        pond.queue("jobs", "w").close()
        pond.send("jobs", "a")
        clock.advance(1.5)
        info = pond.describe_subscription("jobs", "w")
        assert isinstance(info, logpond.SubscriptionInfo)
        assert (info.topic, info.subscription, info.backlog, info.in_flight) == ("jobs", "w", 1, 0)
        assert info.oldest_unacked_age == pytest.approx(1.5)
        assert pond.subscriptions("jobs") == ["w"]


def test_a_failing_handler_is_logged_and_backed_off(
    mpond: logpond.Pond, clock: logpond.ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    q = mpond.queue("jobs", "w", retry_backoff=(10, 10))
    mpond.send("jobs", "bad")
    calls = threading.Semaphore(0)

    def handler(d: logpond.Delivery) -> None:
        calls.release()
        raise ValueError("cannot parse")

    with caplog.at_level(logging.WARNING, logger="logpond"):
        sub = q.subscribe(handler)
        assert calls.acquire(timeout=10)
        # The retry waits the subscription's backoff (10 s of the manual
        # clock): no second call meanwhile, however long we wait.
        assert not calls.acquire(timeout=0.5)
        clock.advance(10)
        assert calls.acquire(timeout=10)
        sub.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "handler raised" in r.getMessage()]
    assert warnings and warnings[0].exc_info is not None
    assert "cannot parse" in str(warnings[0].exc_info[1])
    assert sub.failed >= 2
