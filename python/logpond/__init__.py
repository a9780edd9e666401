"""logpond: an embeddable event broker (partitioned, replayable logs with
consumer groups, and queues with acks and dead letters) with no server.

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

import datetime
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Type, Union

from . import _native
from ._native import (
    FORMAT_VERSION,
    Backpressure,
    Closed,
    CommitFailed,
    Corruption,
    Delivery,
    InvalidArgument,
    InvalidName,
    IoError,
    LeaseExpired,
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

# A handle opened before os.fork() must not be used in the child (its
# writes would collide with the parent's): it raises Closed there.
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native._after_fork_in_child)

__all__ = [
    "FORMAT_VERSION",
    "Backpressure",
    "Closed",
    "CommitFailed",
    "Consumer",
    "Corruption",
    "Delivery",
    "InvalidArgument",
    "InvalidName",
    "IoError",
    "LeaseExpired",
    "LogpondError",
    "ManualClock",
    "OffsetOutOfRange",
    "ParkedRecord",
    "PartitionInfo",
    "Pond",
    "PondLocked",
    "Queue",
    "Record",
    "RecordMetadata",
    "RecordTooLarge",
    "Subscription",
    "TopicConfig",
    "TopicExists",
    "TopicInfo",
    "GroupInfo",
    "GroupMember",
    "OffsetInfo",
    "SubscriptionInfo",
    "SubscriptionSettings",
    "TopicNotFound",
    "memory",
    "open",
]

StrPath = Union[str, "os.PathLike[str]"]
Seconds = Union[float, "datetime.timedelta"]
"""A duration: seconds (int or float) or a timedelta; kept as whole milliseconds."""

_log = logging.getLogger("logpond")


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
    retain_until_acked: bool = False
    """Records are kept only until every subscription (and group with a commit) settled them."""


@dataclass(frozen=True)
class TopicInfo:
    """What ``Pond.describe`` reports."""

    name: str
    partitions: List[PartitionInfo]
    config: TopicConfig


@dataclass(frozen=True)
class GroupMember:
    """A member of a consumer group, in any handle or process."""

    member_id: int
    assignment: List[Tuple[str, int]]
    """The partitions it consumes now, sorted."""


@dataclass(frozen=True)
class OffsetInfo:
    """Where a group stands in one partition."""

    committed: Optional[int]
    """The committed offset (the next record to consume), if any."""
    end: int
    lag: int
    """``end - committed`` (from the partition's start when nothing is committed)."""
    consumer: Optional[int]
    """The member consuming the partition now, if any."""


@dataclass(frozen=True)
class GroupInfo:
    """What ``Pond.describe_group`` reports."""

    group: str
    generation: int
    members: List[GroupMember]
    offsets: Dict[Tuple[str, int], OffsetInfo]


@dataclass(frozen=True)
class SubscriptionSettings:
    """A queue subscription's stored settings (see :meth:`Pond.queue`)."""

    ack_timeout: float
    """Seconds a delivery is leased before it is redelivered."""
    max_deliveries: Optional[int]
    dead_letter_topic: Optional[str]
    retry_backoff: Optional[Tuple[float, float]]
    """``(initial, max)`` seconds a plain ``nack()`` waits, doubling per delivery."""


@dataclass(frozen=True)
class SubscriptionInfo:
    """What ``Pond.describe_subscription`` reports."""

    topic: str
    subscription: str
    backlog: int
    """Records not yet acked (in flight, waiting, delayed and parked included)."""
    in_flight: int
    """Records leased to a consumer now, in any handle or process."""
    dead_lettered: int
    """Records sent to the dead-letter topic, ever."""
    parked: int
    """Records kept after their last delivery (no dead-letter topic)."""
    expired: int
    """Records whose ``ttl`` ran out before delivery, ever."""
    oldest_unacked_age: Optional[float]
    """Seconds since the oldest record neither acked nor parked was appended."""
    settings: SubscriptionSettings


def _settings(t: Tuple[float, Optional[int], Optional[str], Optional[Tuple[float, float]]]) -> SubscriptionSettings:
    return SubscriptionSettings(*t)


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
        group_access: bool = False,
        read_only: bool = False,
    ) -> Pond:
        """Opens (creating if needed) a pond directory. Any number of
        handles, in this process and others, may have it open at once; they
        share topics, records, groups and queues live. New files are
        private to the owner (0600, directories 0700) whatever the umask;
        ``group_access=True`` makes them 0660/0770 for a group-shared pond.
        ``read_only=True`` opens an existing pond without ever writing to
        it (beside writers, or on a read-only mount): operations that would
        change it raise ``IoError``."""
        return cls(
            os.fspath(path), durability=durability, clock=clock, group_access=group_access, read_only=read_only
        )

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

    def describe_group(self, group: str) -> GroupInfo:
        """A consumer group's generation, members and their partitions, and
        per partition its committed offset, end and lag — read without
        joining the group (nothing rebalances)."""
        name, generation, members, offsets = self._describe_group(group)
        return GroupInfo(
            group=name,
            generation=generation,
            members=[GroupMember(m, [(t, p) for t, p in a]) for m, a in members],
            offsets={(t, p): OffsetInfo(c, e, lag, who) for t, p, c, e, lag, who in offsets},
        )

    def describe_subscription(self, topic: str, subscription: str) -> SubscriptionInfo:
        """A queue subscription's backlog, in-flight, dead-lettered, parked
        and expired counts, the age of its oldest unacked record and its
        stored settings — read without attaching to it."""
        t, s, backlog, in_flight, dead_lettered, parked, expired, age, settings = self._describe_subscription(
            topic, subscription
        )
        return SubscriptionInfo(t, s, backlog, in_flight, dead_lettered, parked, expired, age, _settings(settings))

    def update_subscription(
        self,
        topic: str,
        subscription: str,
        *,
        ack_timeout: Optional[Seconds] = None,
        max_deliveries: Optional[int] = None,
        dead_letter_topic: Optional[str] = None,
        retry_backoff: Optional[Tuple[Seconds, Seconds]] = None,
    ) -> SubscriptionSettings:
        """Changes a subscription's stored settings; every consumer, in any
        process, uses them from its next call. ``None`` leaves a setting as it
        is; ``max_deliveries=0``, ``dead_letter_topic=""`` and
        ``retry_backoff=(0, 0)`` remove one. Returns the settings now stored."""
        return _settings(
            self._update_subscription(
                topic, subscription, ack_timeout, max_deliveries, dead_letter_topic, retry_backoff
            )
        )

    def consumer(
        self,
        group: str,
        topics: Union[str, Iterable[str]],
        *,
        auto_offset_reset: str = "latest",
        auto_commit: bool = True,
        session_timeout: Seconds = 10.0,
        assignor: str = "cooperative-sticky",
        auto_commit_interval: Seconds = 5.0,
    ) -> Consumer:
        """Joins consumer group ``group`` for ``topics`` (a rebalance).

        ``auto_offset_reset`` says where a partition without a committed
        offset starts: ``"latest"`` (only new records), ``"earliest"`` or
        ``"none"`` (``OffsetOutOfRange``). With ``auto_commit``, positions are
        committed every ``auto_commit_interval`` seconds (on poll), before a
        partition is handed to another member, and on close. A member that
        does not poll for ``session_timeout`` seconds loses its partitions.
        """
        return Consumer(
            self,
            group,
            topics,
            auto_offset_reset=auto_offset_reset,
            auto_commit=auto_commit,
            session_timeout=session_timeout,
            assignor=assignor,
            auto_commit_interval=auto_commit_interval,
        )

    def queue(
        self,
        topic: str,
        subscription: str,
        *,
        ack_timeout: Optional[Seconds] = None,
        max_deliveries: Optional[int] = None,
        dead_letter_topic: Optional[str] = None,
        retry_backoff: Optional[Tuple[Seconds, Seconds]] = None,
        max_in_flight: int = 100,
        start_at_end: bool = False,
    ) -> Queue:
        """Attaches a consumer to queue subscription ``subscription`` of
        ``topic`` (creating it at the topic's start, or its end with
        ``start_at_end``). Consumers of one subscription compete for its
        records; each delivery is leased for ``ack_timeout`` seconds. After
        ``max_deliveries`` a record goes to ``dead_letter_topic`` (created if
        missing), or is parked when there is none. A plain ``nack()`` waits
        ``retry_backoff=(initial, max)`` seconds, doubling per delivery.

        These four settings are stored with the subscription when it is
        first attached: ``None`` means the stored value (on first attach the
        default: 30 s, none, none, none), and a value that differs from the
        stored one raises ``InvalidArgument`` (change them with
        :meth:`update_subscription`). A consumer holds at most
        ``max_in_flight`` unacknowledged deliveries (its own, not stored).
        """
        return Queue(
            self,
            topic,
            subscription,
            ack_timeout=ack_timeout,
            max_deliveries=max_deliveries,
            dead_letter_topic=dead_letter_topic,
            retry_backoff=retry_backoff,
            max_in_flight=max_in_flight,
            start_at_end=start_at_end,
        )

    def __enter__(self) -> Pond:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "memory" if self.path is None else repr(os.fspath(self.path))
        state = " closed" if self.closed else ""
        return f"<logpond.Pond {where} durability={self.durability}{state}>"


