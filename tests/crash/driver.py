#!/usr/bin/env python3
"""SIGKILL loops through the Python and Node bindings (see docs/CRASH.md).

Each round starts one worker (tests/crash/worker.py or worker.js) on a
family's pond directory, reads its acknowledgements line by line, kills it
with SIGKILL at a random moment, then reopens the pond here (through the
Python package) and checks that every acknowledged operation survived and
that nothing corrupt is readable.

    target/venv-python/bin/python tests/crash/driver.py --kills 1000
    CRASH_SEED=42 ... driver.py --kills 60 --family queue    # replay one family's rounds

Exit status: 0 when no round found a problem, 1 otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections import defaultdict
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import logpond  # noqa: E402
import records as R  # noqa: E402

PYTHON = os.environ.get("CRASH_PYTHON", sys.executable)
NODE = os.environ.get("CRASH_NODE", "node")
LANGS = ("python", "node")
QUEUE_SETTINGS: Dict[str, Any] = dict(
    ack_timeout=5.0, max_deliveries=3, dead_letter_topic="jobs.dlq", max_in_flight=64
)

LIVE: Dict[int, subprocess.Popen] = {}  # pid -> worker still to be reaped


def kill_live() -> None:
    """SIGKILLs every worker this driver started that may still run (by pid)."""
    for pid, proc in list(LIVE.items()):
        if proc.poll() is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        LIVE.pop(pid, None)


atexit.register(kill_live)


def on_term(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


class Reader:
    """Complete lines from a pipe, with deadlines (never blocks past them)."""

    def __init__(self, pipe: Any) -> None:
        self.fd = pipe.fileno()
        os.set_blocking(self.fd, False)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.fd, selectors.EVENT_READ)
        self.buf = b""
        self.eof = False

    def read(self, deadline: float) -> List[str]:
        """Waits until some data, EOF or the deadline; returns the complete lines."""
        while not self.eof:
            left = deadline - time.monotonic()
            if not self.sel.select(max(0.0, left)):
                break
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                self.eof = True
            self.buf += chunk
            break
        *lines, self.buf = self.buf.split(b"\n")
        return [line.decode("utf-8", "replace") for line in lines]

    def read_all(self, deadline: float) -> List[str]:
        lines: List[str] = []
        while not self.eof and time.monotonic() < deadline:
            lines += self.read(deadline)
        return lines  # a partial last line (no newline) is not an acknowledgement

    def close(self) -> None:
        self.sel.close()


# --- tallies and problems -----------------------------------------------------

COLS = ("kills", "early", "acks", "checks", "lost", "corrupt", "other")


class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.seed: int = args.seed
        self.run_dir: str = args.dir
        self.tally: Dict[Tuple[str, str], Dict[str, int]] = defaultdict(lambda: {c: 0 for c in COLS})
        self.problems: List[str] = []
        self.rounds = 0

    def problem(self, fam: "Family", kind: str, msg: str, n: int = 1) -> None:
        self.tally[(fam.name, fam.lang)][kind] += n
        text = (
            f"[{kind}] family={fam.name} lang={fam.lang} round={fam.k} epoch={fam.epoch} "
            f"worker_seed={fam.worker_seed}: {msg}"
        )
        self.problems.append(text)
        if len(self.problems) <= 200:
            print("PROBLEM " + text, flush=True)

    def count(self, fam: "Family", col: str, n: int = 1) -> None:
        self.tally[(fam.name, fam.lang)][col] += n

    # --- one round ---------------------------------------------------------

    def spawn(self, fam: "Family", cfg: Dict[str, Any], lang: str) -> Tuple[subprocess.Popen, str]:
        script = os.path.join(HERE, "worker.py" if lang == "python" else "worker.js")
        cmd = [PYTHON if lang == "python" else NODE, script, json.dumps(cfg)]
        err_path = os.path.join(self.run_dir, f"stderr-{fam.name}.txt")
        with open(err_path, "wb") as err:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, start_new_session=True
            )
        LIVE[proc.pid] = proc
        return proc, err_path

    def run_round(self, fam: "Family", lang: str) -> None:
        rng = random.Random(f"{self.seed}:{fam.name}:{fam.k}")
        fam.worker_seed = rng.randrange(1 << 31)
        cfg = dict(family=fam.kind, dir=fam.dir, seed=fam.worker_seed, tag=f"e{fam.epoch}r{fam.k}{lang[0]}")
        cfg.update(fam.config(rng))
        fam.begin_round(lang)
        early = rng.random() < 0.1
        max_acks = rng.randint(1, 400) if rng.random() < 0.4 else None
        after_ready = rng.uniform(0.02, 0.3)
        proc, err_path = self.spawn(fam, cfg, lang)
        fam.trace(f"=== round {fam.k} {lang} pid {proc.pid} cfg {json.dumps(cfg)}")
        reader = Reader(proc.stdout)
        t0 = time.monotonic()
        kill_at: Optional[float] = t0 + rng.uniform(0.0, 0.25) if early else None
        hard = t0 + self.args.round_timeout
        acks = 0
        ready = False
        killed = False
        try:
            while True:
                now = time.monotonic()
                if kill_at is not None and now >= kill_at:
                    break
                if now >= hard:
                    fam.bad("other", f"worker still running after {self.args.round_timeout}s (ready={ready})")
                    break
                for line in reader.read(min(kill_at or hard, hard)):
                    if line == "READY":
                        ready = True
                        if kill_at is None:
                            kill_at = time.monotonic() + after_ready
                    else:
                        acks += fam.line(line)
                        if max_acks is not None and acks >= max_acks:
                            kill_at = min(kill_at or hard, time.monotonic())
                if reader.eof:
                    break
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed = True
                fam.trace(f"=== SIGKILL (ready={ready}, {acks} acks read so far)")
            proc.wait(timeout=10)
            for line in reader.read_all(time.monotonic() + 5):
                if line != "READY":
                    fam.line(line)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
            LIVE.pop(proc.pid, None)
            reader.close()
            proc.stdout.close()
        err = open(err_path, "rb").read().decode("utf-8", "replace")
        if killed:
            self.count(fam, "kills")
            if not ready:
                self.count(fam, "early")
        else:
            fam.bad("other", f"worker exited by itself with status {proc.returncode}: {err[-3000:]}")
        if "panicked" in err or "Traceback" in err:
            fam.bad("other", f"worker stderr: {err[-3000:]}")
        self.rounds += 1
        fam.checked_verify()

    def run(self) -> int:
        names = self.args.family or list(FAMILIES)
        fams = [FAMILIES[n](self, os.path.join(self.run_dir, n)) for n in names]
        langs = self.args.lang or list(LANGS)
        started = time.monotonic()
        print(
            f"crash: seed={self.seed} kills={self.args.kills} families={','.join(names)} "
            f"langs={','.join(langs)} dir={self.run_dir}",
            flush=True,
        )
        for i in range(self.args.kills):
            fam = fams[i % len(fams)]
            if time.monotonic() - started > self.args.max_seconds:
                print(f"crash: time budget of {self.args.max_seconds}s reached after {i} rounds", flush=True)
                break
            if fam.broken:
                continue
            lang = langs[fam.k % len(langs)]
            self.run_round(fam, lang)
            fam.k += 1
            if self.args.verbose or i % 50 == 49:
                print(f"crash: {i + 1} rounds, {time.monotonic() - started:.0f}s, "
                      f"{len(self.problems)} problems", flush=True)
        for fam in fams:
            if not fam.broken:
                fam.lang = langs[fam.k % len(langs)]
                fam.final()
        elapsed = time.monotonic() - started
        self.report(elapsed)
        return 1 if self.problems else 0

    def report(self, elapsed: float) -> None:
        print()
        print(f"{'family':<12} {'lang':<7} " + " ".join(f"{c:>8}" for c in COLS))
        total = {c: 0 for c in COLS}
        for (fam, lang), row in sorted(self.tally.items()):
            print(f"{fam:<12} {lang:<7} " + " ".join(f"{row[c]:>8}" for c in COLS))
            for c in COLS:
                total[c] += row[c]
        print(f"{'total':<12} {'':<7} " + " ".join(f"{total[c]:>8}" for c in COLS))
        print(f"crash: {self.rounds} rounds in {elapsed:.0f}s, seed={self.seed}: "
              f"lost={total['lost']} corrupt={total['corrupt']} other={total['other']}")
        if self.problems:
            print(f"crash: {len(self.problems)} problems; ponds kept in {self.run_dir}")
            for p in self.problems[:30]:
                print("  " + p[:2000])
            print(f"replay: CRASH_SEED={self.seed} {PYTHON} {os.path.relpath(__file__, ROOT)} "
                  f"--kills {self.args.kills} [--family F] [--snapshot]")


# --- what every family shares -------------------------------------------------


class Family:
    name = ""
    kind = ""
    rotate_at: Optional[int] = None  # records: a bigger pond is replaced by a fresh one

    def __init__(self, drv: Driver, base: str) -> None:
        self.drv = drv
        self.base = base
        self.k = 0  # rounds of this family so far
        self.epoch = 0
        self.lang = LANGS[0]
        self.worker_seed = 0
        self.broken = False
        self.failed_copy: Optional[str] = None
        self.new_epoch()

    def new_epoch(self) -> None:
        self.epoch += 1
        if os.path.isdir(self.base):
            for d in os.listdir(self.base):
                shutil.rmtree(os.path.join(self.base, d), ignore_errors=True)
        self.dir = os.path.join(self.base, f"pond{self.epoch}")
        self.reset()

    def reset(self) -> None:
        """A fresh model (a new pond)."""

    def config(self, rng: random.Random) -> Dict[str, Any]:
        return {"durability": "fsync" if rng.random() < 0.3 else "os"}

    def begin_round(self, lang: str) -> None:
        self.lang = lang

    def line(self, line: str) -> int:
        """Handles a worker line; returns 1 when it acknowledged an operation."""
        self.trace(line)
        return self.handle(line)

    def handle(self, line: str) -> int:
        raise NotImplementedError

    def trace(self, text: str) -> None:
        if self.drv.args.trace:
            with open(os.path.join(self.drv.run_dir, f"trace-{self.name}.txt"), "a") as f:
                f.write(text + "\n")

    def verify(self, pond: logpond.Pond) -> None:
        raise NotImplementedError

    def size(self) -> int:
        return 0

    def final(self) -> None:
        """After the last round."""

    # helpers

    def bad(self, kind: str, msg: str, n: int = 1) -> None:
        """A problem: `n` records (or operations) lost, corrupt, or another broken invariant."""
        self.drv.problem(self, kind, msg, n)

    def ack(self) -> int:
        self.drv.count(self, "acks")
        return 1

    def checks(self, n: int) -> None:
        self.drv.count(self, "checks", n)

    def unknown(self, line: str) -> int:
        if line.startswith("BADREC"):
            self.bad("corrupt", f"worker read a corrupt record: {line}")
        else:
            self.bad("other", f"unexpected worker line: {line[:300]}")
        return 0

    def checked_verify(self) -> None:
        """Reopens the pond and checks it (a pond that does not open is a problem)."""
        before = len(self.drv.problems)
        if self.drv.args.snapshot and os.path.isdir(self.dir):
            snap = os.path.join(self.drv.run_dir, f"snapshot-{self.name}")
            shutil.rmtree(snap, ignore_errors=True)
            shutil.copytree(self.dir, snap)
        try:
            pond = logpond.open(self.dir)
        except Exception as e:
            self.bad("other", f"the pond cannot be reopened: {type(e).__name__}: {e}")
            self.broken = True
            return
        try:
            self.verify(pond)
        except Exception as e:
            self.bad("other", f"verification failed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        finally:
            pond.close()
        if len(self.drv.problems) > before:
            # The model follows the pond from here on (each loss is counted once).
            if not self.failed_copy:
                self.failed_copy = os.path.join(self.drv.run_dir, f"failed-{self.name}-round{self.k}")
                shutil.copytree(self.dir, self.failed_copy, dirs_exist_ok=True)
                print(f"crash: {self.name}: pond after its first problem copied to {self.failed_copy}", flush=True)
            if self.drv.args.stop:
                self.broken = True
                print(f"crash: family {self.name} stopped (--stop)", flush=True)
            return
        if self.rotate_at is not None and self.size() > self.rotate_at:
            self.new_epoch()

    def scan(
        self,
        pond: logpond.Pond,
        topic: str,
        acked: Dict[Tuple[int, int], str],
        ends: Dict[Tuple[str, int], int],
        *,
        dense: bool = True,
        must_have: Callable[[int, int, int], bool] = lambda p, o, start: True,
    ) -> Dict[int, List[Tuple[int, str, Optional[str]]]]:
        """Reads every partition of `topic`: checks each record against its own
        checksum and the acknowledged ones against what was acknowledged.
        Returns {partition: [(offset, digest, key)]}."""
        info = pond.describe(topic)
        found: Dict[int, List[Tuple[int, str, Optional[str]]]] = {}
        for part in info.partitions:
            p, start, end = part.partition, part.start_offset, part.end_offset
            prev_end = ends.get((topic, p), 0)
            if end < prev_end:
                self.bad("lost", f"{topic}/{p}: end offset {end} went back below {prev_end} (seen at an earlier reopen)",
                         prev_end - end)
            ends[(topic, p)] = end
            recs: List[Tuple[int, str, Optional[str]]] = []
            o = start
            expect = start
            while o < end:
                try:
                    batch = pond.read(topic, p, o, max_records=2000)
                except logpond.Corruption as e:
                    self.bad("corrupt", f"{topic}/{p}: reading at {o}: Corruption: {e}")
                    break
                if not batch:
                    if dense:
                        self.bad("lost", f"{topic}/{p}: read at {o} returned nothing below end {end}")
                    break
                for r in batch:
                    if r.offset < expect or (dense and r.offset != expect):
                        self.bad("other", f"{topic}/{p}: offset {r.offset} where {expect} was expected")
                    expect = r.offset + 1
                    try:
                        ck = R.check_record(r)
                    except R.Corrupt as e:
                        self.bad("corrupt", f"{topic}/{p}@{r.offset}: {e}")
                        continue
                    recs.append((r.offset, ck, None if r.key is None else r.key.decode()))
                o = batch[-1].offset + 1
            found[p] = recs
            have = {o: ck for o, ck, _ in recs}
            n = 0
            missing: List[int] = []
            for (ap, ao), ack_ck in acked.items():
                if ap != p:
                    continue
                n += 1
                got = have.get(ao)
                if got is None:
                    if ao >= end or must_have(p, ao, start):
                        missing.append(ao)
                elif got != ack_ck:
                    self.bad("lost", f"{topic}/{p}@{ao}: holds {got}, acknowledged {ack_ck}")
                    acked[(ap, ao)] = got
            for ao in missing:
                del acked[(p, ao)]
            if missing:
                missing.sort()
                self.bad("lost", f"{topic}/{p}: {len(missing)} acknowledged records missing, offsets "
                                 f"{missing[:10]}{'...' if len(missing) > 10 else ''} (start {start}, end {end})",
                         len(missing))
            self.checks(n + len(recs))
        return found


def parse_ack(words: List[str]) -> Tuple[str, int, int, str]:
    return words[1], int(words[2]), int(words[3]), words[4]


# --- sends (fsync and os) -------------------------------------------------------


class Send(Family):
    kind = "send"
    rotate_at = 60_000
    durability = "os"

    def reset(self) -> None:
        self.acked: Dict[Tuple[int, int], str] = {}
        self.ends: Dict[Tuple[str, int], int] = {}

    def config(self, rng: random.Random) -> Dict[str, Any]:
        return {"durability": self.durability}

    def handle(self, line: str) -> int:
        w = line.split()
        if w[0] == "ACK" and w[1] == "events":
            _, p, o, ck = parse_ack(w)
            self.acked[(p, o)] = ck
            return self.ack()
        return self.unknown(line)

    def size(self) -> int:
        return sum(self.ends.values())

    def verify(self, pond: logpond.Pond) -> None:
        if "events" not in pond.topics():
            if self.acked:
                self.bad("lost", "topic events is gone")
            return
        self.scan(pond, "events", self.acked, self.ends)


class SendFsync(Send):
    name = "send-fsync"
    durability = "fsync"


class SendOs(Send):
    name = "send-os"
    durability = "os"


# --- queue: receive, ack, nack, ack_many, dead letters ---------------------------


class Queue(Family):
    name = kind = "queue"

    def reset(self) -> None:
        self.sent: Dict[Tuple[int, int], str] = {}
        self.acked: Set[Tuple[int, int]] = set()
        self.counts: Dict[Tuple[int, int], int] = {}
        self.dead: Set[Tuple[int, int]] = set()
        self.excess = 0  # backlog beyond the model, once reported
        self.open: Set[Tuple[int, int]] = set()  # delivered in this round, not settled (yet)
        self.maybe: Set[Tuple[int, int]] = set()  # unsettled at a kill: may have been acked unseen
        self.ends: Dict[Tuple[str, int], int] = {}
        self.done: Optional[str] = None

    def handle(self, line: str) -> int:
        w = line.split()
        if w[0] == "ACK" and w[1] == "jobs":
            _, p, o, ck = parse_ack(w)
            self.sent[(p, o)] = ck
            return self.ack()
        if w[0] == "DLV":
            p, o, n, ck = int(w[1]), int(w[2]), int(w[3]), w[4]
            po = (p, o)
            self.checks(1)
            if po in self.acked:
                self.bad("lost", f"jobs/{p}@{o} delivered again (count {n}) after its ack was acknowledged")
            if po in self.sent and self.sent[po] != ck:
                self.bad("corrupt", f"jobs/{p}@{o} delivered as {ck}, sent as {self.sent[po]}")
            if n > QUEUE_SETTINGS["max_deliveries"]:
                self.bad("other", f"jobs/{p}@{o} delivered {n} times (max_deliveries 3)")
            if n <= self.counts.get(po, 0):
                self.bad("other", f"jobs/{p}@{o} delivery count {n} after an earlier delivery {self.counts[po]}")
            self.counts[po] = n
            self.open.add(po)
            self.maybe.discard(po)
            return 0
        if w[0] == "QACK":
            po = (int(w[1]), int(w[2]))
            self.acked.add(po)
            self.open.discard(po)
            return self.ack()
        if w[0] == "NACK":
            self.open.discard((int(w[1]), int(w[2])))
            return self.ack()
        if w[0] == "DONE":
            self.done = line
            return 0
        return self.unknown(line)

    def begin_round(self, lang: str) -> None:
        super().begin_round(lang)
        self.maybe |= self.open
        self.open = set()

    def verify(self, pond: logpond.Pond) -> None:
        self.maybe |= self.open  # the worker was killed: an ack may have returned unreported
        self.open = set()
        topics = pond.topics()
        if "jobs" not in topics:
            if self.sent:
                self.bad("lost", "topic jobs is gone")
            return
        self.scan(pond, "jobs", self.sent, self.ends)
        if "jobs.dlq" in topics:
            for p, recs in self.scan(pond, "jobs.dlq", {}, self.ends).items():
                for o, ck, _ in recs:
                    r = pond.read("jobs.dlq", p, o, max_records=1)[0]
                    h = dict(r.headers)
                    origin = (int(h["logpond.dlq.partition"]), int(h["logpond.dlq.offset"]))
                    if origin in self.acked:
                        self.bad("lost", f"jobs/{origin[0]}@{origin[1]} dead-lettered (jobs.dlq/{p}@{o}) "
                                         "after its ack was acknowledged")
                    if origin in self.sent and self.sent[origin] != ck:
                        self.bad("corrupt", f"dead letter jobs.dlq/{p}@{o} of jobs/{origin} differs from what was sent")
                    self.dead.add(origin)
        total = sum(e for (t, _), e in self.ends.items() if t == "jobs")
        with pond.queue("jobs", "workers", **QUEUE_SETTINGS) as q:
            backlog = q.backlog()
        self.checks(1)
        if backlog > total - len(self.acked) + self.excess:
            self.bad("lost", f"backlog {backlog} > {total} records - {len(self.acked)} acknowledged acks",
                     backlog - (total - len(self.acked) + self.excess))
            self.excess = backlog - (total - len(self.acked))

    def final(self) -> None:
        """A worker that is not killed settles everything; then every record
        is acked or dead-lettered."""
        drv = self.drv
        self.begin_round(self.lang)
        cfg = dict(family="queue", dir=self.dir, seed=drv.seed, tag="drain", mode="drain", durability="os")
        proc, err_path = drv.spawn(self, cfg, self.lang)
        reader = Reader(proc.stdout)
        try:
            for line in reader.read_all(time.monotonic() + 120):
                if line != "READY":
                    self.line(line)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
            LIVE.pop(proc.pid, None)
            reader.close()
            proc.stdout.close()
        if proc.returncode != 0 or not self.done or "backlog=0" not in self.done:
            err = open(err_path, "rb").read().decode("utf-8", "replace")
            self.bad("other", f"drain did not finish (status {proc.returncode}, {self.done}): {err[-2000:]}")
        with logpond.open(self.dir) as pond:
            self.verify(pond)
        missing = [
            (p, o)
            for (t, p), end in sorted(self.ends.items()) if t == "jobs"
            for o in range(end)
            if (p, o) not in self.acked and (p, o) not in self.dead and (p, o) not in self.maybe
        ]
        self.checks(sum(e for (t, _), e in self.ends.items() if t == "jobs"))
        if missing:
            self.bad("lost", f"{len(missing)} records neither acked nor dead-lettered after the drain: {missing[:20]}")
        print(f"crash: queue drained by {self.lang}: {len(self.acked)} acked, {len(self.dead)} dead-lettered, "
              f"{len(self.maybe - self.acked - self.dead)} settled by a killed worker unreported, "
              f"{sum(e for (t, _), e in self.ends.items() if t == 'jobs')} records", flush=True)


# --- consumer groups: poll + manual commits ---------------------------------------


class Group(Family):
    name = kind = "group"
    rotate_at = 60_000

    def reset(self) -> None:
        self.sent: Dict[Tuple[int, int], str] = {}
        self.committed: Dict[Tuple[str, int], int] = {}
        self.ends: Dict[Tuple[str, int], int] = {}
        self.expect: Dict[Tuple[str, int], int] = {}

    def begin_round(self, lang: str) -> None:
        super().begin_round(lang)
        self.expect = {}

    def size(self) -> int:
        return sum(self.ends.values())

    def handle(self, line: str) -> int:
        w = line.split()
        if w[0] == "ACK" and w[1] == "stream":
            _, p, o, ck = parse_ack(w)
            self.sent[(p, o)] = ck
            return self.ack()
        if w[0] == "R":
            g, p, o, ck = w[1], int(w[2]), int(w[3]), w[4]
            self.checks(1)
            exp = self.expect.get((g, p))
            if exp is not None and o != exp:
                self.bad("other", f"{g} read stream/{p}@{o}, expected {exp} (the next after its committed offset)")
            self.expect[(g, p)] = o + 1
            if (p, o) in self.sent and self.sent[(p, o)] != ck:
                self.bad("corrupt", f"{g} read stream/{p}@{o} as {ck}, sent as {self.sent[(p, o)]}")
            return 0
        if w[0] == "START":
            g, p = w[1], int(w[2])
            com = None if w[3] == "-" else int(w[3])
            last = self.committed.get((g, p))
            self.checks(1)
            if last is not None and (com is None or com < last):
                self.bad("lost", f"{g} stream/{p}: committed {com} at start, below acknowledged commit {last}")
            self.expect[(g, p)] = 0 if com is None else com
            return 0
        if w[0] == "COMMIT":
            g, p, o = w[1], int(w[2]), int(w[3])
            self.committed[(g, p)] = o
            return self.ack()
        return self.unknown(line)

    def verify(self, pond: logpond.Pond) -> None:
        if "stream" not in pond.topics():
            if self.sent or self.committed:
                self.bad("lost", "topic stream is gone")
            return
        self.scan(pond, "stream", self.sent, self.ends)
        for g in ("g1", "g2"):
            with pond.consumer(g, ["stream"], auto_offset_reset="earliest", auto_commit=False) as c:
                for p in range(3):
                    com = c.committed("stream", p)
                    last = self.committed.get((g, p))
                    self.checks(1)
                    if last is not None and (com is None or com < last):
                        self.bad("lost", f"{g} stream/{p}: committed {com} after reopen, acknowledged {last}")
                        self.committed.pop((g, p))
                        if com is not None:
                            self.committed[(g, p)] = com
                    if com is not None and com > self.ends.get(("stream", p), 0):
                        self.bad("other", f"{g} stream/{p}: committed {com} beyond the end offset")


# --- compaction and retention ------------------------------------------------------


RET_RECORDS = 300
RET_BYTES = 20_000


class Compact(Family):
    name = kind = "compact"

    def reset(self) -> None:
        self.acked: Dict[str, Dict[Tuple[int, int], str]] = {t: {} for t in ("kv", "ret", "retb", "trim")}
        self.last_key: Dict[Tuple[int, str], int] = {}
        self.trim_floor = 0
        self.ends: Dict[Tuple[str, int], int] = {}
        self.starts: Dict[Tuple[str, int], int] = {}

    def handle(self, line: str) -> int:
        w = line.split()
        if w[0] == "ACK" and w[1] in self.acked:
            t, p, o, ck = parse_ack(w)
            self.acked[t][(p, o)] = ck
            if t == "kv":
                key = w[5]
                self.last_key[(p, key)] = max(o, self.last_key.get((p, key), -1))
            return self.ack()
        if w[0] == "TRIM":
            self.trim_floor = max(self.trim_floor, int(w[2]))
            return self.ack()
        if w[0] == "MAINTAIN":
            return self.ack()
        return self.unknown(line)

    def start_moves_forward(self, pond: logpond.Pond, topic: str) -> Tuple[int, int, int]:
        part = pond.describe(topic).partitions[0]
        prev = self.starts.get((topic, 0), 0)
        if part.start_offset < prev:
            self.bad("other", f"{topic}: start offset {part.start_offset} went back below {prev}")
        self.starts[(topic, 0)] = part.start_offset
        return part.start_offset, part.end_offset, part.bytes

    def verify(self, pond: logpond.Pond) -> None:
        topics = pond.topics()
        for t, acked in self.acked.items():
            if t not in topics and acked:
                self.bad("lost", f"topic {t} is gone")
        if not {"kv", "ret", "retb", "trim"} <= set(topics):
            return  # the first worker died while creating them
        # Compacted: the newest acknowledged write of each key (or a newer one) stays.
        found = self.scan(pond, "kv", self.acked["kv"], self.ends, dense=False,
                          must_have=lambda p, o, start: False)
        newest: Dict[Tuple[int, str], int] = {}
        for p, recs in found.items():
            for o, _, key in recs:
                if key is None:
                    self.bad("corrupt", f"kv/{p}@{o}: a record without a key in a compacted topic")
                    continue
                newest[(p, key)] = o
        for (p, key), o in self.last_key.items():
            self.checks(1)
            if newest.get((p, key), -1) < o:
                self.bad("lost", f"kv/{p} key {key}: newest record at {newest.get((p, key))}, "
                                 f"acknowledged write at {o}")
                self.last_key[(p, key)] = newest.get((p, key), -1)
        # Retention by records: never fewer than retention_records remain.
        start, end, _ = self.start_moves_forward(pond, "ret")
        self.scan(pond, "ret", self.acked["ret"], self.ends, must_have=lambda p, o, s: o >= s)
        if end - start < min(end, RET_RECORDS):
            self.bad("lost", f"ret: {end - start} records kept (start {start}, end {end}), "
                             f"retention_records {RET_RECORDS}")
        # Retention by bytes: what remains still holds retention_bytes.
        start, end, nbytes = self.start_moves_forward(pond, "retb")
        self.scan(pond, "retb", self.acked["retb"], self.ends, must_have=lambda p, o, s: o >= s)
        if start > 0 and nbytes < RET_BYTES:
            self.bad("lost", f"retb: {nbytes} bytes kept (start {start}), retention_bytes {RET_BYTES}")
        # delete_records: an acknowledged trim stays.
        start, end, _ = self.start_moves_forward(pond, "trim")
        self.scan(pond, "trim", self.acked["trim"], self.ends, must_have=lambda p, o, s: o >= s)
        self.checks(3)
        if start < self.trim_floor:
            self.bad("lost", f"trim: start offset {start}, below acknowledged delete_records({self.trim_floor})")
            self.trim_floor = start


# --- topics and subscriptions: create and delete -----------------------------------


POOL = [f"t{i}" for i in range(8)]


class Topics(Family):
    name = kind = "topics"

    def reset(self) -> None:
        # name -> {"parts": n, "subs": set, "acked": {(p, o): ck}}
        self.model: Dict[str, Dict[str, Any]] = {}
        self.ends: Dict[Tuple[str, int], int] = {}
        self.pending: Optional[List[str]] = None

    def handle(self, line: str) -> int:
        w = line.split()
        op = w[0]
        if op == "BEGIN":
            self.pending = w[1:]
            return 0
        if op == "TCREATE":
            t = w[1]
            self.model[t] = {"parts": int(w[2]), "subs": set(), "acked": {}}
            self.drop_ends(t)
        elif op == "TDELETE":
            self.model.pop(w[1], None)
            self.drop_ends(w[1])
        elif op in ("SCREATE", "SDELETE", "ACK") and w[1] not in self.model:
            self.bad("other", f"worker line for a topic it did not create: {line}")
            return 0
        elif op == "SCREATE":
            self.model[w[1]]["subs"].add(w[2])
        elif op == "SDELETE":
            self.model[w[1]]["subs"].discard(w[2])
        elif op == "ACK":
            t, p, o, ck = parse_ack(w)
            self.model[t]["acked"][(p, o)] = ck
            return self.ack()
        elif op == "MISMATCH":
            self.bad("other", f"the worker's exact view of topics was contradicted: {line}")
            return 0
        else:
            return self.unknown(line)
        self.pending = None
        return self.ack()

    def drop_ends(self, t: str) -> None:
        for k in [k for k in self.ends if k[0] == t]:
            del self.ends[k]

    def verify(self, pond: logpond.Pond) -> None:
        listed = pond.topics()
        pend = self.pending or ["", ""]
        pop, pt = pend[0], pend[1]
        for t in listed:
            if t not in POOL:
                self.bad("other", f"topics() lists {t!r}, never created")
        for t in POOL:
            in_pond = t in listed
            m = self.model.get(t)
            uncertain_topic = pt == t and pop in ("tcreate", "tdelete")
            self.checks(1)
            if not in_pond:
                try:
                    pond.describe(t)
                    self.bad("other", f"{t}: describe works but topics() does not list it")
                except logpond.TopicNotFound:
                    pass
                if m is not None:
                    if uncertain_topic:  # an unacknowledged delete happened
                        del self.model[t]
                        self.drop_ends(t)
                    else:
                        self.bad("lost", f"{t}: acknowledged create (no delete since), missing after reopen")
                        del self.model[t]
                continue
            try:
                info = pond.describe(t)
                subs = set(pond.subscriptions(t))
            except logpond.LogpondError as e:
                self.bad("other", f"{t}: listed, but describe/subscriptions fail: {type(e).__name__}: {e}")
                continue
            parts = len(info.partitions)
            if m is None:
                if uncertain_topic and pop == "tcreate":  # an unacknowledged create happened
                    if parts != int(pend[2]):
                        self.bad("other", f"{t}: created with {pend[2]} partitions, has {parts}")
                    if subs:
                        self.bad("other", f"{t}: a new topic with subscriptions {sorted(subs)}")
                    m = self.model[t] = {"parts": parts, "subs": set(subs), "acked": {}}
                else:
                    self.bad("lost", f"{t}: acknowledged delete undone: the topic is back after reopen")
                    m = self.model[t] = {"parts": parts, "subs": set(subs), "acked": {}}
            if parts != m["parts"]:
                self.bad("other", f"{t}: {parts} partitions, created with {m['parts']}")
            # An unacknowledged create or delete of a subscription may or may not have happened.
            free = {pend[2]} if pop in ("screate", "sdelete") and pt == t else set()
            if subs - free != m["subs"] - free:
                self.bad("lost", f"{t}: subscriptions {sorted(subs)}, acknowledged {sorted(m['subs'])} "
                                 f"(in flight at the kill: {' '.join(pend) or 'nothing'})",
                         len(m["subs"] - free - subs) or 1)
            m["subs"] = subs
            try:
                self.scan(pond, t, m["acked"], self.ends)
            except logpond.LogpondError as e:
                self.bad("other", f"{t}: reading fails: {type(e).__name__}: {e}")
        self.pending = None


FAMILIES: Dict[str, Callable[[Driver, str], Family]] = {
    "send-fsync": SendFsync,
    "send-os": SendOs,
    "queue": Queue,
    "group": Group,
    "compact": Compact,
    "topics": Topics,
}


def check_builds(langs: List[str]) -> None:
    """Warns when a native module is older than the core's sources: both
    runtimes must run one build (a pond written by a newer core can look
    damaged to an older one)."""
    newest = max(
        os.path.getmtime(os.path.join(d, f))
        for sub in ("core/src", "bindings/python/src", "bindings/node/src")
        for d, _, fs in os.walk(os.path.join(ROOT, sub))
        for f in fs
    )
    natives = {"python": os.path.join(os.path.dirname(logpond.__file__), "_native.abi3.so")}
    natives.update({"node": p for p in
                    (os.path.join(ROOT, "node", f) for f in os.listdir(os.path.join(ROOT, "node")))
                    if p.endswith(".node")})
    for lang in langs:
        path = natives.get(lang)
        if path is None or not os.path.exists(path):
            print(f"crash: WARNING: no native module found for {lang}", flush=True)
        elif os.path.getmtime(path) < newest:
            print(f"crash: WARNING: {os.path.relpath(path, ROOT)} is older than the newest core/binding "
                  f"source: rebuild (make python-install build-node) so both runtimes run one build", flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=int(os.environ.get("CRASH_KILLS", 120)),
                    help="rounds (each ends with a SIGKILL), shared by the families in turn")
    ap.add_argument("--seed", type=int, default=None, help="default: $CRASH_SEED or random")
    ap.add_argument("--family", action="append", choices=list(FAMILIES), help="only these families")
    ap.add_argument("--lang", action="append", choices=list(LANGS), help="only these languages")
    ap.add_argument("--max-seconds", type=float, default=float(os.environ.get("CRASH_MAX_SECONDS", 1e9)),
                    help="start no round after this many seconds")
    ap.add_argument("--round-timeout", type=float, default=30.0, help="hard limit of one round")
    ap.add_argument("--dir", default=None, help="where the ponds live (default target/crash/seed-N)")
    ap.add_argument("--snapshot", action="store_true", help="copy each pond before it is reopened")
    ap.add_argument("--stop", action="store_true", help="stop a family at its first problem")
    ap.add_argument("--keep", action="store_true", help="keep the ponds after a clean run")
    ap.add_argument("--trace", action="store_true", help="write every worker line to trace-FAMILY.txt")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        env = os.environ.get("CRASH_SEED")
        args.seed = int(env) if env else random.SystemRandom().randrange(1 << 31)
    if args.dir is None:
        args.dir = os.path.join(ROOT, "target", "crash", f"seed-{args.seed}")
    shutil.rmtree(args.dir, ignore_errors=True)
    os.makedirs(args.dir)
    signal.signal(signal.SIGTERM, on_term)
    check_builds(args.lang or list(LANGS))
    drv = Driver(args)
    try:
        rc = drv.run()
    finally:
        kill_live()
    if rc == 0 and not args.keep:
        shutil.rmtree(args.dir, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
