#!/usr/bin/env python3
"""A live handle's queue lease ends long before ack_timeout when another
handle works the same subscription (docs/CRASH.md, "Found").

Two handles on one pond directory (in one process here; the shared crash
family saw it across processes): A receives one job with ack_timeout 60 s and
holds it; B receives and acks the others. After some hundreds of B's
operations, A's held job is delivered again — to A itself here (delivery 2),
or to B — a few seconds after A got it, and A's ack of its delivery 1 then
fails with LeaseExpired ("the delivery was already settled or delivered
again"). A lease of a live holder must last ack_timeout unless it is settled.

    target/venv-python/bin/python tests/crash/repro_lease_reload.py

Exit status 1 when the lease ended early. What B's operations do at the step
where it happens (the subscription's state log rolled or was snapshotted, so
A read the state again and took its own lease for a dead holder's?) is for
the core to tell; the files of the subscription are listed before and after.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import logpond


def files(path: str) -> list:
    root = os.path.join(path, "queues")
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def main() -> int:
    path = tempfile.mkdtemp(prefix="repro-lease-")
    a = logpond.open(path)
    b = logpond.open(path)
    a.create_topic("jobs")
    a.send_many("jobs", [f"job {i}" for i in range(20000)])
    qa = a.queue("jobs", "w", ack_timeout=60.0)
    qb = b.queue("jobs", "w", ack_timeout=60.0)
    held = qa.receive(max_messages=1)[0]
    began = time.monotonic()
    print(f"A holds jobs/0@{held.record.offset} (delivery {held.delivery_count}, ack_timeout 60 s)")
    before = files(path)
    for step in range(5000):
        for d in qb.receive(max_messages=5):
            if d.record.offset == held.record.offset:
                return report(a, b, held, began, step, "B", d, before, path)
            d.ack()
        if step % 50 == 0:
            for d in qa.receive(max_messages=1):
                if d.record.offset == held.record.offset:
                    return report(a, b, held, began, step, "A", d, before, path)
                d.ack()
    print(f"no early redelivery in {time.monotonic() - began:.1f} s")
    held.ack()
    return 0


def report(a: logpond.Pond, b: logpond.Pond, held: logpond.Delivery, began: float, step: int, who: str,
           again: logpond.Delivery, before: list, path: str) -> int:
    print(f"step {step}, {time.monotonic() - began:.1f} s after A got it: jobs/0@{again.record.offset} delivered "
          f"again to {who} (delivery {again.delivery_count}) while A, alive, holds delivery {held.delivery_count}")
    try:
        held.ack()
        print("A's ack of its delivery succeeded")
    except logpond.LeaseExpired as e:
        print(f"A's ack of its delivery: LeaseExpired: {e}")
    after = files(path)
    print(f"subscription files before: {before}")
    print(f"subscription files after:  {after}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
