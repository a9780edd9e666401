"""Typed use of the public API, checked by `mypy --strict` (make test-python)
and run by test_typed_usage.py, so the stubs and the module agree."""

from __future__ import annotations

import datetime
from typing import Dict, List, Optional, Tuple

import logpond


def produce_and_consume(pond: logpond.Pond) -> List[Tuple[int, Optional[bytes]]]:
    pond.create_topic(
        "orders",
        partitions=2,
        retention=3600.0,
        retention_bytes=1 << 30,
        retention_records=None,
        compact=False,
        max_record_bytes=1 << 20,
        max_backlog=None,
        segment_bytes=1 << 20,
    )
    md: logpond.RecordMetadata = pond.send(
        "orders", b'{"n": 1}', key="k", headers=[("h", b"1"), ("s", "x")], partition=None, timestamp_ms=None
    )
    mds: List[logpond.RecordMetadata] = pond.send_many(
        "orders",
        [b"a", "b", bytearray(b"c"), memoryview(b"d"), None, {"key": b"k", "value": b"c", "headers": []}],
    )
    assert md.offset >= 0 and len(mds) == 6
    records: List[logpond.Record] = pond.read("orders", partition=md.partition, offset=0, max_records=500)
    first: logpond.Record = records[0]
    text: Optional[str] = first.value_str()
    assert text == '{"n": 1}' and first.json() == {"n": 1}
    headers: List[Tuple[str, bytes]] = first.headers
    assert headers
    info: logpond.TopicInfo = pond.describe("orders")
    part: logpond.PartitionInfo = info.partitions[0]
    cfg: logpond.TopicConfig = info.config
    retention: Optional[float] = cfg.retention
    assert part.end_offset >= part.start_offset and retention == 3600.0
    when: Optional[int] = pond.offset_for_time("orders", 0, 0)
    start, end = pond.offsets("orders", 0)
    assert when is None or start <= when <= end
    pond.delete_records("orders", 0, before_offset=0)
    pond.maintain()
    pond.flush()
    names: List[str] = pond.topics()
    assert names == ["orders"]
    return [(r.offset, r.value) for r in records]


def consume_as_a_group(pond: logpond.Pond) -> Dict[Tuple[str, int], int]:
    pond.send_many("orders", [{"value": b"x", "partition": p} for p in (0, 1)])
    consumer: logpond.Consumer = pond.consumer(
        "billing",
        ["orders"],
        auto_offset_reset="earliest",
        auto_commit=False,
        session_timeout=10.0,
        assignor="range",
        auto_commit_interval=datetime.timedelta(seconds=5),
    )
    with consumer as c:
        records: List[logpond.Record] = c.poll(max_records=500, timeout=0.0)
        assert records and c.poll(10, timeout=None if not records else 0.01) == []
        c.commit()
        c.commit({("orders", 0): 1})
        c.commit([("orders", 1, 1)])
        committed: Optional[int] = c.committed("orders", 0)
        position: int = c.position("orders", 0)
        assert committed == 1 and position >= 1
        c.seek("orders", 0, 0)
        c.seek_to_beginning()
        c.seek_to_time(0)
        for record in c:
            assert record.offset >= 0
            break
        c.seek_to_end()
        parts: List[Tuple[str, int]] = c.assignment()
        lag: Dict[Tuple[str, int], int] = c.lag()
        member: int = c.member_id
        generation: int = c.generation
        assert parts and member >= 0 and generation >= 1 and c.group == "billing" and c.topics == ["orders"]
    assert c.closed
    return lag


def work_a_queue(pond: logpond.Pond) -> int:
    pond.create_topic("jobs", partitions=1, max_backlog=1000, retain_until_acked=False)
    pond.send("jobs", b"job", timeout=1.0)
    pond.send_many("jobs", [b"a", b"b"], timeout=None)
    with pond.queue(
        "jobs",
        "workers",
        ack_timeout=30.0,
        max_deliveries=3,
        dead_letter_topic="jobs.dlq",
        max_in_flight=100,
        start_at_end=False,
    ) as q:
        deliveries: List[logpond.Delivery] = q.receive(max_messages=2, timeout=0.5)
        first: logpond.Delivery = deliveries[0]
        record: logpond.Record = first.record
        count: int = first.delivery_count
        assert record.value == b"job" and count == 1 and not first.done
        first.ack()
        deliveries[1].nack(delay=0.0, reason="try again")
        for delivery in q:  # blocks for the next delivery
            delivery.ack()
            break
        q.ack_many(q.receive(10))
        backlog: int = q.backlog()
        in_flight: int = q.in_flight()
        parked: List[logpond.ParkedRecord] = q.parked()
        assert q.topic == "jobs" and q.subscription == "workers" and in_flight == 0 and parked == []

        def handler(d: logpond.Delivery) -> None:
            assert d.record.topic == "jobs"

        sub: logpond.Subscription = q.subscribe(handler, concurrency=2)
        sub.stop()
        names: List[str] = pond.subscriptions("jobs")
        assert names == ["workers"]
    pond.delete_subscription("jobs", "workers")
    return backlog


def main() -> None:
    clock = logpond.ManualClock(start_ms=0)
    clock.advance(1.5)
    now: int = clock.now_ms()
    assert now == 1500
    with logpond.memory(clock=clock) as pond:
        produce_and_consume(pond)
        consume_as_a_group(pond)
        work_a_queue(pond)
    try:
        with logpond.open("typed-usage-pond", durability="fsync") as pond:
            produce_and_consume(pond)
            pond.delete_topic("orders")
    except (logpond.CommitFailed, logpond.LeaseExpired) as e:
        raise RuntimeError("unexpected") from e
    except logpond.LogpondError as e:
        code: Optional[str] = e.code
        raise RuntimeError(code) from e


if __name__ == "__main__":
    main()
