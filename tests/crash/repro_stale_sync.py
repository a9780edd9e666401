#!/usr/bin/env python3
"""A writer killed after its append but before it bumps LOCK.sync: the other
handles never learn of what it wrote (docs/CRASH.md, "Found"; fixed: the
counters are now bumped *before* an operation's first write, so a writer
killed at any instant leaves nothing the counters do not cover).

The emulated cases below reproduce the old protocol's failure by putting
LOCK.sync back after the writer's change; since the fix, that state (a
change whose bump never happened) cannot arise from a kill, so they show
what the protocol guards against rather than a live bug. `--kill` (real
SIGKILLs of a writer that rolls at every send) is the regression check:
it must find nothing.

Each operation of a shared pond writes its files, then bumps the counters in
`<pond>/LOCK.sync`; a handle catches up only when those counters differ from
the ones it last saw (core/src/pond/sync.rs). A process SIGKILLed between its
writes and the bump leaves files the counters do not cover, so a handle that
was up to date keeps its stale view of the partition:

- `roll`: the dead writer had rolled the partition (a new segment file,
  base N, with its own batch at N). The live handle goes on appending to the
  old segment at offsets N, N+1, ... and acknowledges them; a fresh open lists
  both segments and fails with Corruption ("... holds offsets up to X at or
  past ... (its successor's base)"): the pond no longer opens.
- `truncate`: as `roll`, but a process that opens the pond after the death
  lists the files, so it appends to the dead writer's new segment and its
  sends are acknowledged; then the stale handle rolls at the same base and
  `Segment::create` truncates that file: acknowledged records are gone and
  their offsets are given out again (the shared crash family's "acknowledged
  twice").
- `overwrite`: no roll. The dead writer's whole batch at offset N is seen by
  a reader once anyone else bumps the counters, then the stale handle writes
  its own batch at the same position and offset N: the record a reader saw at
  N is replaced by another (and what is left of the longer batch is garbage
  after it).

    target/venv-python/bin/python tests/crash/repro_stale_sync.py            # the three cases, emulated
    target/venv-python/bin/python tests/crash/repro_stale_sync.py --kill     # real SIGKILLs (case roll)

By default the kill is emulated exactly: the writer process does its send
and leaves with os._exit (no close), then LOCK.sync gets back the bytes it
held before that process opened the pond: the files are as a SIGKILL after
the writes and before the bump leaves them. `--kill` SIGKILLs a writer that
rolls at every send at random moments, beside a live writer on the same
partition, then checks the live writer's acknowledged sends with a fresh
open, until a try shows the problem (it took 2 tries here).
Exit status 1 when the problem shows.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import logpond

WRITER = r"""
import os, sys, logpond
path, topic, size, loop = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "loop"
pond = logpond.open(path, durability="fsync" if loop else "os")
n = 0
while True:
    md = pond.send(topic, "dead-writer-%d-" % n + "x" * size)
    n += 1
    if not loop:
        print(md.offset, flush=True)
        os._exit(0)  # no close: as if killed after the send (LOCK.sync is put back by the caller)
    if n == 1:
        print("READY", flush=True)
