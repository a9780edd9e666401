"""Blocking calls: waits release the GIL, wake as soon as another thread
sends (or acks), honour their timeout, end on close, and Ctrl-C
(`KeyboardInterrupt`) interrupts them; `subscribe` workers on threads."""

from __future__ import annotations

import datetime
import os
import signal
import threading
import time
from typing import Any, Callable, Iterator, List, Set

import pytest

import logpond


@pytest.fixture
def spond() -> Iterator[logpond.Pond]:
    """A memory pond on the system clock (these tests wait in real time)."""
    with logpond.memory() as p:
        p.create_topic("t", partitions=2)
        yield p


def later(seconds: float, f: Callable[[], Any]) -> threading.Timer:
    timer = threading.Timer(seconds, f)
    timer.daemon = True
    timer.start()
    return timer


def test_poll_is_woken_by_a_send_from_another_thread(spond: logpond.Pond) -> None:
    with spond.consumer("g", ["t"]) as c:
        c.poll()  # joined, positions at the end
        timer = later(0.2, lambda: spond.send("t", b"wake", partition=1))
        started = time.monotonic()
        records = c.poll(timeout=5)
        waited = time.monotonic() - started
        timer.join()
        assert [r.value for r in records] == [b"wake"]
        assert 0.1 < waited < 2.5, waited  # woken by the send, well before the timeout


def test_receive_is_woken_by_a_send_from_another_thread(spond: logpond.Pond) -> None:
    with spond.queue("t", "w", start_at_end=True) as q:
        timer = later(0.2, lambda: spond.send("t", b"job"))
        started = time.monotonic()
        got = q.receive(10, timeout=5)
        waited = time.monotonic() - started
        timer.join()
        assert [d.record.value for d in got] == [b"job"]
        assert 0.1 < waited < 2.5, waited


def test_receive_wakes_when_a_nack_delay_ends(spond: logpond.Pond) -> None:
    spond.send("t", b"job")
    with spond.queue("t", "w") as q:
        [d] = q.receive()
        d.nack(delay=0.3)
        started = time.monotonic()
        [again] = q.receive(timeout=5)
        waited = time.monotonic() - started
        assert again.delivery_count == 2 and 0.2 < waited < 2.5, waited


def test_receive_wakes_when_an_ack_frees_prefetch_room(spond: logpond.Pond) -> None:
    spond.send_many("t", [b"a", b"b"])
    with spond.queue("t", "w", max_in_flight=1) as q:
        [first] = q.receive()
        timer = later(0.2, first.ack)
        started = time.monotonic()
        [second] = q.receive(timeout=5)
        timer.join()
        assert second.record.value != first.record.value
        assert time.monotonic() - started < 2.5


def test_timeouts_end_waits_on_time(spond: logpond.Pond) -> None:
    with spond.consumer("g", ["t"]) as c, spond.queue("t", "w", start_at_end=True) as q:
        for wait in (lambda: c.poll(timeout=0.3), lambda: q.receive(timeout=datetime.timedelta(seconds=0.3))):
            started = time.monotonic()
            assert wait() == []
            assert 0.28 < time.monotonic() - started < 2.5
        started = time.monotonic()
        assert c.poll(timeout=0) == [] and q.receive(timeout=0.0) == []
        assert time.monotonic() - started < 0.25


def test_no_timeout_waits_until_something_comes(spond: logpond.Pond) -> None:
    with spond.consumer("g", ["t"]) as c:
        c.poll()
        timer = later(0.2, lambda: spond.send("t", b"x"))
        assert len(c.poll(timeout=None)) == 1
        timer.join()


def test_a_waiting_thread_does_not_hold_the_gil(spond: logpond.Pond) -> None:
    """While one thread waits in poll, this one runs Python freely."""
    with spond.consumer("g", ["t"]) as c:
        c.poll()
        result: List[List[logpond.Record]] = []
        waiter = threading.Thread(target=lambda: result.append(c.poll(timeout=5)))
        waiter.start()
        time.sleep(0.05)
        started = time.monotonic()
        n = 0
        while time.monotonic() - started < 0.2:
            n += 1  # would starve if the waiter held the GIL
        assert n > 1000
        spond.send("t", b"x")
        waiter.join(10)
        assert not waiter.is_alive() and len(result[0]) == 1


