"""The conformance scenarios of tests/scenarios/*.json (the same files every
runtime runs; the format is tests/scenarios/README.md, the reference
runner core/tests/scenarios.rs). One test per file.

Durations in the files are milliseconds; the Python API takes seconds.
"""

from __future__ import annotations

import json
import pathlib
from typing import Any, Dict, List, Optional, Tuple

import pytest

import logpond

SCENARIOS_DIR = pathlib.Path(__file__).resolve().parents[2] / "tests" / "scenarios"
SCENARIOS = sorted(SCENARIOS_DIR.glob("*.json"))


def seconds(ms: Any) -> float:
    return int(ms) / 1000.0


def text(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8", "replace")


def record_json(r: logpond.Record) -> Dict[str, Any]:
    return {
        "partition": r.partition,
        "offset": r.offset,
        "key": text(r.key),
        "value": text(r.value),
        "timestamp_ms": r.timestamp_ms,
        "headers": [[n, v.decode("utf-8", "replace")] for n, v in r.headers],
    }


def millis(secs: Optional[float]) -> Optional[int]:
    return None if secs is None else round(secs * 1000)


def backoff(step: Dict[str, Any]) -> Optional[Tuple[float, float]]:
    pair = step.get("retry_backoff_ms")
    return None if pair is None else (seconds(pair[0]), seconds(pair[1]))


def schedule_args(step: Dict[str, Any]) -> Dict[str, Any]:
    """A send step's ``delay_ms`` and ``ttl_ms`` as ``send`` keywords."""
    return {
        name: seconds(step[field]) for name, field in (("delay", "delay_ms"), ("ttl", "ttl_ms")) if field in step
    }


def settings_json(s: logpond.SubscriptionSettings) -> Dict[str, Any]:
    return {
        "ack_timeout_ms": millis(s.ack_timeout),
        "max_deliveries": s.max_deliveries,
        "dead_letter_topic": s.dead_letter_topic,
        "retry_backoff_ms": None if s.retry_backoff is None else [millis(t) for t in s.retry_backoff],
    }


def matches(actual: Any, expected: Any) -> bool:
    """Every field present in `expected` matches (as the Rust runner)."""
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and matches(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(matches(a, e) for a, e in zip(actual, expected))
        )
    return type(actual) is type(expected) and bool(actual == expected)


def record_args(step: Dict[str, Any]) -> Dict[str, Any]:
    return {
        "key": step.get("key"),
        "headers": [(n, v if v is not None else b"") for n, v in step.get("headers") or []],
        "partition": step.get("partition"),
        "timestamp_ms": step.get("timestamp_ms"),
    }


class Runner:
    def __init__(self, directory: pathlib.Path, clock_ms: int) -> None:
        self.dir = directory
        self.clock = logpond.ManualClock(start_ms=clock_ms)
        self.pond = logpond.open(directory, clock=self.clock)
        self.consumers: Dict[str, logpond.Consumer] = {}
        self.queues: Dict[str, logpond.Queue] = {}
        self.deliveries: Dict[str, List[logpond.Delivery]] = {}

    def close(self) -> None:
        for c in self.consumers.values():
            c.close()
        for q in self.queues.values():
            q.close()
        self.pond.close()

    def step(self, step: Dict[str, Any]) -> Any:
        op = step["op"]
        pond = self.pond
        if op == "create_topic":
            retention_ms = step.get("retention_ms")
            pond.create_topic(
                step["topic"],
                partitions=step.get("partitions", 1),
                retention=None if retention_ms is None else seconds(retention_ms),
                retention_bytes=step.get("retention_bytes"),
                retention_records=step.get("retention_records"),
                compact=bool(step.get("compact", False)),
                max_record_bytes=step.get("max_record_bytes"),
                max_backlog=step.get("max_backlog"),
                segment_bytes=step.get("segment_bytes"),
                retain_until_acked=bool(step.get("retain_until_acked", False)),
            )
            return None
        if op == "delete_topic":
            pond.delete_topic(step["topic"])
            return None
        if op == "topics":
            return pond.topics()
        if op == "describe":
            info = pond.describe(step["topic"])
            return {
                "partitions": [
                    {"partition": p.partition, "start_offset": p.start_offset, "end_offset": p.end_offset}
                    for p in info.partitions
                ]
            }
        if op == "send":
            md = pond.send(step["topic"], step.get("value"), **record_args(step), **schedule_args(step))
            return {"partition": md.partition, "offset": md.offset, "timestamp_ms": md.timestamp_ms}
        if op == "send_many":
            items = [{"value": r.get("value"), **record_args(r)} for r in step["records"]]
            sent = pond.send_many(step["topic"], items, **schedule_args(step))
            return [{"partition": m.partition, "offset": m.offset} for m in sent]
        if op == "read":
            records = pond.read(
                step["topic"], step["partition"], step["offset"], max_records=step.get("max_records", 500)
            )
            return [record_json(r) for r in records]
        if op == "offset_for_time":
            return pond.offset_for_time(step["topic"], step["partition"], step["timestamp_ms"])
        if op == "delete_records":
            pond.delete_records(step["topic"], step["partition"], step["before_offset"])
            return None
        if op == "advance":
            self.clock.advance(seconds(step["ms"]))
            return None
        if op == "maintain":
            pond.maintain()
            return None
        if op == "reopen":
            # Close the pond under its consumers and queues (as a crash or an
            # abrupt shutdown would), then open the directory again.
            pond.close()
            self.consumers.clear()
            self.queues.clear()
            self.deliveries.clear()
            self.pond = logpond.open(self.dir, clock=self.clock)
            return None
        if op == "consumer":
            kwargs: Dict[str, Any] = {}
            for name in ("auto_offset_reset", "auto_commit", "assignor"):
                if name in step:
                    kwargs[name] = step[name]
            if "session_timeout_ms" in step:
                kwargs["session_timeout"] = seconds(step["session_timeout_ms"])
            self.consumers[step["name"]] = pond.consumer(step["group"], step["topics"], **kwargs)
            return None
        if op == "poll":
            return [record_json(r) for r in self.consumer(step).poll(step["max_records"])]
        if op == "commit":
            offsets = step.get("offsets")
            if offsets is None:
                self.consumer(step).commit()
            else:
                self.consumer(step).commit({(o["topic"], o["partition"]): o["offset"] for o in offsets})
            return None
        if op == "committed":
            return self.consumer(step).committed(step["topic"], step["partition"])
        if op == "position":
            return self.consumer(step).position(step["topic"], step["partition"])
        if op == "seek":
            self.consumer(step).seek(step["topic"], step["partition"], step["offset"])
            return None
        if op == "seek_to_beginning":
            self.consumer(step).seek_to_beginning()
            return None
        if op == "seek_to_end":
            self.consumer(step).seek_to_end()
            return None
        if op == "seek_to_time":
            self.consumer(step).seek_to_time(step["timestamp_ms"])
            return None
        if op == "assignment":
            return [[t, p] for t, p in self.consumer(step).assignment()]
        if op == "lag":
            return [[t, p, lag] for (t, p), lag in sorted(self.consumer(step).lag().items())]
        if op == "close_consumer":
            self.consumers.pop(step["consumer"]).close()
            return None
        if op == "queue":
            qkwargs: Dict[str, Any] = {
                "max_deliveries": step.get("max_deliveries"),
                "dead_letter_topic": step.get("dead_letter_topic"),
                "start_at_end": bool(step.get("start_at_end", False)),
            }
            if "ack_timeout_ms" in step:
                qkwargs["ack_timeout"] = seconds(step["ack_timeout_ms"])
            if "max_in_flight" in step:
                qkwargs["max_in_flight"] = step["max_in_flight"]
            if "retry_backoff_ms" in step:
                qkwargs["retry_backoff"] = backoff(step)
            self.queues[step["name"]] = pond.queue(step["topic"], step["subscription"], **qkwargs)
            return None
        if op == "receive":
            got = self.queue(step).receive(step["max_messages"])
            if "as" in step:
                self.deliveries[step["as"]] = got
            return [
                {
                    "partition": d.record.partition,
                    "offset": d.record.offset,
                    "value": text(d.record.value),
                    "delivery_count": d.delivery_count,
                }
                for d in got
            ]
        if op in ("ack", "nack"):
            labelled = self.deliveries[step["deliveries"]]
            chosen = [labelled[step["index"]]] if "index" in step else labelled
            for d in chosen:
                if op == "ack":
                    d.ack()
                else:
                    d.nack(delay=seconds(step["delay_ms"]) if "delay_ms" in step else None)
            return None
        if op == "extend":
            self.deliveries[step["deliveries"]][step.get("index", 0)].extend(seconds(step["ms"]))
            return None
        if op == "update_subscription":
            updated = pond.update_subscription(
                step["topic"],
                step["subscription"],
                ack_timeout=seconds(step["ack_timeout_ms"]) if "ack_timeout_ms" in step else None,
                max_deliveries=step.get("max_deliveries"),
                dead_letter_topic=step.get("dead_letter_topic"),
                retry_backoff=backoff(step),
            )
            return settings_json(updated)
        if op == "describe_subscription":
            i = pond.describe_subscription(step["topic"], step["subscription"])
            return {
                "topic": i.topic,
                "subscription": i.subscription,
                "backlog": i.backlog,
                "in_flight": i.in_flight,
                "dead_lettered": i.dead_lettered,
                "parked": i.parked,
                "expired": i.expired,
                "oldest_unacked_age_ms": millis(i.oldest_unacked_age),
                "settings": settings_json(i.settings),
            }
        if op == "subscriptions":
            return pond.subscriptions(step["topic"])
        if op == "parked":
            return [
                {"partition": p.partition, "offset": p.offset, "delivery_count": p.delivery_count, "reason": p.reason}
                for p in self.queue(step).parked()
            ]
        if op == "backlog":
            return self.queue(step).backlog()
        if op == "in_flight":
            return self.queue(step).in_flight()
        if op == "close_queue":
            self.queues.pop(step["queue"]).close()
            return None
        raise AssertionError(f"unknown op {op!r}")

    def consumer(self, step: Dict[str, Any]) -> logpond.Consumer:
        return self.consumers[step["consumer"]]

    def queue(self, step: Dict[str, Any]) -> logpond.Queue:
        return self.queues[step["queue"]]


def test_the_suite_is_there() -> None:
    assert len(SCENARIOS) >= 30, SCENARIOS_DIR


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: pathlib.Path, tmp_path: pathlib.Path) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    runner = Runner(tmp_path / "pond", scenario.get("clock_ms", 0))
    try:
        for i, step in enumerate(scenario["steps"]):
            at = f"{path.name} step {i} ({json.dumps(step)})"
            code = step.get("error")
            try:
                result = runner.step(step)
            except logpond.LogpondError as e:
                assert code is not None, f"{at}: {type(e).__name__}: {e}"
                assert e.code == code, f"{at}: expected {code}, got {type(e).__name__} ({e.code}): {e}"
                continue
            assert code is None, f"{at}: expected error {code}, got {result!r}"
            if "expect" in step:
                assert matches(result, step["expect"]), f"{at}: got {result!r}, expected {step['expect']!r}"
    finally:
        runner.close()
