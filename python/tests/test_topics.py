"""Topics: create (every keyword), list, describe, delete, and their errors."""

from __future__ import annotations

from typing import Any, Callable

import pytest

import logpond


def test_create_list_describe_delete(any_pond: logpond.Pond) -> None:
    assert any_pond.topics() == []
    any_pond.create_topic("orders", partitions=3)
    any_pond.create_topic("audit")
    assert any_pond.topics() == ["audit", "orders"]

    info = any_pond.describe("orders")
    assert isinstance(info, logpond.TopicInfo)
    assert info.name == "orders"
    assert [p.partition for p in info.partitions] == [0, 1, 2]
    for p in info.partitions:
        assert isinstance(p, logpond.PartitionInfo)
        assert (p.start_offset, p.end_offset) == (0, 0)
        assert p.bytes >= 0
    assert info.config.partitions == 3

    any_pond.delete_topic("orders")
    assert any_pond.topics() == ["audit"]
    with pytest.raises(logpond.TopicNotFound):
        any_pond.describe("orders")


def test_default_config(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    c = pond.describe("t").config
    assert c == logpond.TopicConfig(
        partitions=1,
        retention=None,
        retention_bytes=None,
        retention_records=None,
        compact=False,
        max_record_bytes=1 << 20,
        max_backlog=None,
        segment_bytes=64 << 20,
        segment_age=7 * 24 * 3600.0,
        delete_retention=24 * 3600.0,
    )


def test_every_keyword_round_trips(pond: logpond.Pond) -> None:
    pond.create_topic(
        "t",
        partitions=2,
        retention=1.5,
        retention_bytes=10_000,
        retention_records=100,
        compact=True,
        max_record_bytes=4096,
        max_backlog=50,
        segment_bytes=2048,
        segment_age=60,
        delete_retention=0.25,
    )
    c = pond.describe("t").config
    assert c.partitions == 2
    assert c.retention == 1.5
    assert c.retention_bytes == 10_000
    assert c.retention_records == 100
    assert c.compact is True
    assert c.max_record_bytes == 4096
    assert c.max_backlog == 50
    assert c.segment_bytes == 2048
    assert c.segment_age == 60.0
    assert c.delete_retention == 0.25


def test_partitions_positional(pond: logpond.Pond) -> None:
    pond.create_topic("t", 4)
    assert len(pond.describe("t").partitions) == 4


def test_topic_exists(pond: logpond.Pond) -> None:
    pond.create_topic("t")
    with pytest.raises(logpond.TopicExists) as e:
        pond.create_topic("t")
    assert "t" in str(e.value)
    assert e.value.code == "TOPIC_EXISTS"


@pytest.mark.parametrize("name", ["", ".", "..", "has space", "a/b", "ümlaut", "x" * 250, "__internal"])
def test_invalid_names(pond: logpond.Pond, name: str) -> None:
    with pytest.raises(logpond.InvalidName):
        pond.create_topic(name)
    assert pond.topics() == []


def test_valid_edge_names(pond: logpond.Pond) -> None:
    for name in ["a", "A.b_c-9", "x" * 249, "_one"]:
        pond.create_topic(name)
    assert len(pond.topics()) == 4


def test_topic_not_found_everywhere(pond: logpond.Pond) -> None:
    calls: list[Callable[[], object]] = [
        lambda: pond.describe("nope"),
        lambda: pond.delete_topic("nope"),
        lambda: pond.send("nope", b"v"),
        lambda: pond.send_many("nope", [b"v"]),
        lambda: pond.read("nope"),
        lambda: pond.offset_for_time("nope", 0, 0),
        lambda: pond.offsets("nope"),
        lambda: pond.delete_records("nope", 0, 0),
    ]
    for call in calls:
        with pytest.raises(logpond.TopicNotFound):
            call()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"partitions": 0},
        {"partitions": 10_001},
        {"retention": 0},
        {"retention": -1.0},
        {"retention_bytes": 0},
        {"retention_records": 0},
        {"max_record_bytes": 0},
        {"max_record_bytes": (64 << 20) + 1},
        {"max_backlog": 0},
        {"segment_bytes": 10},
        {"segment_bytes": (1 << 30) + 1},
        {"segment_age": 0},
        {"delete_retention": -1},
    ],
)
def test_invalid_config(pond: logpond.Pond, kwargs: dict[str, Any]) -> None:
    with pytest.raises(logpond.InvalidArgument):
        pond.create_topic("t", **kwargs)
    assert pond.topics() == []


@pytest.mark.parametrize(
    "kwargs",
    [
        {"partitions": -1},
        {"retention_bytes": -5},
        {"retention_records": -5},
        {"max_record_bytes": -1},
        {"max_backlog": -1},
        {"segment_bytes": -1},
        {"partitions": 2**40},
        {"segment_bytes": 2**80},
        {"retention": float("inf")},
        {"retention": float("nan")},
    ],
)
def test_negative_or_huge_numbers_are_invalid_argument(pond: logpond.Pond, kwargs: dict[str, Any]) -> None:
    with pytest.raises(logpond.InvalidArgument) as e:
        pond.create_topic("t", **kwargs)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"partitions": "3"},
        {"partitions": 1.5},
        {"retention": "1h"},
        {"retention_bytes": 1.0},
        {"compact": "yes"},
    ],
)
def test_wrong_types_are_type_errors(pond: logpond.Pond, kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        pond.create_topic("t", **kwargs)


def test_name_must_be_str(pond: logpond.Pond) -> None:
    with pytest.raises(TypeError):
        pond.create_topic(b"t")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        pond.send(1, b"v")  # type: ignore[arg-type]


def test_delete_topic_then_recreate_is_empty(any_pond: logpond.Pond) -> None:
    any_pond.create_topic("t")
    any_pond.send_many("t", [b"a", b"b"])
    any_pond.delete_topic("t")
    any_pond.create_topic("t")
    assert any_pond.read("t") == []
    assert any_pond.describe("t").partitions[0].end_offset == 0


def test_delete_topic_bad_name(pond: logpond.Pond) -> None:
    with pytest.raises(logpond.InvalidName):
        pond.delete_topic("a b")


def test_config_feeds_create_topic(pond: logpond.Pond) -> None:
    import dataclasses

    pond.create_topic("a", partitions=2, retention=90.5, compact=True, segment_bytes=4096, max_backlog=7)
    config = dataclasses.asdict(pond.describe("a").config)
    pond.create_topic("b", **config)  # the fields are create_topic's keywords
    assert pond.describe("b").config == pond.describe("a").config
