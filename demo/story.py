"""`make demo`: a live polyglot story on one pond directory.

Six processes share one pond at the same time: a Python producer writes
orders; two Node processes are the members of consumer group 'billing' and
split its partitions; three Python processes are competing workers of queue
'fulfilment'. One worker is killed with SIGKILL while it holds orders; the
others take them over at once (its process is gone, so its leases are). A
poison order is dead-lettered, and a table sums it up.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List

import logpond

HERE = os.path.dirname(os.path.abspath(__file__))
CUSTOMERS = ["ada", "grace", "linus", "margaret", "ken", "barbara"]
ORDERS = 90
POISON = 42  # this order's payload cannot be processed
DEADLINE = 60.0  # seconds the story may take at most


def say(text: str = "") -> None:
    print(text, flush=True)


def produce(path: str) -> None:
    """The producer process: orders keyed by customer, a few milliseconds apart."""
    with logpond.open(path) as pond:
        for n in range(ORDERS):
            customer = CUSTOMERS[n % len(CUSTOMERS)]
            order: Dict[str, Any] = {"order": n, "customer": customer, "total": 10 + (n * 7) % 90}
            if n == POISON:
                order["total"] = "not a number"
            md = pond.send("orders", json.dumps(order), key=customer, headers=[("source", b"story.py")])
            print(json.dumps({"sent": n, "partition": md.partition, "customer": customer}), flush=True)
            time.sleep(0.01)


class Process:
    """A child process whose stdout lines (JSON) arrive on one shared queue."""

    def __init__(self, name: str, args: List[str], events: "queue.Queue[tuple[str, dict]]") -> None:
        self.name = name
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        threading.Thread(target=self._pump, args=(events,), daemon=True).start()

    def _pump(self, events: "queue.Queue[tuple[str, dict]]") -> None:
        for line in self.proc.stdout or []:
            events.put((self.name, json.loads(line)))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def story(path: str, stop: str) -> None:
    events: "queue.Queue[tuple[str, dict]]" = queue.Queue()
    with logpond.open(path) as pond:
        pond.create_topic("orders", partitions=3)
        # The subscription starts at the first order; its settings are stored
        # with it, and every worker that attaches uses them.
        pond.queue("orders", "fulfilment", max_deliveries=3, dead_letter_topic="orders.dlq").close()
    say("[1/4] Start: two Node billing members and one Python worker")
    node = lambda name: ["node", os.path.join(HERE, "billing.mjs"), path, name, stop]  # noqa: E731
    worker = lambda name, *extra: [sys.executable, os.path.join(HERE, "worker.py"), path, name, stop, *extra]  # noqa: E731
    procs = [
        Process("billing-a", node("billing-a"), events),
        Process("billing-b", node("billing-b"), events),
        Process("worker-3", worker("worker-3", "--crash"), events),
    ]
    try:
        run(path, stop, procs, events, lambda name: Process(name, worker(name), events))
    finally:
        for p in procs:
            p.kill()


def run(
    path: str,
    stop: str,
    procs: List[Process],
    events: "queue.Queue[tuple[str, dict]]",
    start_worker: Callable[[str], Process],
) -> None:
    by_name = {p.name: p for p in procs}
    deadline = time.monotonic() + DEADLINE

    def next_event() -> "tuple[str, dict]":
        return events.get(timeout=max(0.1, deadline - time.monotonic()))

    ready = set()
    while len(ready) < len(procs):
        name, event = next_event()
        ready.add(name)
    say("      all three joined the pond; now the producer starts, in its own process")
    say()
    say("[2/4] Live: Python producer -> Node group 'billing' and Python queue 'fulfilment'")
    producer = Process("producer", [sys.executable, os.path.abspath(__file__), "--produce", path], events)
    procs.append(producer)
    sent, billed, acked, nacked, held = 0, {}, {}, 0, []
    per_partition: Dict[int, set] = {}
    rescued = 0
    dead_letters: List[dict] = []
    while sent < ORDERS or len(billed) < ORDERS or len(acked) < ORDERS - 1 or not dead_letters:
        if time.monotonic() > deadline:
            raise SystemExit(f"the story did not finish in {DEADLINE:.0f} s")
        try:
            name, event = events.get(timeout=0.2)
        except queue.Empty:
            name, event = "", {}
        if "sent" in event:
            sent += 1
            per_partition.setdefault(event["partition"], set()).add(event["customer"])
        elif "billed" in event:
            billed[(event["partition"], event["offset"])] = billed.get((event["partition"], event["offset"]), 0) + 1
        elif "holding" in event:
            held = [tuple(place) for place in event["holding"]]
            by_name["worker-3"].kill()  # SIGKILL, midway: it holds its leases
            say(f"      worker-3 took the first {len(held)} orders and was killed with SIGKILL (its leases held)")
            for name in ("worker-1", "worker-2"):
                by_name[name] = start_worker(name)
                procs.append(by_name[name])
            say("      worker-1 and worker-2 start, and compete for the rest")
        elif "acked" in event:
            place = tuple(event["place"])
            acked[place] = acked.get(place, 0) + 1
            if place in held and event["count"] > 1:
                rescued += 1
        elif "nacked" in event:
            nacked += 1
        if sent == ORDERS and len(acked) == ORDERS - 1 and not dead_letters:
            with logpond.open(path, read_only=True) as reader:
                if "orders.dlq" in reader.topics():
                    dead_letters = [
                        {**json.loads(r.value or b"{}"),
                         **{k: v.decode() for k, v in r.headers if k.startswith("logpond.dlq.")}}
                        for r in reader.read("orders.dlq", 0)
                    ]
    for p in sorted(per_partition):
        say(f"      partition {p}: customers {', '.join(sorted(per_partition[p]))} (Kafka's murmur2 keying)")
    say(f"      {ORDERS} orders sent; billed and fulfilled while they were being sent")
    say(f"      the surviving workers took over the {rescued} orders the killed worker held, at once")
    for letter in dead_letters:
        say(f"      order {letter['order']} was nacked {letter['logpond.dlq.delivery_count']} times: "
            f"dead-lettered to 'orders.dlq' (from partition {letter['logpond.dlq.partition']}, "
            f"offset {letter['logpond.dlq.offset']})")
    say()
    say("[3/4] Stop: every process commits, returns its leases and leaves")
    open(stop, "w").close()
    reports: Dict[str, dict] = {}
    while len(reports) < 2:
        name, event = next_event()
        if "done" in event:
            reports[name] = event
    for name in ("worker-1", "worker-2", "billing-a", "billing-b", "producer"):
        assert by_name.get(name, producer).proc.wait(timeout=30) == 0, name
    for name, report in sorted(reports.items()):
        parts = ", ".join(str(p) for p in report["billedFrom"])
        say(f"      {name} billed from partitions [{parts}], revenue {report['revenue']}")
    summary(path, billed, acked, reports, dead_letters, rescued, len(held))


def summary(path: str, billed: dict, acked: dict, reports: Dict[str, dict], dead_letters: List[dict],
            rescued: int, crashed_held: int) -> None:
    say()
    say("[4/4] Summary")
    committed: Dict[int, int] = {}
    for report in reports.values():
        committed.update({int(p): o for p, o in report["committed"].items()})
    with logpond.open(path) as pond:
        info = pond.describe("orders")
        backlog = pond.describe_subscription("orders", "fulfilment").backlog  # without attaching
    say()
    say(f"      {'partition':>9} {'records':>8} {'billing committed':>18} {'billing lag':>12}")
    for p in info.partitions:
        c = committed.get(p.partition)
        say(f"      {p.partition:>9} {p.end_offset - p.start_offset:>8} {c!s:>18} {p.end_offset - (c or 0):>12}")
    say()
    say(f"      fulfilment: {len(acked)} acked, {sum(n - 1 for n in acked.values())} acked twice, "
        f"{len(dead_letters)} dead letter(s), backlog {backlog}")
    ok = (
        len(billed) == ORDERS
        and all(n == 1 for n in billed.values())
        and len(acked) == ORDERS - 1
        and all(n == 1 for n in acked.values())
        and len(dead_letters) == 1
        and dead_letters[0]["order"] == POISON
        and backlog == 0
        and rescued == crashed_held
        and all(committed.get(p.partition) == p.end_offset for p in info.partitions)
    )
    say()
    say("      every order billed once, fulfilled once or dead-lettered: " + ("yes" if ok else "NO"))
    if not ok:
        sys.exit(1)


def main() -> None:
    if sys.argv[1:2] == ["--produce"]:
        produce(sys.argv[2])
        return
    with tempfile.TemporaryDirectory(prefix="logpond-demo-") as tmp:
        path = os.path.join(tmp, "pond")
        say(f"logpond demo — one pond directory, six processes, two runtimes, at once: {path}")
        say()
        story(path, os.path.join(tmp, "STOP"))


if __name__ == "__main__":
    main()