"""


def run_writer(path: str, topic: str, size: int) -> int:
    out = subprocess.run([sys.executable, "-c", WRITER, path, topic, str(size), "once"],
                         capture_output=True, text=True, timeout=60, check=True)
    return int(out.stdout.split()[0])


def run_unannounced_writer(path: str, topic: str, size: int) -> int:
    """run_writer, as a writer killed before it bumped LOCK.sync: the
    counters are put back as they were."""
    sync = os.path.join(path, "LOCK.sync")
    saved = open(sync, "rb").read()
    dead_at = run_writer(path, topic, size)
    open(sync, "wb").write(saved)
    return dead_at


def read_all(path: str, topic: str) -> dict:
    """{(partition, offset): value} as a fresh handle reads them; {"error": text}
    when the pond does not even open."""
    try:
        c = logpond.open(path)
    except logpond.LogpondError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    with c:
        got = {}
        for part in c.describe(topic).partitions:
            o = part.start_offset
            while o < part.end_offset:
                batch = c.read(topic, part.partition, o, max_records=1000)
                if not batch:
                    break
                for r in batch:
                    got[(part.partition, r.offset)] = r.value
                o = batch[-1].offset + 1
        return got


def roll(path: str) -> bool:
    """The dead writer rolled the partition; a live handle appends to the old segment."""
    b = logpond.open(path)
    b.create_topic("t", partitions=1, segment_bytes=1024)
    for i in range(8):
        b.send("t", f"live-{i}-" + "y" * 100)
    dead_at = run_unannounced_writer(path, "t", 900)  # segment full: the send rolls first
    acked = {}
    for i in range(3):
        md = b.send("t", f"acked-{i}")
        acked[(md.partition, md.offset)] = f"acked-{i}".encode()
    b.close()
    got = read_all(path, "t")
    print(f"roll: the dead writer's batch went to offset {dead_at} (a new segment, files now: "
          f"{sorted(os.listdir(os.path.join(path, 'topics', 't', '0')))})")
    if "error" in got:
        print(f"  the live handle acknowledged {sorted(acked)}; a fresh open FAILS: {got['error']}")
        return True
    bad = {k: (v, got.get(k)) for k, v in acked.items() if got.get(k) != v}
    print(f"roll: acknowledged by the live handle: {sorted(acked)}; a fresh open reads "
          f"{len(acked) - len(bad)} of them back")
    for k, (want, have) in sorted(bad.items()):
        print(f"  LOST t/{k[0]}@{k[1]}: acknowledged {want!r}, fresh open reads "
              f"{have[:40] if have else have!r}")
    return bool(bad)


FRESH = r"""
import os, sys, logpond
pond = logpond.open(sys.argv[1])
for i in range(3):
    md = pond.send("t", "acked-by-fresh-%d" % i)
    print(md.offset, flush=True)
if sys.argv[2] == "exit":
    os._exit(0)
pond.close()
"""


def truncate(path: str, how: str = "exit") -> bool:
    """The dead writer's unannounced segment is found by a process that opens
    the pond afterwards (it lists the files) and gets acknowledged records;
    the stale handle then rolls at the same base: its new segment file
    replaces (truncates) the other's, acknowledged records and all."""
    b = logpond.open(path)
    b.create_topic("t", partitions=1, segment_bytes=1024)
    for i in range(8):
        b.send("t", f"live-{i}-" + "y" * 100)
    dead_at = run_unannounced_writer(path, "t", 700)  # rolls: a new segment at dead_at (room left in it)
    out = subprocess.run([sys.executable, "-c", FRESH, path, how], capture_output=True, text=True, timeout=60,
                         check=True)
    fresh_acks = [int(x) for x in out.stdout.split()]
    md = b.send("t", "z" * 900)  # does not fit in what it takes for the active segment: it rolls
    b.close()
    got = read_all(path, "t")
    print(f"truncate: the dead writer's segment starts at {dead_at}; a process opened afterwards got its sends "
          f"acknowledged at {fresh_acks}; the stale handle's send then at {md.offset}")
    if "error" in got:
        print(f"  a fresh open FAILS: {got['error']}")
        return True
    lost = [o for i, o in enumerate(fresh_acks) if got.get((0, o)) != f"acked-by-fresh-{i}".encode()]
    for o in lost:
        v = got.get((0, o))
        print(f"  LOST t/0@{o}: acknowledged to the other process, a fresh open reads {v[:30] if v else v!r}")
    return bool(lost)