def test_iteration_follows_a_producer_thread(spond: logpond.Pond) -> None:
    n = 500
    with spond.consumer("g", ["t"]) as c:
        c.poll()

        def produce() -> None:
            for i in range(n):
                spond.send("t", str(i), key=b"one key")  # one partition: order kept
                if i % 50 == 0:
                    time.sleep(0.01)

        producer = threading.Thread(target=produce)
        producer.start()
        got = []
        for record in c:
            got.append(int(record.value or b""))
            if len(got) == n:
                break
        producer.join()
        assert got == list(range(n))


@pytest.mark.parametrize("what", ["consumer", "pond"])
def test_iteration_ends_when_closed_from_another_thread(what: str) -> None:
    pond = logpond.memory()
    pond.create_topic("t")
    c = pond.consumer("g", ["t"])
    q = pond.queue("t", "w")
    for it, closer in ((c, c.close), (q, q.close)):
        timer = later(0.2, pond.close if what == "pond" else closer)
        started = time.monotonic()
        assert list(it) == []
        timer.join()
        assert time.monotonic() - started < 5
    pond.close()


def test_subscribe_with_concurrency_processes_each_record_once(spond: logpond.Pond) -> None:
    n = 120
    lock = threading.Lock()
    seen: List[bytes] = []
    threads: Set[str] = set()
    active = 0
    most_active = 0

    def handler(d: logpond.Delivery) -> None:
        nonlocal active, most_active
        with lock:
            active += 1
            most_active = max(most_active, active)
            threads.add(threading.current_thread().name)
        time.sleep(0.002)
        with lock:
            active -= 1
            seen.append(d.record.value or b"")

    with spond.queue("t", "w", max_in_flight=10) as q:
        spond.send_many("t", [f"{i}".encode() for i in range(n // 2)])
        with q.subscribe(handler, concurrency=3) as sub:
            for i in range(n // 2, n):  # some arrive while the workers run
                spond.send("t", f"{i}".encode())
            deadline = time.monotonic() + 20
            while sub.handled < n and time.monotonic() < deadline:
                time.sleep(0.01)
        assert sorted(seen, key=int) == [f"{i}".encode() for i in range(n)]  # each exactly once
        assert sub.handled == n and sub.failed == 0
        assert q.backlog() == 0 and q.in_flight() == 0
        assert most_active >= 2 and len(threads) >= 2
        assert all(t.startswith("logpond-t-w-") for t in threads)


def interrupt_soon() -> threading.Timer:
    """SIGINT to this process from another thread, as Ctrl-C would."""
    return later(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))


def test_ctrl_c_interrupts_a_poll(spond: logpond.Pond) -> None:
    with spond.consumer("g", ["t"]) as c:
        timer = interrupt_soon()
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            c.poll(timeout=30)
        timer.join()
        assert time.monotonic() - started < 3
        assert c.poll() == []  # still usable


def test_ctrl_c_interrupts_a_receive(spond: logpond.Pond) -> None:
    with spond.queue("t", "w") as q:
        timer = later(0.2, lambda: signal.raise_signal(signal.SIGINT))
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            q.receive(timeout=30)
        timer.join()
        assert time.monotonic() - started < 3


def test_ctrl_c_interrupts_iteration(spond: logpond.Pond) -> None:
    with spond.consumer("g", ["t"]) as c, spond.queue("t", "w") as q:
        for it in (c, q):
            timer = interrupt_soon()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                for _ in it:
                    pass
            timer.join()
            assert time.monotonic() - started < 3


def test_ctrl_c_interrupts_a_send_waiting_out_backpressure() -> None:
    with logpond.memory() as pond:
        pond.create_topic("b", max_backlog=1)
        with pond.queue("b", "w"):
            pond.send("b", b"1")
            timer = interrupt_soon()
            started = time.monotonic()
            with pytest.raises(KeyboardInterrupt):
                pond.send("b", b"2", timeout=30)
            timer.join()
            assert time.monotonic() - started < 3
            assert pond.offsets("b") == (0, 1)
