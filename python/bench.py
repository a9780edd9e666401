"""`make bench-python`: one line per case, `name: value unit`, like the core's
bench. Numbers compare runs on one machine; they are not absolute truths.

    python bench.py [--quick]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from typing import Callable, Iterator, Tuple

# Import the installed package, not the source tree beside this script
# (which has no native module).
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import logpond  # noqa: E402

QUICK = "--quick" in sys.argv
RECORDS = 200_000 if QUICK else 2_000_000  # send_many and read
SINGLE = 50_000 if QUICK else 500_000  # one send per call
BATCH = 1_000
READ_BATCH = 500
QUEUED = 20_000 if QUICK else 200_000  # queue receive + ack
QUEUE_BATCH = 100
VALUE = b"x" * 100


def report(name: str, n: int, seconds: float) -> None:
    rate = n / seconds
    shown = f"{rate / 1e6:.2f}M" if rate >= 1e6 else f"{rate / 1e3:.1f}k"
    print(f"{name}: {shown} records/s ({n} in {seconds * 1e3:.0f} ms)", flush=True)


def ponds() -> Iterator[Tuple[str, Callable[[], logpond.Pond]]]:
    yield "memory", logpond.memory
    tmp = tempfile.TemporaryDirectory(prefix="logpond-bench-")
    count = iter(range(1_000_000))
    yield "file_os", lambda: logpond.open(f"{tmp.name}/{next(count)}")
    tmp.cleanup()


def send_single(pond: logpond.Pond, n: int) -> float:
    pond.create_topic("bench")
    send = pond.send
    start = time.perf_counter()
    for _ in range(n):
        send("bench", VALUE)
    return time.perf_counter() - start


def send_many(pond: logpond.Pond, n: int) -> float:
    pond.create_topic("bench")
    batch = [VALUE] * BATCH
    send = pond.send_many
    start = time.perf_counter()
    for _ in range(n // BATCH):
        send("bench", batch)
    return time.perf_counter() - start


def consume(pond: logpond.Pond, n: int) -> float:
    """Reads everything in batches of 500, touching every value."""
    read = pond.read
    offset = 0
    total = 0
    start = time.perf_counter()
    while offset < n:
        records = read("bench", 0, offset, max_records=READ_BATCH)
        if not records:
            break
        for r in records:
            total += len(r.value)  # type: ignore[arg-type]
        offset = records[-1].offset + 1
    elapsed = time.perf_counter() - start
    assert offset == n and total == n * len(VALUE), (offset, total)
    return elapsed


def group_poll(pond: logpond.Pond, n: int) -> float:
    """A consumer group member polls everything, 500 at a time."""
    with pond.consumer("bench-poll", ["bench"], auto_offset_reset="earliest") as c:
        poll = c.poll
        got = total = 0
        start = time.perf_counter()
        while got < n:
            records = poll(READ_BATCH)
            if not records:
                break
            for r in records:
                total += len(r.value)  # type: ignore[arg-type]
            got += len(records)
        elapsed = time.perf_counter() - start
    assert got == n and total == n * len(VALUE), (got, total)
    return elapsed


def group_iterate(pond: logpond.Pond, n: int) -> float:
    """A consumer group member hands out everything through `for record in c`."""
    with pond.consumer("bench-iter", ["bench"], auto_offset_reset="earliest") as c:
        got = total = 0
        start = time.perf_counter()
        for r in c:
            total += len(r.value)  # type: ignore[arg-type]
            got += 1
            if got == n:
                break
        elapsed = time.perf_counter() - start
    assert total == n * len(VALUE), (got, total)
    return elapsed


def queue_receive_ack(pond: logpond.Pond, n: int) -> float:
    """A queue consumer receives 100 at a time and acks each batch with ack_many."""
    pond.create_topic("jobs")
    batch = [VALUE] * BATCH
    for _ in range(n // BATCH):
        pond.send_many("jobs", batch)
    with pond.queue("jobs", "bench", max_in_flight=QUEUE_BATCH) as q:
        receive, ack_many = q.receive, q.ack_many
        got = 0
        start = time.perf_counter()
        while got < n:
            deliveries = receive(QUEUE_BATCH)
            if not deliveries:
                break
            ack_many(deliveries)
            got += len(deliveries)
        elapsed = time.perf_counter() - start
        assert got == n and q.backlog() == 0, (got, q.backlog())
    return elapsed


def main() -> None:
    for storage, make in ponds():
        with make() as pond:
            report(f"py_send_100B_{storage}", SINGLE, send_single(pond, SINGLE))
        with make() as pond:
            report(f"py_send_many_100B_{storage}", RECORDS, send_many(pond, RECORDS))
            report(f"py_read_100B_{storage}", RECORDS, consume(pond, RECORDS))
            report(f"py_group_poll500_100B_{storage}", RECORDS, group_poll(pond, RECORDS))
            report(f"py_group_iterate_100B_{storage}", RECORDS, group_iterate(pond, RECORDS))
        with make() as pond:
            report(f"py_queue_receive_ack100_100B_{storage}", QUEUED, queue_receive_ack(pond, QUEUED))


if __name__ == "__main__":
    main()
