"""send, send_many, read, offset_for_time, offsets, delete_records."""

from __future__ import annotations

import pickle

from typing import Any, Union

import pytest

import logpond


def test_send_returns_metadata(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t")
    md = any_pond.send("t", b"hello", timestamp_ms=1234)
    assert isinstance(md, logpond.RecordMetadata)
    assert (md.topic, md.partition, md.offset, md.timestamp_ms) == ("t", 0, 0, 1234)
    md2 = any_pond.send("t", b"again")
    assert md2.offset == 1
    assert md2.timestamp_ms > 1_600_000_000_000  # the system clock's now
    assert md == logpond.RecordMetadata("t", 0, 0, 1234)
    assert md != md2
    assert hash(md) == hash(logpond.RecordMetadata("t", 0, 0, 1234))
    assert repr(md) == "RecordMetadata(topic='t', partition=0, offset=0, timestamp_ms=1234)"
    assert pickle.loads(pickle.dumps(md)) == md


def test_read_back_everything(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t")
    any_pond.send("t", b"v", key=b"k", headers=[("h", b"1"), ("h", b"2"), ("x", b"")], timestamp_ms=5)
    any_pond.send("t", None, key=b"k", timestamp_ms=6)  # a tombstone
    any_pond.send("t", b"", timestamp_ms=7)  # empty value, no key
    r0, r1, r2 = any_pond.read("t", 0, 0)
    assert (r0.topic, r0.partition, r0.offset, r0.timestamp_ms) == ("t", 0, 0, 5)
    assert r0.key == b"k" and r0.value == b"v"
    assert r0.headers == [("h", b"1"), ("h", b"2"), ("x", b"")]
    assert isinstance(r0.key, bytes) and isinstance(r0.value, bytes)
    assert r1.key == b"k" and r1.value is None and r1.headers == []
    assert r2.key is None and r2.value == b""
    # headers is a fresh list each time: mutating it does not change the record
    r0.headers.append(("y", b"z"))
    assert len(r0.headers) == 3


def test_input_types(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    inputs: list[Union[bytes, bytearray, memoryview, str]] = [b"abc", bytearray(b"abc"), memoryview(b"abc"), "abc", memoryview(b"xabcx")[1:4]]
    for v in inputs:
        pond.send("t", v, key=v, headers=[("h", v)])
    for r in pond.read("t"):
        assert r.value == b"abc" and r.key == b"abc" and r.headers == [("h", b"abc")]


def test_str_is_utf8(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    pond.send("t", "héllo ✓", key="ключ", headers=[("名前", "値")])
    (r,) = pond.read("t")
    assert r.value == "héllo ✓".encode()
    assert r.value_str() == "héllo ✓"
    assert r.key_str() == "ключ"
    assert r.headers == [("名前", "値".encode())]


def test_memoryview_of_non_bytes_format(pond: logpond.Pond) -> None:
    import array

    pond.create_topic("t")
    a = array.array("i", [1, 2, 3])
    pond.send("t", memoryview(a))
    assert pond.read("t")[0].value == a.tobytes()


def test_bytearray_is_copied(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    buf = bytearray(b"before")
    pond.send("t", buf)
    buf[:] = b"AFTER!"
    assert pond.read("t")[0].value == b"before"


def test_headers_as_dict_and_lists(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    pond.send("t", b"v", headers={"a": b"1", "b": "2"})
    pond.send("t", b"v", headers=(["a", b"1"],))  # type: ignore[arg-type]
    pond.send("t", b"v", headers=[])
    pond.send("t", b"v", headers=None)
    assert [r.headers for r in pond.read("t")] == [[("a", b"1"), ("b", b"2")], [("a", b"1")], [], []]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"value": 5},
        {"value": 1.5},
        {"value": ["a"]},
        {"value": b"v", "key": 7},
        {"value": b"v", "headers": [("h", 1)]},
        {"value": b"v", "headers": [(1, b"v")]},
        {"value": b"v", "headers": [("h",)]},
        {"value": b"v", "headers": ["hv"]},
        {"value": b"v", "headers": "h"},
        {"value": b"v", "headers": 5},
        {"value": b"v", "partition": "0"},
        {"value": b"v", "partition": 0.0},
        {"value": b"v", "timestamp_ms": 1.5},
    ],
)
def test_send_wrong_types(pond: logpond.Pond, kwargs: dict[str, Any]) -> None:
    pond.create_topic("t")
    value = kwargs.pop("value")
    with pytest.raises(TypeError):
        pond.send("t", value, **kwargs)
    assert pond.read("t") == []


def test_send_bad_numbers(pond: logpond.Pond) -> None:
    pond.create_topic("t", partitions=2)
    with pytest.raises(logpond.InvalidArgument):
        pond.send("t", b"v", partition=-1)
    with pytest.raises(logpond.InvalidArgument):
        pond.send("t", b"v", partition=2)  # no such partition
    with pytest.raises(logpond.InvalidArgument):
        pond.send("t", b"v", partition=2**33)
    with pytest.raises(logpond.InvalidArgument):
        pond.send("t", b"v", timestamp_ms=-1)
    with pytest.raises(logpond.InvalidArgument):
        pond.send("t", b"v", timestamp_ms=2**70)


def test_partitioning(pond: logpond.Pond) -> None:
    pond.create_topic("t", partitions=4)
    assert pond.send("t", b"v", partition=3).partition == 3
    # the same key always lands in the same partition
    p = pond.send("t", b"1", key=b"customer-7").partition
    assert all(pond.send("t", b"n", key="customer-7").partition == p for _ in range(10))
    # keyless records spread over the partitions, call by call
    assert len({pond.send("t", b"x").partition for _ in range(8)}) == 4


# Kafka's Utils.murmur2 of these keys (vectors from the Java client).
KAFKA_MURMUR2 = [
    (b"21", -973_932_308),
    (b"foobar", -790_332_482),
    (b"a-little-bit-long-string", -985_981_536),
    (b"abc", 479_470_107),
    (b"1", -1_993_445_489),
    (b"12345", -1_188_365_604),
]


@pytest.mark.parametrize("partitions", [3, 7, 10])
def test_keys_land_where_kafka_puts_them(pond: logpond.Pond, partitions: int) -> None:
    pond.create_topic("t", partitions=partitions)
    for key, h in KAFKA_MURMUR2:
        expected = (h & 0x7FFFFFFF) % partitions
        assert pond.send("t", b"v", key=key).partition == expected
        assert pond.send("t", b"v", key=key.decode()).partition == expected  # str keys are utf-8


def test_send_many(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t", partitions=2)
    items = [
        b"a",
        "b",
        bytearray(b"c"),
        memoryview(b"d"),
        None,
        {"value": b"e", "key": b"k", "headers": [("h", b"1")], "partition": 1, "timestamp_ms": 9},
        {"key": "tomb"},
        {},
    ]
    mds = any_pond.send_many("t", items)
    assert len(mds) == len(items)
    assert all(isinstance(m, logpond.RecordMetadata) for m in mds)
    assert mds[5].partition == 1 and mds[5].timestamp_ms == 9
    # keyless records of one call share a partition, in order
    keyless = [m for i, m in enumerate(mds) if i in (0, 1, 2, 3, 4, 7)]
    assert len({m.partition for m in keyless}) == 1
    assert [m.offset for m in keyless] == sorted(m.offset for m in keyless)
    p = keyless[0].partition
    values = [r.value for r in any_pond.read("t", p)]
    assert values == [b"a", b"b", b"c", b"d", None, None][: len(values)]
    (e,) = [r for r in any_pond.read("t", 1) if r.key == b"k"]
    assert e.value == b"e" and e.headers == [("h", b"1")] and e.timestamp_ms == 9


def test_send_many_iterables(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    assert pond.send_many("t", []) == []
    assert len(pond.send_many("t", (b"x" for _ in range(3)))) == 3
    assert len(pond.send_many("t", (b"a", b"b"))) == 2
    assert pond.describe("t").partitions[0].end_offset == 5


def test_send_many_errors_write_nothing(pond: logpond.Pond) -> None:
    pond.create_topic("t", max_record_bytes=10)
    with pytest.raises(TypeError):
        pond.send_many("t", b"abc")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pond.send_many("t", "abc")
    with pytest.raises(TypeError):
        pond.send_many("t", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pond.send_many("t", [b"ok", 5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="vaule"):
        pond.send_many("t", [{"vaule": b"typo"}])
    with pytest.raises(logpond.RecordTooLarge):
        pond.send_many("t", [b"ok", b"x" * 11])
    with pytest.raises(logpond.InvalidArgument):
        pond.send_many("t", [b"ok", {"value": b"v", "partition": 5}])
    assert pond.read("t") == []


def test_record_too_large(pond: logpond.Pond) -> None:
    pond.create_topic("t", max_record_bytes=100)
    pond.send("t", b"x" * 100)
    with pytest.raises(logpond.RecordTooLarge) as e:
        pond.send("t", b"x" * 101)
    assert e.value.code == "RECORD_TOO_LARGE"
    # key and headers count too
    with pytest.raises(logpond.RecordTooLarge):
        pond.send("t", b"x" * 90, key=b"k" * 11)
    with pytest.raises(logpond.RecordTooLarge):
        pond.send("t", b"x" * 90, headers=[("hdr", b"y" * 8)])


def test_read_positions_and_limits(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t")
    any_pond.send_many("t", [str(i) for i in range(1000)])
    assert len(any_pond.read("t")) == 500  # the default max_records
    rs = any_pond.read("t", 0, 990)
    assert [r.offset for r in rs] == list(range(990, 1000))
    assert [r.value for r in any_pond.read("t", 0, 10, max_records=3)] == [b"10", b"11", b"12"]
    assert any_pond.read("t", 0, 0, max_records=0) == []
    assert any_pond.read("t", 0, 1000) == []  # at the end: nothing yet
    # max_bytes stops a read early, but always returns at least one record
    assert len(any_pond.read("t", 0, 0, max_bytes=5)) == 5
    assert len(any_pond.read("t", 0, 0, max_bytes=0)) == 1
    with pytest.raises(logpond.OffsetOutOfRange) as e:
        any_pond.read("t", 0, 1001)
    assert e.value.code == "OFFSET_OUT_OF_RANGE"


def test_read_bad_arguments(pond: logpond.Pond) -> None:
    pond.create_topic("t", partitions=2)
    with pytest.raises(logpond.InvalidArgument):
        pond.read("t", -1)
    with pytest.raises(logpond.InvalidArgument):
        pond.read("t", 2)  # no such partition
    with pytest.raises(logpond.InvalidArgument):
        pond.read("t", 0, -1)
    with pytest.raises(logpond.InvalidArgument):
        pond.read("t", 0, 0, max_records=-1)
    with pytest.raises(logpond.InvalidArgument):
        pond.read("t", 0, 0, max_bytes=-1)
    with pytest.raises(TypeError):
        pond.read("t", 0, "0")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pond.read("t", 0.0)  # type: ignore[arg-type]


def test_offsets_and_offset_for_time(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t")
    assert any_pond.offsets("t") == (0, 0)
    assert any_pond.offset_for_time("t", 0, 0) is None
    any_pond.send_many("t", [{"value": b"v", "timestamp_ms": ts} for ts in (100, 200, 200, 300)])
    assert any_pond.offsets("t", 0) == (0, 4)
    assert any_pond.offset_for_time("t", 0, 0) == 0
    assert any_pond.offset_for_time("t", 0, 100) == 0
    assert any_pond.offset_for_time("t", 0, 101) == 1
    assert any_pond.offset_for_time("t", 0, 200) == 1
    assert any_pond.offset_for_time("t", 0, 300) == 3
    assert any_pond.offset_for_time("t", 0, 301) is None
    assert any_pond.offset_for_time("t", 0, -5) == 0
    with pytest.raises(logpond.InvalidArgument):
        any_pond.offset_for_time("t", 1, 0)


def test_delete_records(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t")
    any_pond.send_many("t", [str(i) for i in range(10)])
    any_pond.delete_records("t", 0, before_offset=4)
    assert any_pond.offsets("t") == (4, 10)
    assert any_pond.describe("t").partitions[0].start_offset == 4
    assert [r.offset for r in any_pond.read("t", 0, 4)] == list(range(4, 10))
    with pytest.raises(logpond.OffsetOutOfRange):
        any_pond.read("t", 0, 3)
    any_pond.delete_records("t", 0, 2)  # below the start: nothing to do
    assert any_pond.offsets("t") == (4, 10)
    with pytest.raises(logpond.OffsetOutOfRange):
        any_pond.delete_records("t", 0, 11)
    with pytest.raises(logpond.InvalidArgument):
        any_pond.delete_records("t", 0, -1)
    any_pond.delete_records("t", 0, 10)
    assert any_pond.read("t", 0, 10) == []


def test_record_object(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    pond.send("t", b'{"a": [1, 2]}', key=b"k", headers=[("h", b"v")], timestamp_ms=42)
    pond.send("t", None, key=b"k", timestamp_ms=43)
    r, tomb = pond.read("t")
    assert r.json() == {"a": [1, 2]}
    assert tomb.json() is None and tomb.value_str() is None
    assert r.value_str(errors="replace") == '{"a": [1, 2]}'
    assert repr(r) == (
        "Record(topic='t', partition=0, offset=0, timestamp_ms=42, key=b'k', "
        "value=b'{\"a\": [1, 2]}', headers=[('h', b'v')])"
    )
    same = logpond.Record("t", 0, 0, 42, key=b"k", value=b'{"a": [1, 2]}', headers=[("h", b"v")])
    assert r == same and hash(r) == hash(same)
    assert r != tomb
    assert r != logpond.Record("t", 0, 0, 42, key=b"k", value=b'{"a": [1, 2]}')  # headers differ
    assert r != "not a record"
    assert pickle.loads(pickle.dumps(r)) == r
    assert {r, same, tomb} == {r, tomb}
    with pytest.raises(AttributeError):
        r.value = b"x"  # type: ignore[misc]


def test_long_values_have_short_repr(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    pond.send("t", b"x" * 10_000)
    text = repr(pond.read("t")[0])
    assert len(text) < 300 and "(10000 bytes)" in text


def test_bad_utf8_value_str(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    pond.send("t", b"\xff\xfe")
    (r,) = pond.read("t")
    with pytest.raises(UnicodeDecodeError):
        r.value_str()
    assert r.value_str(errors="replace") == "\ufffd\ufffd"
    with pytest.raises(ValueError):
        r.json()