class Consumer(_native.Consumer):
    """A member of a consumer group (see :meth:`Pond.consumer`).

    ``poll`` returns records; ``for record in consumer`` hands them out one
    by one, blocking (GIL released) for new ones until the consumer or its
    pond is closed. Leaving the loop early (``break``) keeps the position
    at the record after the last one handed out. Use it as a context
    manager to close it (leaving the group). Safe to share between threads.
    """

    def __enter__(self) -> Consumer:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<logpond.Consumer group={self.group!r} topics={self.topics!r}{state}>"


@dataclass(frozen=True)
class ParkedRecord:
    """A record past its ``max_deliveries`` in a subscription without a
    dead-letter topic: kept (in the backlog), never delivered again."""

    partition: int
    offset: int
    delivery_count: int
    reason: str
    """The last nack reason, or ``"ack timeout expired"``."""


class Queue(_native.Queue):
    """A consumer of a queue subscription (see :meth:`Pond.queue`).

    ``receive`` leases deliveries; ``for delivery in queue`` blocks (GIL
    released) for them one at a time until the queue or its pond is closed;
    ``subscribe`` runs a handler on background threads. Use it as a context
    manager to close it (its leases become deliverable again at once).
    """

    def parked(self) -> List[ParkedRecord]:
        """Records past their maximum deliveries that had no dead-letter topic."""
        return [ParkedRecord(*p) for p in self._parked()]

    def subscribe(self, handler: Callable[[Delivery], Any], concurrency: int = 1) -> Subscription:
        """Runs ``handler(delivery)`` for every delivery on ``concurrency``
        background threads. The handler's return acks the delivery, an
        exception nacks it (its text becomes the reason); a handler may also
        ack or nack by itself. ``stop()`` the result to end it."""
        return Subscription(self, handler, concurrency)

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = " closed" if self.closed else ""
        return f"<logpond.Queue topic={self.topic!r} subscription={self.subscription!r}{state}>"


