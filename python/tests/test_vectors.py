"""The on-disk test vectors of tests/vectors/: every pond written by the Rust
writer reads, from Python, exactly as its expected.json says (the format is
tests/vectors/README.md; the Rust reader is core/tests/common/vectors.rs)."""

from __future__ import annotations

import json
import pathlib
import shutil
from typing import Any, Dict, List, Optional

import pytest

import logpond

VECTORS_DIR = pathlib.Path(__file__).resolve().parents[2] / "tests" / "vectors"
VECTORS = sorted(p.name for p in VECTORS_DIR.iterdir() if (p / "expected.json").is_file())
START_MS = 1_700_000_000_000  # the writer's manual clock


def text(b: Optional[bytes]) -> Optional[str]:
    return None if b is None else b.decode("utf-8")


def read_all(pond: logpond.Pond, name: str) -> Dict[str, Any]:
    """What core/tests/common/vectors.rs `expected()` builds, from Python."""
    topics: Dict[str, List[Dict[str, Any]]] = {}
    for topic in pond.topics():
        parts = []
        for p in pond.describe(topic).partitions:
            records: List[Dict[str, Any]] = []
            offset = p.start_offset
            while offset < p.end_offset:
                batch = pond.read(topic, p.partition, offset, max_records=1000)
                if not batch:
                    break
                offset = batch[-1].offset + 1
                records.extend(
                    {
                        "offset": r.offset,
                        "timestamp_ms": r.timestamp_ms,
                        "key": text(r.key),
                        "value": text(r.value),
                        "headers": [[n, v.decode("utf-8")] for n, v in r.headers],
                    }
                    for r in batch
                )
            parts.append(
                {
                    "partition": p.partition,
                    "start_offset": p.start_offset,
                    "end_offset": p.end_offset,
                    "records": records,
                }
            )
        topics[topic] = parts
    out: Dict[str, Any] = {"vector": name, "topics": topics}
    if name == "groups":
        committed: Dict[str, Any] = {}
        for group in ("billing", "audit"):
            with pond.consumer(group, ["orders"]) as c:
                committed[group] = {"orders": [c.committed("orders", 0), c.committed("orders", 1)]}
        out["committed"] = committed
    if name == "queues":
        with pond.queue("jobs", "workers") as q:
            backlog = q.backlog()
            deliverable = [{"offset": d.record.offset, "delivery_count": d.delivery_count} for d in q.receive(100)]
        out["queues"] = {"jobs": {"workers": {"backlog": backlog, "deliverable": deliverable}}}
    return out


def test_the_vectors_are_there() -> None:
    assert set(VECTORS) >= {"basic", "compacted", "retention", "groups", "queues"}


@pytest.mark.parametrize("name", VECTORS)
def test_vector_reads_as_expected(name: str, tmp_path: pathlib.Path) -> None:
    # Opening takes the directory's lock and closing may write (queue
    # snapshots): read a copy, never the checked-in files.
    shutil.copytree(VECTORS_DIR / name / "pond", tmp_path / "pond")
    expected = json.loads((VECTORS_DIR / name / "expected.json").read_text(encoding="utf-8"))
    with logpond.open(tmp_path / "pond", clock=logpond.ManualClock(start_ms=START_MS)) as pond:
        assert read_all(pond, name) == expected


@pytest.mark.parametrize("name", VECTORS)
def test_vector_reads_the_same_after_reopen(name: str, tmp_path: pathlib.Path) -> None:
    """A Python open and close leaves a pond that still reads the same (the
    queue vector excepted: reading it leases and releases records)."""
    shutil.copytree(VECTORS_DIR / name / "pond", tmp_path / "pond")
    clock = logpond.ManualClock(start_ms=START_MS)
    with logpond.open(tmp_path / "pond", clock=clock) as pond:
        first = read_all(pond, name)
    with logpond.open(tmp_path / "pond", clock=clock) as pond:
        again = read_all(pond, name)
    if name == "queues":
        first.pop("queues")
        again.pop("queues")
    assert again == first
