"""Cross-runtime round trips on one pond directory: Python writes, Node
reads and appends, Python reads Node's records and commits a group offset,
Node resumes the group from it; and a pond exported from a browser tab
(by the web test run) opens in Python with the records the tab wrote."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import logpond

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def node(step: str, path: str) -> dict:
    out = subprocess.run(
        ["node", os.path.join(HERE, "node_step.mjs"), step, path],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_python_and_node_take_turns_on_one_pond(tmp_path) -> None:
    path = str(tmp_path / "pond")
    with logpond.open(path) as pond:
        pond.create_topic("events", partitions=2)
        written = [
            pond.send("events", f"from python {i}", key=f"k{i}", headers=[("runtime", b"python")], timestamp_ms=1000 + i)
            for i in range(6)
        ]

    seen = node("read-and-append", path)
    # Node reads exactly what Python wrote.
    by_place = {(r["partition"], r["offset"]): r for r in seen["records"]}
    assert len(by_place) == 6
    for i, md in enumerate(written):
        r = by_place[(md.partition, md.offset)]
        assert (r["key"], r["value"], r["timestampMs"]) == (f"k{i}", f"from python {i}", 1000 + i)
        assert r["headers"] == [["runtime", "python"]]

    with logpond.open(path) as pond:
        # Python reads Node's records...
        node_records = []
        for place in seen["sent"]:
            (r,) = pond.read("events", place["partition"], offset=place["offset"], max_records=1)
            node_records.append(r)
        assert [r.value for r in node_records] == [b"from node 1", b"from node 2"]
        assert all(r.headers == [("runtime", b"node")] for r in node_records)
        # ... and commits a group offset: everything but the last record of each partition.
        c = pond.consumer("shared", ["events"], auto_offset_reset="earliest", auto_commit=False)
        ends = {p.partition: p.end_offset for p in pond.describe("events").partitions}
        c.commit({("events", p): end - 1 for p, end in ends.items() if end > 0})
        c.close()

    resumed = node("resume-group", path)
    got = sorted((r["partition"], r["offset"]) for r in resumed["records"])
    assert got == sorted((p, end - 1) for p, end in ends.items() if end > 0), "Node resumed at Python's commits"


EXPORT = os.path.join(ROOT, "target", "web-export")


def test_a_pond_exported_from_a_browser_opens_in_python(tmp_path) -> None:
    # `make test` runs the browser tests first; they export a pond a tab wrote
    # (topics, a group's commits, a queue's acks) and what Rust reads from it.
    assert os.path.isdir(EXPORT), f"{EXPORT} is missing: run `make test-web` first"
    with open(os.path.join(EXPORT, "expected.json")) as f:
        expected = json.load(f)
    copy = tmp_path / "pond"
    shutil.copytree(os.path.join(EXPORT, "pond"), copy)
    with logpond.open(str(copy)) as pond:
        assert sorted(pond.topics()) == sorted(expected["topics"])
        for topic, partitions in expected["topics"].items():
            for p, part in enumerate(partitions):
                got = pond.read(topic, p, offset=0, max_records=100_000)
                want = part["records"]
                assert [(r.offset, r.key, r.value, [[n, v.decode()] for n, v in r.headers]) for r in got] == [
                    (
                        r["offset"],
                        None if r["key"] is None else r["key"].encode(),
                        None if r["value"] is None else r["value"].encode(),
                        r["headers"],
                    )
                    for r in want
                ]
        c = pond.consumer("billing", ["orders"], auto_commit=False)
        assert [c.committed("orders", p) for p in range(3)] == expected["committed"]["billing"]["orders"]
        c.close()
        q = pond.queue("orders", "workers")
        assert q.backlog() == expected["backlog"]["orders/workers"]
        q.close()
