#!/usr/bin/env python3
"""SIGKILL loops through the Python and Node bindings (see docs/CRASH.md).

Each round starts one worker (tests/crash/worker.py or worker.js) on a
family's pond directory, reads its acknowledgements line by line, kills it
with SIGKILL at a random moment, then reopens the pond here (through the
Python package) and checks that every acknowledged operation survived and
that nothing corrupt is readable.

After the rounds, the shared family runs seven worker processes of both
languages on ONE pond at once and SIGKILLs random ones (each replaced by a
fresh one), checking the pond beside them with a fresh handle every few
kills and after each pond's last kill (class Shared).

    target/venv-python/bin/python tests/crash/driver.py --kills 1000
    CRASH_SEED=42 ... driver.py --kills 60 --family queue    # replay one family's rounds
    ... driver.py --family shared --shared-kills 200            # only the shared family

Exit status: 0 when no round found a problem, 1 otherwise.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import random
import select
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
        names = self.args.family or list(FAMILIES) + ["shared"]
        fams = [FAMILIES[n](self, os.path.join(self.run_dir, n)) for n in names if n != "shared"]
        langs = self.args.lang or list(LANGS)
        started = time.monotonic()
        print(
            f"crash: seed={self.seed} kills={self.args.kills} families={','.join(names)} "
            f"langs={','.join(langs)} dir={self.run_dir}",
            flush=True,
        )
        for i in range(self.args.kills if fams else 0):
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
        if "shared" in names and self.args.shared_kills > 0:
            if self.args.lang:
                print("crash: shared: --lang ignored (the shared family always mixes both)", flush=True)
            shared = Shared(self, os.path.join(self.run_dir, "shared"))
            shared.run_shared(self.args.shared_kills, self.args.shared_seconds, self.args.shared_epoch,
                              self.args.shared_check_every)
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


# --- shared: several processes on one pond at once ------------------------------------


SHARED_BASE: Dict[str, Dict[str, Any]] = {
    "s0": dict(partitions=3, segment_bytes=4096),  # small segments: rolls under contention
    "s1": dict(partitions=2),
    "jobs": dict(partitions=2, segment_bytes=16384),
    "r": dict(partitions=1, segment_bytes=1024),  # rolls at almost every batch
}
SHARED_GROUP_TOPICS = ("s0", "s1")
SHARED_NEW_TOPICS = [f"n{i}" for i in range(12)]
# One slot per process; a killed process is replaced by a fresh one of the
# same role, in the other language.
SHARED_SLOTS = [("producer", "python"), ("producer", "node"), ("roller", "node"), ("consumer", "python"),
                ("consumer", "node"), ("consumer", "python"), ("reader", "node")]
STALL_LIMIT = 20.0  # seconds without a record polled or a job delivered while consumers run


class SWorker:
    """One process of the shared family."""

    def __init__(self, slot: int, role: str, lang: str, n: int) -> None:
        self.slot, self.role, self.lang, self.n = slot, role, lang, n
        self.proc: Optional[subprocess.Popen] = None
        self.buf = b""
        self.eof = False
        self.ready = False
        self.seed = 0
        self.err_path = ""
        self.expect: Dict[Tuple[str, str, int], int] = {}
        self.open: Set[Tuple[int, int]] = set()  # deliveries not settled (yet)
        self.dlv_ns: Dict[Tuple[int, int, int], int] = {}  # (p, o, count) -> when receive returned

    def __str__(self) -> str:
        pid = self.proc.pid if self.proc else "-"
        return f"{self.role}#{self.n}({self.lang}, slot {self.slot}, pid {pid})"


class Shared(Family):
    """Python and Node processes on ONE pond at once: producers (and topic
    creators), a roller, consumers (members of two groups and workers of a
    queue), a tailing reader. Random ones are SIGKILLed and replaced; the
    pond is checked beside them, and after each pond's last kill."""

    name = kind = "shared"

    def reset(self) -> None:
        self.seen: Dict[Tuple[str, int, int], Tuple[str, str]] = {}  # (t, p, o) -> (digest, who)
        self.acked: Dict[Tuple[str, int, int], str] = {}
        self.created: Dict[str, int] = {}
        self.committed: Dict[Tuple[str, str, int], int] = {}  # the highest acknowledged commit
        # (group, t, p) -> {(member, generation): (from, to)}: when it held the partition (monotonic ns)
        self.holds: Dict[Tuple[str, str, int], Dict[Tuple[SWorker, int], Tuple[int, int]]] = {}
        self.deliveries: Dict[Tuple[int, int], Dict[int, str]] = {}  # job -> {delivery count: to whom}
        self.qacked: Dict[Tuple[int, int], int] = {}  # job -> the delivery count its acknowledged ack settled
        self.maybe: Set[Tuple[int, int]] = set()  # unsettled at a kill, or a failed ack_many: may be settled
        self.dead: Set[Tuple[int, int]] = set()
        self.ends: Dict[Tuple[str, int], int] = {}

    def __init__(self, drv: Driver, base: str) -> None:
        super().__init__(drv, base)
        self.rng = random.Random(f"{drv.seed}:shared")
        self.spawned = 0
        self.kills = 0
        self.procs = {"python": 0, "node": 0}
        self.stats = defaultdict(int)
        self.sends = 0  # acknowledged records checked at the end of a pond
        self.workers: Dict[int, SWorker] = {}
        self.sel: Optional[selectors.BaseSelector] = None
        self.progress = time.monotonic()
        self.rolls = not drv.args.shared_no_rolls

    # --- processes ---------------------------------------------------------------

    def start(self, slot: int, role: str, lang: str) -> SWorker:
        self.spawned += 1
        self.procs[lang] += 1
        w = SWorker(slot, role, lang, self.spawned)
        w.seed = self.rng.randrange(1 << 31)
        cfg = dict(family="shared", role=role, dir=self.dir, seed=w.seed, tag=f"e{self.epoch}w{w.n}{lang[0]}",
                   durability="fsync" if self.rng.random() < 0.4 else "os", rolls=self.rolls)
        script = os.path.join(HERE, "worker.py" if lang == "python" else "worker.js")
        w.err_path = os.path.join(self.drv.run_dir, f"stderr-shared-{slot}.txt")
        with open(w.err_path, "wb") as err:
            w.proc = subprocess.Popen([PYTHON if lang == "python" else NODE, script, json.dumps(cfg)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                      start_new_session=True)
        LIVE[w.proc.pid] = w.proc
        os.set_blocking(w.proc.stdout.fileno(), False)
        assert self.sel is not None
        self.sel.register(w.proc.stdout.fileno(), selectors.EVENT_READ, w)
        self.workers[slot] = w
        self.trace(f"=== start {w} cfg {json.dumps(cfg)}")
        return w

    def pump(self, w: SWorker) -> None:
        """Reads what the worker's pipe holds now; handles the whole lines."""
        assert w.proc is not None
        try:
            chunk = os.read(w.proc.stdout.fileno(), 1 << 16)
        except BlockingIOError:
            return
        if not chunk:
            w.eof = True
        w.buf += chunk
        *lines, w.buf = w.buf.split(b"\n")
        for line in lines:
            text = line.decode("utf-8", "replace")
            try:
                self.worker_line(w, text)
            except (ValueError, IndexError) as e:
                self.bad("other", f"a line {w} wrote makes no sense ({type(e).__name__}: {e}): {text[:300]}")

    def stop(self, w: SWorker, counted: bool) -> None:
        """SIGKILLs a worker (by pid), reads what its pipe still holds, reaps it."""
        assert w.proc is not None and self.sel is not None
        self.lang = w.lang
        self.worker_seed = w.seed
        exited = w.eof or w.proc.poll() is not None
        if w.proc.poll() is None:
            os.kill(w.proc.pid, signal.SIGKILL)
        del self.workers[w.slot]
        try:
            w.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.bad("other", f"{w} still there 10 s after SIGKILL")
        deadline = time.monotonic() + 5
        fd = w.proc.stdout.fileno()
        while not w.eof and time.monotonic() < deadline:
            if select.select([fd], [], [], max(0.0, deadline - time.monotonic()))[0]:
                self.pump(w)
        self.sel.unregister(fd)
        w.proc.stdout.close()
        LIVE.pop(w.proc.pid, None)
        self.maybe |= w.open
        self.trace(f"=== {'exited' if exited else 'SIGKILL'} {w} (ready={w.ready})")
        err = open(w.err_path, "rb").read().decode("utf-8", "replace")
        if exited:
            self.bad("other", f"{w} exited by itself with status {w.proc.returncode}: {err[-3000:]}")
        elif "panicked" in err or "Traceback" in err or "worker.js:" in err:
            self.bad("other", f"{w} stderr: {err[-3000:]}")
        if counted and not exited:
            self.kills += 1
            self.drv.count(self, "kills")
            if not w.ready:
                self.drv.count(self, "early")

    # --- what workers say ----------------------------------------------------------

    def observe(self, t: str, p: int, o: int, ck: str, who: str) -> None:
        """Every view of (topic, partition, offset) — an acknowledgement or a read,
        by any process — must be the same record."""
        key = (t, p, o)
        prev = self.seen.get(key)
        self.checks(1)
        if prev is None:
            self.seen[key] = (ck, who)
            return
        if prev[0] == ck:
            return
        acks = [x for x in (prev[1], who) if x.startswith("ack")]
        if len(acks) < 2:  # (two acknowledgements of one offset are reported as such)
            self.bad("lost" if acks else "corrupt", f"{t}/{p}@{o}: {prev[1]} saw {prev[0]}, {who} sees {ck}")
        if who.startswith("ack") or not prev[1].startswith("ack"):
            self.seen[key] = (ck, who)

    def worker_line(self, w: SWorker, line: str) -> None:
        self.lang = w.lang
        self.worker_seed = w.seed
        self.trace(f"{w.n} {line}")
        if line == "READY":
            w.ready = True
            return
        x = line.split()
        op = x[0]
        if op == "ACK":
            t, p, o, ck = parse_ack(x)
            if (t, p, o) in self.acked:  # one of the two acknowledged records cannot be there
                first = self.seen.get((t, p, o), ("", "?"))[1]
                self.bad("lost", f"{t}/{p}@{o} acknowledged twice: {self.acked[(t, p, o)]} ({first}), "
                                 f"then {ck} to {w}")
            self.acked[(t, p, o)] = ck
            self.observe(t, p, o, ck, f"ack to {w}")
            self.ack()
        elif op == "RB":
            t, p, o0 = x[1], int(x[2]), int(x[3])
            for i, ck in enumerate(x[4:]):
                if ck != "?":
                    self.observe(t, p, o0 + i, ck, f"read by {w}")
        elif op == "R":
            g, t, p, o, ck = x[1], x[2], int(x[3]), int(x[4]), x[5]
            exp = w.expect.get((g, t, p))
            if exp is not None and o != exp:
                self.bad("other", f"{g} polled {t}/{p}@{o} in {w}, expected {exp} (no rebalance in between)")
            w.expect[(g, t, p)] = o + 1
            self.progress = time.monotonic()
            self.observe(t, p, o, ck, f"poll of {g} in {w}")
        elif op == "BEGIN":
            pass
        elif op == "TCREATE":
            if x[1] in self.created:
                self.bad("other", f"topic {x[1]} created twice: acknowledged before, and again to {w}")
            self.created[x[1]] = int(x[2])
            self.ack()
        elif op == "TEXISTS":
            self.checks(1)
        elif op == "JOINED":
            self.stats["joins"] += 1
        elif op == "ASSIGN":
            # A member's generation or assignment changed (after a poll): expect nothing of its positions.
            g = x[1]
            self.stats["assignments"] += 1
            for k in [k for k in w.expect if k[0] == g]:
                del w.expect[k]
        elif op == "HELD":
            # [a, b]: the member held the partition all that time; no two members' stretches overlap.
            g, gen, t, p, a, b = x[1], int(x[2]), x[3], int(x[4]), int(x[5]), int(x[6])
            self.checks(1)
            for (ow, ogen), (oa, ob) in self.holds.setdefault((g, t, p), {}).items():
                if ow is not w and a < ob and oa < b:
                    self.bad("other", f"{g} {t}/{p} held by {ow} (generation {ogen}) and by {w} (generation "
                                      f"{gen}) at once, for {(min(b, ob) - max(a, oa)) / 1e6:.1f} ms")
            self.holds[(g, t, p)][(w, gen)] = (a, b)
        elif op == "COMMIT":
            g, t, p, o = x[1], x[2], int(x[3]), int(x[4])
            self.committed[(g, t, p)] = max(o, self.committed.get((g, t, p), 0))
            self.ack()
        elif op == "CFAIL":
            self.stats["commits refused in a rebalance"] += 1
        elif op == "DLV":
            p, o, n, ck = int(x[1]), int(x[2]), int(x[3]), x[4]
            self.delivered(p, o, n, ck, str(w))
            w.open.add((p, o))
            w.dlv_ns[(p, o, n)] = int(x[6])  # when the receive began: the lease started later
        elif op in ("QACK", "NACK"):
            po, n = (int(x[1]), int(x[2])), int(x[3])
            w.open.discard(po)
            if op == "QACK":
                self.settled(po, n, str(w))
            self.ack()
        elif op == "LFAIL":
            # ack, nack or ack_many refused (LeaseExpired; ack_many refuses the whole batch when one
            # lease ended): the oldest lease in it began at most `age` before.
            t_fail, items = int(x[1]), [tuple(int(v) for v in a.split(":")) for a in x[2:x.index("--")]]
            self.stats["settles refused: lease expired"] += 1
            oldest = t_fail
            for p, o, n in items:
                w.open.discard((p, o))
                self.maybe.add((p, o))
                oldest = min(oldest, w.dlv_ns.get((p, o, n), t_fail))
            age = (t_fail - oldest) / 1e9
            self.checks(1)
            if age < QUEUE_SETTINGS["ack_timeout"]:
                again = {(p, o): {m: who for m, who in self.deliveries.get((p, o), {}).items() if m > n}
                         for p, o, n in items}
                self.bad("other", f"{w}, alive, lost its leases of {items} at most {age * 1000:.0f} ms after "
                                  f"they began (ack_timeout {QUEUE_SETTINGS['ack_timeout']} s): "
                                  f"{' '.join(x[x.index('--') + 1:])[:200]}; delivered again (so far): {again}")
        elif op == "ORDER":
            self.bad("other", f"{w} read out of order: {line}")
        else:
            self.unknown(f"{line} (from {w})")

    def delivered(self, p: int, o: int, n: int, ck: str, who: str) -> None:
        """A delivery: once per delivery count, never after an acknowledged ack, at most max_deliveries."""
        po = (p, o)
        self.checks(1)
        self.progress = time.monotonic()
        ds = self.deliveries.setdefault(po, {})
        if n in ds:
            self.bad("other", f"jobs/{p}@{o} delivered twice with delivery count {n}: to {ds[n]} and to {who}")
        ds[n] = who
        if po in self.qacked and n > self.qacked[po]:
            self.bad("lost", f"jobs/{p}@{o} delivered again (count {n}, to {who}) after the ack of its "
                             f"delivery {self.qacked[po]} was acknowledged")
        if n > QUEUE_SETTINGS["max_deliveries"]:
            self.bad("other", f"jobs/{p}@{o} delivered {n} times (max_deliveries 3)")
        self.maybe.discard(po)
        self.observe("jobs", p, o, ck, f"delivery to {who}")

    def settled(self, po: Tuple[int, int], n: int, who: str) -> None:
        """An acknowledged ack of delivery n: no other ack succeeds, no later delivery happens."""
        self.checks(1)
        if po in self.qacked:
            self.bad("other", f"jobs/{po[0]}@{po[1]} acked twice: delivery {self.qacked[po]}, then delivery {n} "
                              f"by {who}")
        later = [m for m in self.deliveries.get(po, {}) if m > n]
        if later:
            self.bad("lost", f"jobs/{po[0]}@{po[1]}: the ack of delivery {n} by {who} succeeded, but it was "
                             f"delivered again as {later}")
        self.qacked[po] = n

    # --- checks of the pond ----------------------------------------------------------

    def scan_all(self, pond: logpond.Pond, acked: Dict[Tuple[str, int, int], str],
                 created: Dict[str, int], who: str) -> None:
        """Reads every record of every topic (dense, intact, the same as every
        earlier view); every acknowledged send and topic is there."""
        listed = pond.topics()
        allowed = set(SHARED_BASE) | set(SHARED_NEW_TOPICS) | {"jobs.dlq"}
        for t in listed:
            if t not in allowed:
                self.bad("other", f"topics() lists {t!r}, never created")
        for t, n in created.items():
            self.checks(1)
            if t not in listed:
                self.bad("lost", f"topic {t}: acknowledged create, missing ({who})")
            elif len(pond.describe(t).partitions) != n:
                self.bad("other", f"topic {t}: {len(pond.describe(t).partitions)} partitions, created with {n}")
        have: Set[Tuple[str, int, int]] = set()
        for t in listed:
            for part in pond.describe(t).partitions:
                p, start, end = part.partition, part.start_offset, part.end_offset
                if start != 0:
                    self.bad("other", f"{t}/{p}: start offset {start}, nothing deletes records here")
                prev = self.ends.get((t, p), 0)
                if end < prev:
                    self.bad("lost", f"{t}/{p}: end offset {end}, was {prev}")
                self.ends[(t, p)] = end
                o = start
                while o < end:
                    try:
                        batch = pond.read(t, p, o, max_records=2000)
                    except logpond.Corruption as e:
                        self.bad("corrupt", f"{t}/{p}: reading at {o}: Corruption: {e}")
                        break
                    if not batch:
                        self.bad("lost", f"{t}/{p}: read at {o} returned nothing below end {end}")
                        break
                    for r in batch:
                        if r.offset != o:
                            self.bad("other", f"{t}/{p}: offset {r.offset} where {o} was expected (a gap)")
                        o = r.offset + 1
                        try:
                            ck = R.check_record(r)
                        except R.Corrupt as e:
                            self.bad("corrupt", f"{t}/{p}@{r.offset}: {e} ({who})")
                            continue
                        have.add((t, p, r.offset))
                        self.observe(t, p, r.offset, ck, who)
        missing = sorted(k for k in acked if k not in have)
        self.checks(len(acked))
        if missing:
            self.bad("lost", f"{len(missing)} acknowledged records missing ({who}): {missing[:10]}", len(missing))
            for k in missing:
                self.acked.pop(k, None)
                self.seen.pop(k, None)

    def check_live(self) -> None:
        """A fresh handle, beside the running workers: everything acknowledged so far is there."""
        acked, created = dict(self.acked), dict(self.created)
        self.lang = "both"
        self.stats["checks by a fresh handle beside the workers"] += 1
        try:
            with logpond.open(self.dir) as pond:
                self.scan_all(pond, acked, created, "a fresh handle beside the workers")
        except logpond.LogpondError as e:
            self.bad("other", f"a fresh handle beside the workers fails: {type(e).__name__}: {e}")

    def check_end(self) -> None:
        """Every worker is dead: a fresh handle checks records and topics, joins
        the groups (the dead members' partitions come to it) and checks their
        commits, then drains the queue."""
        self.lang = "both"
        with logpond.open(self.dir) as pond:
            self.scan_all(pond, self.acked, self.created, "the fresh handle after the pond's last kill")
            self.sends += len(self.acked)
            every = sorted((t, p) for t in SHARED_GROUP_TOPICS for p in range(SHARED_BASE[t]["partitions"]))
            for g in ("g1", "g2"):
                with pond.consumer(g, list(SHARED_GROUP_TOPICS), auto_offset_reset="earliest",
                                   auto_commit=False) as c:
                    deadline = time.monotonic() + 30
                    while sorted(c.assignment()) != every and time.monotonic() < deadline:
                        c.poll(max_records=1, timeout=0.05)
                        c.seek_to_beginning()
                    if sorted(c.assignment()) != every:
                        self.bad("other", f"{g}: the dead members' partitions do not come to a new member in "
                                          f"30 s (it has {sorted(c.assignment())})")
                    for t, p in every:
                        com = c.committed(t, p)
                        last = self.committed.get((g, t, p))
                        self.checks(2)
                        if last is not None and (com is None or com < last):
                            self.bad("lost", f"{g} {t}/{p}: committed {com} at the end, acknowledged {last}")
                        if com is not None and com > self.ends.get((t, p), 0):
                            self.bad("other", f"{g} {t}/{p}: committed {com} beyond the end offset")
            with pond.queue("jobs", "workers", **QUEUE_SETTINGS) as q:
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    ds = q.receive(max_messages=200, timeout=0.05)
                    for d in ds:
                        r = d.record
                        try:
                            ck = R.check_record(r)
                        except R.Corrupt as e:
                            self.bad("corrupt", f"drain: jobs/{r.partition}@{r.offset}: {e}")
                            continue
                        self.delivered(r.partition, r.offset, d.delivery_count, ck, "the drain")
                        d.ack()
                        self.settled((r.partition, r.offset), d.delivery_count, "the drain")
                        self.stats["jobs drained"] += 1
                    if not ds and q.backlog() == 0 and q.in_flight() == 0:
                        break
                else:
                    self.bad("other", f"the queue does not drain in 60 s: backlog {q.backlog()}, "
                                      f"in flight {q.in_flight()}")
            # After the drain: leases of dead holders at their 3rd delivery end in the DLQ.
            if "jobs.dlq" in pond.topics():
                for part in pond.describe("jobs.dlq").partitions:
                    for r in pond.read("jobs.dlq", part.partition, 0, max_records=1_000_000):
                        h = dict(r.headers)
                        origin = (int(h["logpond.dlq.partition"]), int(h["logpond.dlq.offset"]))
                        self.checks(2)
                        if origin in self.qacked:
                            self.bad("lost", f"jobs/{origin} dead-lettered, and acked (acknowledged) too")
                        try:
                            self.observe("jobs", origin[0], origin[1], R.check_record(r),
                                         f"dead letter jobs.dlq/{r.partition}@{r.offset}")
                        except R.Corrupt as e:
                            self.bad("corrupt", f"dead letter jobs.dlq/{r.partition}@{r.offset}: {e}")
                        self.dead.add(origin)
            total = [(p, o) for (t, p), end in sorted(self.ends.items()) if t == "jobs" for o in range(end)]
            self.checks(len(total))
            left = [po for po in total if po not in self.qacked and po not in self.dead and po not in self.maybe]
            if left:
                self.bad("lost", f"{len(left)} jobs neither acked nor dead-lettered after the drain: {left[:20]}",
                         len(left))

    # --- the loop ---------------------------------------------------------------------

    def run_shared(self, kills: int, max_seconds: float, epoch_kills: int, check_every: int) -> None:
        started = time.monotonic()
        print(f"crash: shared: {kills} kills among {len(SHARED_SLOTS)} processes on one pond, "
              f"a fresh pond every {epoch_kills}" + ("" if self.rolls else ", segments never roll"), flush=True)
        while self.kills < kills and time.monotonic() - started < max_seconds and not self.broken:
            if self.k > 0:
                self.new_epoch()
            self.k += 1
            n = min(epoch_kills, kills - self.kills)
            self.run_epoch(n, started + max_seconds, check_every)
            print(f"crash: shared: pond {self.epoch}: {self.kills} kills, {self.spawned} processes, "
                  f"{time.monotonic() - started:.0f}s, {len(self.drv.problems)} problems", flush=True)
        self.drv.rounds += self.k
        print(f"crash: shared: {self.kills} kills in {time.monotonic() - started:.0f}s over {self.epoch} ponds: "
              f"{self.spawned} processes ({self.procs['python']} python, {self.procs['node']} node), "
              f"{self.sends} acknowledged records checked at the ends; "
              + ", ".join(f"{v} {k}" for k, v in sorted(self.stats.items())), flush=True)

    def run_epoch(self, n: int, stop_at: float, check_every: int) -> None:
        rng = self.rng
        before = len(self.drv.problems)
        with logpond.open(self.dir) as pond:
            for t, cfg in SHARED_BASE.items():
                if not self.rolls:  # the default segment size (64 MiB): no topic rolls
                    cfg = {k: v for k, v in cfg.items() if k != "segment_bytes"}
                pond.create_topic(t, **cfg)
        self.sel = selectors.DefaultSelector()
        for slot, (role, lang) in enumerate(SHARED_SLOTS):
            self.start(slot, role, lang)
        kills = 0
        stall_reported = False
        self.progress = time.monotonic()
        next_kill = time.monotonic() + rng.uniform(0.05, 0.6)
        try:
            while kills < n and time.monotonic() < stop_at:
                now = time.monotonic()
                for key, _ in self.sel.select(max(0.0, min(next_kill - now, 0.1))):
                    self.pump(key.data)
                for w in list(self.workers.values()):
                    if w.eof or w.proc.poll() is not None:  # gone without being killed
                        self.stop(w, counted=False)
                        self.start(w.slot, w.role, w.lang)
                now = time.monotonic()
                if now >= next_kill:
                    ws = sorted(self.workers.values(), key=lambda w: w.slot)
                    w = rng.choices(ws, [2 if w.role in ("producer", "roller") else 1 for w in ws])[0]
                    self.stop(w, counted=True)
                    kills += 1
                    self.start(w.slot, w.role, "node" if w.lang == "python" else "python")
                    next_kill = time.monotonic() + rng.uniform(0.05, 0.6)
                    if kills % check_every == 0:
                        self.check_live()
                if not stall_reported and now - self.progress > STALL_LIMIT:
                    stall_reported = True
                    self.bad("other", f"no consumer polled a record or got a job for {STALL_LIMIT:.0f} s "
                                      f"(running: {[str(w) for w in self.workers.values()]})")
        finally:
            for w in sorted(self.workers.values(), key=lambda w: w.slot):
                self.stop(w, counted=False)
            self.sel.close()
            self.sel = None
        try:
            self.check_end()
        except Exception as e:
            self.bad("other", f"the end-of-pond check failed: {type(e).__name__}: {e}\n{traceback.format_exc()}")
        if len(self.drv.problems) > before and not self.failed_copy:
            self.failed_copy = os.path.join(self.drv.run_dir, f"failed-shared-pond{self.epoch}")
            shutil.copytree(self.dir, self.failed_copy, dirs_exist_ok=True)
            print(f"crash: shared: pond after its first problem copied to {self.failed_copy}", flush=True)
            if self.drv.args.stop:
                self.broken = True

    def handle(self, line: str) -> int:
        raise NotImplementedError  # lines come through worker_line

    def verify(self, pond: logpond.Pond) -> None:
        raise NotImplementedError


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
    ap.add_argument("--family", action="append", choices=list(FAMILIES) + ["shared"], help="only these families")
    ap.add_argument("--lang", action="append", choices=list(LANGS), help="only these languages")
    ap.add_argument("--max-seconds", type=float, default=float(os.environ.get("CRASH_MAX_SECONDS", 1e9)),
                    help="start no round after this many seconds")
    ap.add_argument("--shared-kills", type=int, default=int(os.environ.get("CRASH_SHARED_KILLS", 60)),
                    help="kills of the shared family (processes on one pond at once), after the rounds")
    ap.add_argument("--shared-seconds", type=float, default=float(os.environ.get("CRASH_SHARED_SECONDS", 1e9)),
                    help="the shared family kills no more after this many seconds (its checks follow)")
    ap.add_argument("--shared-no-rolls", action="store_true",
                    help="shared: segments too big to roll (the default segment size), as make test-crash runs "
                         "until a writer killed mid-roll is survived (tests/crash/repro_stale_sync.py)")
    ap.add_argument("--shared-epoch", type=int, default=50, help="shared: kills per pond (then a fresh pond)")
    ap.add_argument("--shared-check-every", type=int, default=10,
                    help="shared: check the pond with a fresh handle every this many kills")
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
