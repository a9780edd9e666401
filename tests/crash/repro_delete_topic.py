#!/usr/bin/env python3
"""Minimal repro: a SIGKILL during an unacknowledged delete_topic can leave
the topic in place with its subscriptions and its groups' committed offsets
gone (the delete is not one atomic step).

    target/venv-python/bin/python tests/crash/repro_delete_topic.py [tries]

Each try: a child creates topic t (1 record), commits offset 1 for group g,
attaches subscription s and acks the record, prints READY, then calls
delete_topic(t) and is SIGKILLed at a random moment (0-3 ms after READY).
After reopening, t must be either gone, or there with subscription s (its
record acked) and g's committed offset 1. Seeded by CRASH_SEED.
Exits 1 on the first try that finds the topic half-deleted.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

CHILD = r"""
import logpond, os, sys
pond = logpond.open(sys.argv[1], durability=sys.argv[2])
pond.create_topic("t")
pond.send("t", b"x")
with pond.consumer("g", ["t"], auto_offset_reset="earliest", auto_commit=False) as c:
    c.poll(timeout=1.0)
    c.commit({("t", 0): 1})
with pond.queue("t", "s") as q:
    for d in q.receive(max_messages=1, timeout=1.0):
        d.ack()
os.write(1, b"READY\n")
pond.delete_topic("t")
os.write(1, b"DELETED\n")
import time; time.sleep(10)
"""


def main() -> int:
    import logpond

    tries = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    seed = int(os.environ.get("CRASH_SEED", random.SystemRandom().randrange(1 << 31)))
    rng = random.Random(seed)
    print(f"repro_delete_topic: seed={seed}", flush=True)
    base = tempfile.mkdtemp(prefix="logpond-repro-")
    try:
        for i in range(tries):
            d = os.path.join(base, str(i))
            durability = rng.choice(["os", "fsync"])
            delay = rng.uniform(0, 0.003)
            p = subprocess.Popen([sys.executable, "-c", CHILD, d, durability], stdout=subprocess.PIPE)
            try:
                assert p.stdout is not None
                line = p.stdout.readline()
                assert line == b"READY\n", line
                time.sleep(delay)
                os.kill(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
                deleted = b"DELETED" in p.stdout.read()
            finally:
                if p.poll() is None:
                    os.kill(p.pid, signal.SIGKILL)
                    p.wait(timeout=10)
            with logpond.open(d) as pond:
                if "t" not in pond.topics():
                    continue
                subs = pond.subscriptions("t")
                with pond.consumer("g", ["t"], auto_commit=False) as c:
                    committed = c.committed("t", 0)
            ok = not deleted and subs == ["s"] and committed == 1
            if not ok:
                print(f"try {i} ({durability}, kill {delay * 1000:.2f} ms after READY, "
                      f"delete acknowledged: {deleted}): topic t is still there, with subscriptions {subs} "
                      f"(expected ['s']) and group g's committed offset {committed} (expected 1)")
                kept = os.path.join(os.getcwd(), f"repro-delete-topic-{seed}-{i}")
                shutil.rmtree(kept, ignore_errors=True)
                shutil.copytree(d, kept)
                print(f"pond kept in {kept}")
                return 1
            shutil.rmtree(d)
        print(f"repro_delete_topic: {tries} tries, no half-deleted topic")
        return 0
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