def overwrite(path: str) -> bool:
    """The dead writer's whole batch is read by a reader, then replaced at its offset."""
    b = logpond.open(path)
    b.create_topic("t", partitions=1)
    b.create_topic("other", partitions=1)
    for i in range(3):
        b.send("t", f"live-{i}")
    reader = logpond.open(path)
    reader.read("t", 0, 0)
    dead_at = run_unannounced_writer(path, "t", 200)
    b.send("other", "bump")  # any write by another handle bumps the counters
    seen = reader.read("t", 0, dead_at)
    seen_value = seen[0].value if seen else None
    md = b.send("t", "acked-after")  # the handle that bumped them has not looked at t again
    b.close()
    after = reader.read("t", 0, dead_at)
    reader.close()
    fresh = read_all(path, "t")
    if "error" in fresh:
        print(f"overwrite: a fresh open FAILS: {fresh['error']}")
        return True
    print(f"overwrite: the dead writer's record at t/0@{dead_at}; a reader reads there "
          f"{seen_value[:30] if seen_value else seen_value!r}")
    print(f"overwrite: the live handle's send is acknowledged at t/0@{md.offset}; "
          f"the reader now reads {after[0].value[:30] if after else None!r}, "
          f"a fresh open {fresh.get((0, dead_at), b'')[:30]!r}")
    changed = seen_value is not None and md.offset == dead_at
    if changed:
        print(f"  CHANGED t/0@{dead_at}: read as {seen_value[:30]!r}, later holds {fresh.get((0, dead_at))!r}")
    return changed


LIVE_WRITER = r"""
import os, sys, logpond
path = sys.argv[1]
pond = logpond.open(path)
n = 0
while True:
    v = "acked-%d" % n
    md = pond.send("t", v)
    os.write(1, ("%d %s\n" % (md.offset, v)).encode())
    n += 1
"""


def kill_loop(tries: int, seed: int) -> bool:
    """A writer that rolls at every send (fsync) and a live writer on the same
    partition; the rolling one is SIGKILLed at a random moment, the live one a
    little later; then a fresh open must read every acknowledged record."""
    rng = random.Random(seed)
    for i in range(tries):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "pond")
            with logpond.open(path) as b:
                b.create_topic("t", partitions=1, segment_bytes=1024)
            procs = []
            try:
                a = subprocess.Popen([sys.executable, "-c", WRITER, path, "t", "1200", "loop"],
                                     stdout=subprocess.PIPE, text=True)
                procs.append(a)
                assert a.stdout is not None and a.stdout.readline().strip() == "READY"
                live = subprocess.Popen([sys.executable, "-c", LIVE_WRITER, path], stdout=subprocess.PIPE)
                procs.append(live)
                time.sleep(rng.uniform(0.02, 0.15))
                a.send_signal(signal.SIGKILL)
                a.wait(timeout=10)
                time.sleep(0.03)
                live.send_signal(signal.SIGKILL)
                live.wait(timeout=10)
                assert live.stdout is not None
                out = live.stdout.read().decode()
            finally:
                for p in procs:
                    if p.poll() is None:
                        p.kill()
                        p.wait(timeout=10)
            acked = {}
            for line in out.split("\n")[:-1]:  # the last, partial line was not acknowledged
                o, v = line.split()
                acked[(0, int(o))] = v.encode()
            got = read_all(path, "t")
            files = sorted(f for f in os.listdir(os.path.join(path, "topics", "t", "0")) if f.endswith(".log"))
            if "error" in got:
                print(f"kill: try {i + 1}: {len(acked)} sends acknowledged to the live writer; "
                      f"a fresh open FAILS: {got['error']} (segments {files})")
                return True
            bad = sorted(k for k, v in acked.items() if got.get(k) != v)
            if bad:
                print(f"kill: try {i + 1}: {len(acked)} sends acknowledged to the live writer, "
                      f"a fresh open misses or replaced {len(bad)}: {bad[:10]} (segments {files})")
                return True
    print(f"kill: nothing in {tries} tries")
    return False


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kill", action="store_true", help="real SIGKILLs instead of the emulation")
    ap.add_argument("--tries", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.kill:
        return 1 if kill_loop(args.tries, args.seed) else 0
    found = False
    for case in (roll, truncate, overwrite):
        with tempfile.TemporaryDirectory() as d:
            found |= case(os.path.join(d, "pond"))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
