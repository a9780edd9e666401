"""`make demo`: a short polyglot story on one pond directory.

A Python producer writes orders, a Node consumer group of two members splits
the partitions, a Python queue with three competing workers fulfils them (one
worker crashes; a poison order is dead-lettered), and a table sums it up.
One pond directory is open in one process at a time (the pond's lock), so
the runtimes take turns, as steps of a pipeline would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

import logpond

HERE = os.path.dirname(os.path.abspath(__file__))
CUSTOMERS = ["ada", "grace", "linus", "margaret", "ken", "barbara"]
ORDERS = 90
POISON = 42  # this order's payload cannot be processed
ACK_TIMEOUT = 30.0  # seconds
MAX_DELIVERIES = 3


def say(text: str = "") -> None:
    print(text, flush=True)


def produce(path: str) -> None:
    say("[1/4] Python producer: orders keyed by customer into 'orders' (3 partitions)")
    with logpond.open(path) as pond:
        pond.create_topic("orders", partitions=3)
        by_partition: dict[int, set[str]] = {}
        for n in range(ORDERS):
            customer = CUSTOMERS[n % len(CUSTOMERS)]
            order = {"order": n, "customer": customer, "total": 10 + (n * 7) % 90}
            if n == POISON:
                order["total"] = "not a number"
            md = pond.send("orders", json.dumps(order), key=customer, headers=[("source", b"story.py")])
            by_partition.setdefault(md.partition, set()).add(customer)
        for p in sorted(by_partition):
            say(f"      partition {p}: customers {', '.join(sorted(by_partition[p]))}")
        say(f"      {ORDERS} orders sent; the same customer always lands in the same partition (Kafka's murmur2)")


def bill(path: str) -> dict:
    say()
    say("[2/4] Node consumer group 'billing': two members split the partitions")
    out = subprocess.run(
        ["node", os.path.join(HERE, "billing.mjs"), path],
        check=True,
        capture_output=True,
        text=True,
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    for member in report["members"]:
        parts = ", ".join(str(p) for p in member["partitions"])
        say(f"      {member['name']}: partitions [{parts}], billed {member['records']} orders, "
            f"revenue {member['revenue']}")
    return report


def fulfil(path: str) -> dict:
    say()
    say("[3/4] Python queue 'fulfilment': three competing workers")
    clock = logpond.ManualClock(start_ms=int(time.time() * 1000))
    stats = {"acked": 0, "redelivered": 0, "rescued": 0, "crashed_held": 0, "per_worker": {}}
    crashed_held: set[tuple[int, int]] = set()
    with logpond.open(path, clock=clock) as pond:
        workers = {
            name: pond.queue("orders", "fulfilment", ack_timeout=ACK_TIMEOUT, max_deliveries=MAX_DELIVERIES,
                             dead_letter_topic="orders.dlq", max_in_flight=10)
            for name in ("worker-1", "worker-2", "worker-3")
        }
        crashed = "worker-3"

        def work(name: str) -> int:
            got = workers[name].receive(max_messages=5)
            for d in got:
                order = json.loads(d.record.value)
                if d.delivery_count > 1:
                    stats["redelivered"] += 1
                    if (d.record.partition, d.record.offset) in crashed_held:
                        stats["rescued"] += 1
                if not isinstance(order["total"], int):
                    d.nack()  # cannot process it: give it back
                    continue
                d.ack()
                stats["acked"] += 1
                stats["per_worker"][name] = stats["per_worker"].get(name, 0) + 1
            return len(got)

        # worker-3 takes a batch, then its process "dies": no acks, no close.
        held = workers[crashed].receive(max_messages=5)
        stats["crashed_held"] = len(held)
        crashed_held.update((d.record.partition, d.record.offset) for d in held)
        say(f"      {crashed} took {len(held)} orders and crashed (its leases are still held)")
        while work("worker-1") + work("worker-2") > 0:
            pass
        say(f"      worker-1 and worker-2 drained the rest; backlog is {workers['worker-1'].backlog()} "
            f"({workers['worker-1'].in_flight()} leased to the dead worker)")
        clock.advance(ACK_TIMEOUT + 1)
        say(f"      {ACK_TIMEOUT + 1:.0f} s later (manual clock): the dead worker's leases expired")
        while work("worker-1") + work("worker-2") > 0:
            pass
        stats["backlog"] = workers["worker-1"].backlog()
        say(f"      the survivors took over the crashed worker's {stats['rescued']} orders; "
            f"{stats['redelivered']} redeliveries in all (with the poison order's retries); backlog now {stats['backlog']}")
        dead = pond.read("orders.dlq", 0, offset=0)
        stats["dead_letters"] = [
            {**json.loads(r.value), **{k: v.decode() for k, v in r.headers if k.startswith("logpond.dlq.")}}
            for r in dead
        ]
        for letter in stats["dead_letters"]:
            say(f"      order {letter['order']} was nacked {letter['logpond.dlq.delivery_count']} times: "
                f"dead-lettered to 'orders.dlq' (from partition {letter['logpond.dlq.partition']}, "
                f"offset {letter['logpond.dlq.offset']})")
        for w in workers.values():
            w.close()
    return stats


def summary(path: str, billing: dict, queue: dict) -> None:
    say()
    say("[4/4] Summary")
    with logpond.open(path) as pond:
        info = pond.describe("orders")
        say()
        say(f"      {'partition':>9} {'records':>8} {'billing committed':>18} {'billing lag':>12}")
        for p in info.partitions:
            committed = billing["committed"].get(str(p.partition))
            lag = p.end_offset - (committed or 0)
            say(f"      {p.partition:>9} {p.end_offset - p.start_offset:>8} {committed!s:>18} {lag:>12}")
        say()
        per = ", ".join(f"{w} {n}" for w, n in sorted(queue["per_worker"].items()))
        say(f"      fulfilment: {queue['acked']} acked ({per}), {queue['redelivered']} redeliveries, "
            f"{len(queue['dead_letters'])} dead letter(s), backlog {queue['backlog']}")
        total_billed = sum(m["records"] for m in billing["members"])
        ok = (
            total_billed == ORDERS
            and queue["acked"] == ORDERS - 1
            and len(queue["dead_letters"]) == 1
            and queue["dead_letters"][0]["order"] == POISON
            and queue["backlog"] == 0
            and queue["rescued"] == queue["crashed_held"]
        )
        say()
        say("      every order billed once, fulfilled once or dead-lettered: " + ("yes" if ok else "NO"))
        if not ok:
            sys.exit(1)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="logpond-demo-") as tmp:
        path = os.path.join(tmp, "pond")
        say(f"logpond demo — one pond directory shared by Python and Node: {path}")
        say()
        produce(path)
        billing = bill(path)
        queue = fulfil(path)
        summary(path, billing, queue)


if __name__ == "__main__":
    main()
