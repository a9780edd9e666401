"""Typed use of the public API, checked by `mypy --strict` (make test-python)
and run by test_typed_usage.py, so the stubs and the module agree."""

from __future__ import annotations

from typing import List, Optional, Tuple

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


def main() -> None:
    clock = logpond.ManualClock(start_ms=0)
    clock.advance(1.5)
    now: int = clock.now_ms()
    assert now == 1500
    with logpond.memory(clock=clock) as pond:
        produce_and_consume(pond)
    try:
        with logpond.open("typed-usage-pond", durability="fsync") as pond:
            produce_and_consume(pond)
            pond.delete_topic("orders")
    except logpond.LogpondError as e:
        code: Optional[str] = e.code
        raise RuntimeError(code) from e


if __name__ == "__main__":
    main()
