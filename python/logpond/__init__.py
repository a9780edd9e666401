"""logpond: an embeddable event broker (partitioned, replayable logs) with no server.

>>> import logpond
>>> with logpond.memory() as pond:
...     pond.create_topic("orders", partitions=3)
...     md = pond.send("orders", b'{"total": 12}', key="customer-7")
...     [r.json() for r in pond.read("orders", md.partition)]
[{'total': 12}]

Durations are seconds (float), timestamps are Unix epoch milliseconds.
Values and keys accept bytes, bytearray, memoryview or str (utf-8) and come
back as bytes. Every error is a ``LogpondError`` subclass (wrong Python types
raise ``TypeError``). A pond may be shared between threads; calls that touch
storage release the GIL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, List, Optional, Type, Union

from . import _native
from ._native import (
    FORMAT_VERSION,
    Backpressure,
    Closed,
    Corruption,
    InvalidArgument,
    InvalidName,
    IoError,
    LogpondError,
    ManualClock,
    OffsetOutOfRange,
    PondLocked,
    Record,
    RecordMetadata,
    RecordTooLarge,
    TopicExists,
    TopicNotFound,
)

__version__: str = _native.__version__

__all__ = [
    "FORMAT_VERSION",
    "Backpressure",
    "Closed",
    "Corruption",
    "InvalidArgument",
    "InvalidName",
    "IoError",
    "LogpondError",
    "ManualClock",
    "OffsetOutOfRange",
    "PartitionInfo",
    "Pond",
    "PondLocked",
    "Record",
    "RecordMetadata",
    "RecordTooLarge",
    "TopicConfig",
    "TopicExists",
    "TopicInfo",
    "TopicNotFound",
    "memory",
    "open",
]

StrPath = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class PartitionInfo:
    """One partition's offsets: records ``start_offset <= o < end_offset`` are readable."""

    partition: int
    start_offset: int
    end_offset: int
    bytes: int
    """Bytes the partition's segments hold on storage."""


@dataclass(frozen=True)
class TopicConfig:
    """A topic's configuration, in the units ``create_topic`` takes (seconds, bytes)."""

    partitions: int
    retention: Optional[float]
    retention_bytes: Optional[int]
    retention_records: Optional[int]
    compact: bool
    max_record_bytes: int
    max_backlog: Optional[int]
    segment_bytes: int
    segment_age: float
    delete_retention: float


@dataclass(frozen=True)
class TopicInfo:
    """What ``Pond.describe`` reports."""

    name: str
    partitions: List[PartitionInfo]
    config: TopicConfig


class Pond(_native.Pond):
    """One broker over one storage (a directory, or memory).

    Make one with :func:`logpond.open` or :func:`logpond.memory`; use it as a
    context manager to close it. Safe to share between threads.
    """

    @classmethod
    def open(
        cls: Type[Pond],
        path: StrPath,
        durability: str = "os",
        clock: Optional[ManualClock] = None,
    ) -> Pond:
        """Opens (creating if needed) a pond directory. Raises ``PondLocked``
        when another open pond (in any process) holds it."""
        return cls(os.fspath(path), durability=durability, clock=clock)

    @classmethod
    def memory(cls: Type[Pond], clock: Optional[ManualClock] = None) -> Pond:
        """A pond kept in memory; its records go when it is closed."""
        return cls(None, clock=clock)

    def describe(self, name: str) -> TopicInfo:
        """The topic's partitions (offsets, size) and configuration."""
        topic, parts, config = self._describe(name)
        return TopicInfo(
            name=topic,
            partitions=[PartitionInfo(*p) for p in parts],
            config=TopicConfig(**config),
        )

    # Consumer groups (`consumer(...)`) and queues (`queue(...)`) join this
    # class in a later phase: native handles from `_native`, with the
    # Pythonic parts (iteration, context managers, `subscribe`) here.

    def __enter__(self) -> Pond:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "memory" if self.path is None else repr(os.fspath(self.path))
        state = " closed" if self.closed else ""
        return f"<logpond.Pond {where} durability={self.durability}{state}>"


def open(path: StrPath, durability: str = "os", clock: Optional[ManualClock] = None) -> Pond:
    """Opens (creating if needed) a pond in a directory.

    ``durability="os"`` (default) hands every append to the OS before it
    returns: it survives a killed process. ``"fsync"`` also syncs it to
    stable storage: it survives a power loss, at a cost per call.
    """
    return Pond.open(path, durability=durability, clock=clock)


def memory(clock: Optional[ManualClock] = None) -> Pond:
    """A pond in memory (nothing is kept after close)."""
    return Pond.memory(clock=clock)