class Subscription:
    """Push delivery: ``concurrency`` daemon threads receive from a queue and
    call the handler with each delivery (see :meth:`Queue.subscribe`).

    ``handled`` and ``failed`` count the handler's returns and exceptions.
    A handler that raises an ``Exception`` nacks its delivery, which comes
    back after the subscription's ``retry_backoff`` or, when it has none,
    1 s doubling per delivery to at most 60 s; the exception is logged at
    WARNING with its traceback (logger ``logpond``). One that
    raises ``SystemExit`` or ``KeyboardInterrupt`` stops the subscription:
    ``error`` holds the exception and ``stop()`` raises it once.
    ``stop()`` (or leaving a ``with`` block) waits for running handlers to
    finish; the queue itself stays open.
    """

    #: How long a worker waits for a delivery before it checks for ``stop``.
    IDLE_WAIT = 0.1

    def __init__(self, queue: Queue, handler: Callable[[Delivery], Any], concurrency: int = 1) -> None:
        if isinstance(concurrency, bool) or not isinstance(concurrency, int):
            raise TypeError(f"concurrency must be int, not {type(concurrency).__name__}")
        if concurrency < 1:
            raise InvalidArgument(f"invalid argument: concurrency must be >= 1, got {concurrency}")
        if not callable(handler):
            raise TypeError("handler must be callable")
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.handled = 0
        self.failed = 0
        #: The ``BaseException`` (``SystemExit``, ``KeyboardInterrupt``, ...)
        #: that stopped the subscription, if one did.
        self.error: Optional[BaseException] = None
        self._raised = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(
                target=self._work,
                name=f"logpond-{queue.topic}-{queue.subscription}-{i}",
                daemon=True,
            )
            for i in range(concurrency)
        ]
        for t in self._threads:
            t.start()

    @property
    def running(self) -> bool:
        """True until ``stop()`` was called (or every worker ended)."""
        return not self._stop.is_set() and any(t.is_alive() for t in self._threads)

    def _work(self) -> None:
        queue, stop = self.queue, self._stop
        while not stop.is_set():
            try:
                got = queue.receive(1, timeout=self.IDLE_WAIT)
            except Closed:
                return
            except LogpondError:
                _log.exception("logpond subscription %s: receive failed", queue.subscription)
                stop.wait(self.IDLE_WAIT)
                continue
            for delivery in got:
                self._handle(delivery)

    def _handle(self, delivery: Delivery) -> None:
        try:
            self.handler(delivery)
        except BaseException as e:
            with self._lock:
                self.failed += 1
            if not delivery.done:
                try:
                    # Redelivered after the failure backoff (1 s doubling to
                    # 60 s by delivery count): never a hot loop.
                    delivery._nack_failed(str(e) or type(e).__name__)
                except LogpondError:
                    _log.warning("logpond subscription: nack failed", exc_info=True)
            if not isinstance(e, Exception):
                # SystemExit, KeyboardInterrupt and the like stop the whole
                # subscription, visibly: ``error`` holds it, ``stop()`` raises it.
                with self._lock:
                    if self.error is None:
                        self.error = e
                self._stop.set()
                _log.error(
                    "logpond subscription %s stopped: its handler raised %s",
                    self.queue.subscription,
                    type(e).__name__,
                )
                return
            _log.warning(
                "logpond subscription %s/%s: handler raised on %s; nacked for a retry",
                self.queue.topic,
                self.queue.subscription,
                delivery,
                exc_info=True,
            )
            return
        with self._lock:
            self.handled += 1
        if not delivery.done:
            try:
                delivery.ack()
            except LogpondError:
                # The lease expired and the record went to another consumer:
                # it will be handled again (at-least-once).
                _log.warning("logpond subscription: ack failed", exc_info=True)

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stops receiving and waits (up to ``timeout`` seconds each) for the
        running handlers to return. Stopping twice is harmless."""
        self._stop.set()
        me = threading.current_thread()
        for t in self._threads:
            if t is not me:
                t.join(timeout)
        with self._lock:
            error, first = self.error, not self._raised
            self._raised = True
        if error is not None and first:
            raise error

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return (
            f"<logpond.Subscription {self.queue.topic}/{self.queue.subscription} "
            f"concurrency={self.concurrency} {state} handled={self.handled} failed={self.failed}>"
        )


def open(
    path: StrPath,
    durability: str = "os",
    clock: Optional[ManualClock] = None,
    group_access: bool = False,
    read_only: bool = False,
) -> Pond:
    """Opens (creating if needed) a pond in a directory. Other handles and
    processes may have it open too (``read_only=True``: a handle that
    never writes).

    ``durability="os"`` (default) hands every append to the OS before it
    returns: it survives a killed process. ``"fsync"`` also syncs it to
    stable storage: it survives a power loss, at a cost per call.
    """
    return Pond.open(path, durability=durability, clock=clock, group_access=group_access, read_only=read_only)


def memory(clock: Optional[ManualClock] = None) -> Pond:
    """A pond in memory (nothing is kept after close)."""
    return Pond.memory(clock=clock)
