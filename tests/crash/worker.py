#!/usr/bin/env python3
"""A crash-loop worker on one pond directory, through the Python package.

    python worker.py '{"family": "send", "dir": "...", "seed": 1, "tag": "r1p", ...}'

It opens the pond, prints READY, then works until it is killed (SIGKILL),
printing one line per acknowledgement, flushed, only after the call
returned (the protocol is in docs/CRASH.md; tests/crash/worker.js speaks the
same one for Node). In mode "drain" (queue family) it settles everything
and exits with DONE.
"""

from __future__ import annotations

import json
import os
import random
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import logpond  # noqa: E402
import records as R  # noqa: E402

QUEUE_SETTINGS: Dict[str, Any] = dict(
    ack_timeout=5.0, max_deliveries=3, dead_letter_topic="jobs.dlq", max_in_flight=64
)


def checked(r: Any, topic: str, report: Callable[[str], Any]) -> Optional[str]:
    """The record's check (R.check_record), or None once a corrupt one is
    reported as `BADREC topic partition offset why` through `report`."""
    try:
        return R.check_record(r)
    except R.Corrupt as e:
        report(f"BADREC {topic} {r.partition} {r.offset} {e}")
        return None


def out(*lines: str) -> None:
    """Writes whole lines to stdout at once (no buffering)."""
    data = "".join(line + "\n" for line in lines).encode()
    while data:
        n = os.write(1, data)
        data = data[n:]


def size(rng: random.Random, big: bool = True) -> int:
    x = rng.random()
    if x < 0.7 or not big:
        return rng.randint(10, 150)
    if x < 0.96:
        return rng.randint(150, 3000)
    return rng.randint(3000, 20000)


def headers(rng: random.Random) -> List[Tuple[str, str]]:
    if rng.random() < 0.5:
        return []
    return [(rng.choice(["a", "b", "a", "trace"]), "h" + str(rng.randrange(1000))) for _ in range(rng.randint(1, 3))]


def ensure(pond: logpond.Pond, name: str, **config: Any) -> None:
    if name not in pond.topics():
        pond.create_topic(name, **config)


class Worker:
    def __init__(self, cfg: Dict[str, Any]) -> None:
        self.cfg = cfg
        self.rng = random.Random(cfg["seed"])
        self.tag = cfg["tag"]
        self.seq = 0
        self.pond = logpond.open(cfg["dir"], durability=cfg.get("durability", "os"))

    def rec(self, sz: int, key: Optional[str] = None, hs: Any = (), tomb: bool = False) -> Any:
        self.seq += 1
        return R.make(self.tag, self.seq, sz, key, hs, tomb)

    def send_some(self, topic: str, n_max: int, keys: int = 100, partitions: int = 1, big: bool = True,
                  extra_headers: Any = None) -> List[Tuple[int, int, str]]:
        """send or send_many of random records; prints and returns the ACKs."""
        rng = self.rng
        many = rng.random() < 0.55
        n = rng.randint(1, n_max) if many else 1
        items = []
        for _ in range(n):
            key = None if rng.random() < 0.4 else f"k{rng.randrange(keys)}"
            part = rng.randrange(partitions) if key is None and rng.random() < 0.3 else None
            hs = headers(rng) + (extra_headers(rng) if extra_headers else [])
            items.append((self.rec(size(rng, big), key, hs), part))
        if many:
            mds = self.pond.send_many(topic, [
                {"key": k, "value": v, "headers": h, **({"partition": p} if p is not None else {})}
                for (k, v, h, _), p in items
            ])
        else:
            (k, v, h, _), p = items[0]
            mds = [self.pond.send(topic, v, key=k, headers=h, partition=p)]
        acks = [(m.partition, m.offset, ck) for m, ((_, _, _, ck), _) in zip(mds, items)]
        out(*(f"ACK {topic} {p} {o} {ck}" for p, o, ck in acks))
        return acks

    # --- families ---------------------------------------------------------

    def send(self) -> None:
        ensure(self.pond, "events", partitions=4)
        out("READY")
        fsync = self.cfg.get("durability") == "fsync"
        while True:
            self.send_some("events", 25, partitions=4)
            if not fsync and self.rng.random() < 0.02:
                self.pond.flush()

    def queue(self) -> None:
        rng, pond = self.rng, self.pond
        ensure(pond, "jobs", partitions=2)
        q = pond.queue("jobs", "workers", **QUEUE_SETTINGS)
        poison = lambda r: rng.random() < 0.08 and [("poison", "1")] or []  # noqa: E731
        out("READY")
        drain = self.cfg.get("mode") == "drain"
        held: List[logpond.Delivery] = []
        idle = 0
        while True:
            if not drain and rng.random() < 0.3:
                self.send_some("jobs", 5, partitions=2, big=False, extra_headers=poison)
            ds = q.receive(max_messages=rng.randint(1, 10), timeout=0.01 if not drain else 0.05)
            for d in ds:
                r = d.record
                ck = checked(r, "jobs", out)
                if ck is None:
                    continue
                out(f"DLV {r.partition} {r.offset} {d.delivery_count} {ck}")
                is_poison = any(n == "poison" for n, _ in r.headers)
                x = rng.random()
                if is_poison:
                    delay = 0.0 if drain or rng.random() < 0.5 else rng.uniform(0.001, 0.03)
                    d.nack(delay=delay)
                    out(f"NACK {r.partition} {r.offset}")
                elif drain or x < 0.5:
                    d.ack()
                    out(f"QACK {r.partition} {r.offset}")
                elif x < 0.7:
                    held.append(d)
                elif x < 0.85:
                    d.nack(delay=rng.choice([0.0, rng.uniform(0.001, 0.05)]))
                    out(f"NACK {r.partition} {r.offset}")
                # else: left in flight (its lease ends with the process)
            if held and (drain or rng.random() < 0.3):
                q.ack_many(held)
                out(*(f"QACK {d.record.partition} {d.record.offset}" for d in held))
                held = []
            if drain:
                idle = idle + 1 if not ds else 0
                if not held and q.backlog() == 0 and q.in_flight() == 0:
                    out(f"DONE backlog=0 parked={len(q.parked())}")
                    return
                if idle > 400:
                    out(f"DONE backlog={q.backlog()} in_flight={q.in_flight()} parked={len(q.parked())}")
                    return

    def group(self) -> None:
        rng, pond = self.rng, self.pond
        ensure(pond, "stream", partitions=3)
        cs = {
            g: pond.consumer(g, ["stream"], auto_offset_reset="earliest", auto_commit=False)
            for g in ("g1", "g2")
        }
        for g, c in cs.items():
            for p in range(3):
                com = c.committed("stream", p)
                out(f"START {g} {p} {'-' if com is None else com}")
        out("READY")
        nxt: Dict[Tuple[str, int], int] = {}
        while True:
            if rng.random() < 0.5:
                self.send_some("stream", 10, partitions=3)
            g = rng.choice(["g1", "g2"])
            c = cs[g]
            recs = c.poll(max_records=rng.randint(1, 200), timeout=0.0)
            lines = []
            for r in recs:
                ck = checked(r, "stream", lines.append)
                if ck is None:
                    continue
                lines.append(f"R {g} {r.partition} {r.offset} {ck}")
                nxt[(g, r.partition)] = r.offset + 1
            if lines:
                out(*lines)
            if rng.random() < 0.4:
                mine = {p: o for (gg, p), o in nxt.items() if gg == g}
                if not mine:
                    continue
                if g == "g1":
                    c.commit({("stream", p): o for p, o in mine.items()})
                    out(*(f"COMMIT {g} {p} {o}" for p, o in mine.items()))
                else:
                    c.commit()
                    out(*(f"COMMIT {g} {p} {c.position('stream', p)}" for p in mine))

    def compact(self) -> None:
        rng, pond = self.rng, self.pond
        ensure(pond, "kv", partitions=2, compact=True, segment_bytes=4096)
        ensure(pond, "ret", partitions=1, retention_records=300, segment_bytes=4096)
        ensure(pond, "retb", partitions=1, retention_bytes=20000, segment_bytes=4096)
        ensure(pond, "trim", partitions=1, segment_bytes=4096)
        out("READY")
        while True:
            x = rng.random()
            if x < 0.5:
                many = rng.random() < 0.5
                items = []
                for _ in range(rng.randint(1, 12) if many else 1):
                    key = f"k{rng.randrange(40)}"
                    items.append(self.rec(rng.randint(20, 600), key, headers(rng), tomb=rng.random() < 0.08))
                if many:
                    mds = pond.send_many("kv", [{"key": k, "value": v, "headers": h} for k, v, h, _ in items])
                else:
                    k, v, h, _ = items[0]
                    mds = [pond.send("kv", v, key=k, headers=h)]
                out(*(f"ACK kv {m.partition} {m.offset} {it[3]} {it[0]}" for m, it in zip(mds, items)))
            elif x < 0.7:
                self.send_some("ret", 10, big=False)
            elif x < 0.85:
                self.send_some("retb", 10, big=False)
            elif x < 0.97:
                self.send_some("trim", 6, big=False)
                if rng.random() < 0.15:
                    start, end = pond.offsets("trim", 0)
                    before = rng.randint(start, end)
                    pond.delete_records("trim", 0, before)
                    out(f"TRIM 0 {before}")
            else:
                pond.maintain()
                out("MAINTAIN")

    def topics(self) -> None:
        rng, pond = self.rng, self.pond
        names = [f"t{i}" for i in range(8)]
        subs = ["s0", "s1", "s2"]
        view: Dict[str, int] = {}
        sv: Dict[str, Set[str]] = {}
        for t in pond.topics():
            view[t] = len(pond.describe(t).partitions)
            sv[t] = set(pond.subscriptions(t))
        out("READY")
        while True:
            x = rng.random()
            t = rng.choice(names)
            try:
                if x < 0.25 and t not in view:
                    n = rng.randint(1, 3)
                    out(f"BEGIN tcreate {t} {n}")
                    pond.create_topic(t, partitions=n, segment_bytes=rng.choice([None, 1024, 8192]))
                    view[t], sv[t] = n, set()
                    out(f"TCREATE {t} {n}")
                elif x < 0.4 and t in view:
                    out(f"BEGIN tdelete {t}")
                    pond.delete_topic(t)
                    del view[t], sv[t]
                    out(f"TDELETE {t}")
                elif x < 0.75 and t in view:
                    out(f"BEGIN send {t}")
                    self.send_some(t, 4, partitions=view[t], big=False)
                elif x < 0.88 and t in view:
                    s = rng.choice(subs)
                    out(f"BEGIN screate {t} {s}")
                    q = pond.queue(t, s)
                    if rng.random() < 0.5:
                        for d in q.receive(max_messages=3):
                            d.ack()
                    q.close()
                    sv[t].add(s)
                    out(f"SCREATE {t} {s}")
                elif t in view and sv[t]:
                    s = rng.choice(sorted(sv[t]))
                    out(f"BEGIN sdelete {t} {s}")
                    pond.delete_subscription(t, s)
                    sv[t].discard(s)
                    out(f"SDELETE {t} {s}")
            except (logpond.TopicExists, logpond.TopicNotFound) as e:
                # This process is the pond's only user: its view is exact.
                out(f"MISMATCH {type(e).__name__} {t} {e}")
                view = {n: len(pond.describe(n).partitions) for n in pond.topics()}
                sv = {n: set(pond.subscriptions(n)) for n in view}


# --- shared: several processes on one pond at once ---------------------------------

SHARED_GROUP_TOPICS = ["s0", "s1"]
SHARED_NEW_TOPICS = 12  # names n0..n11, created by producers while others produce


class SharedWorker(Worker):
    """A role among several processes on one pond (see the `shared` family in
    docs/CRASH.md): `producer`, `coord` (consumer groups and the queue, once
    it claims the pond's coordinator) or `reader`."""

    def shared(self) -> None:
        getattr(self, "shared_" + self.cfg["role"])()

    def shared_producer(self) -> None:
        rng, pond = self.rng, self.pond
        parts: Dict[str, int] = {}

        def refresh() -> None:
            for t in pond.topics():
                if t not in parts and t != "jobs.dlq":
                    parts[t] = len(pond.describe(t).partitions)

        refresh()
        # Topic r rolls at almost every batch: a writer killed mid-roll is the
        # hard case. With fsync a writer spends most of its time in there.
        r_share = 0.6 if self.cfg.get("durability") == "fsync" else 0.2
        out("READY")
        while True:
            x = rng.random()
            if x < 0.02:
                name = f"n{rng.randrange(SHARED_NEW_TOPICS)}"
                if name not in parts:
                    n = rng.randint(1, 3)
                    out(f"BEGIN tcreate {name} {n}")
                    try:
                        seg = rng.choice([None, 2048, 8192]) if self.cfg.get("rolls", True) else None
                        pond.create_topic(name, partitions=n, segment_bytes=seg)
                        out(f"TCREATE {name} {n}")
                    except logpond.TopicExists:
                        out(f"TEXISTS {name}")
                    refresh()
            elif x < 0.06:
                refresh()
            else:
                names = sorted(parts)
                x = rng.random()
                t = "r" if x < r_share else rng.choice(["s0", "s1", "jobs"] + names) if x < 0.8 else rng.choice(names)
                self.send_some(t, 25, partitions=parts[t], big=rng.random() < 0.2)

    def shared_roller(self) -> None:
        """Records of about a segment each to topic r: nearly every send rolls
        it (a new segment file), so a kill often lands mid-roll."""
        rng, pond = self.rng, self.pond
        out("READY")
        while True:
            r = self.rec(rng.randint(700, 1500), None if rng.random() < 0.5 else f"k{rng.randrange(100)}")
            k, v, h, ck = r
            md = pond.send("r", v, key=k, headers=h)
            out(f"ACK r {md.partition} {md.offset} {ck}")

    def shared_consumer(self) -> None:
        """A member of groups g1 (explicit commits) and g2 (`commit()`) over s0
        and s1, and a worker of queue jobs/workers, beside the same in other
        processes. Lines carry CLOCK_MONOTONIC times (ns), comparable across
        processes (Node's process.hrtime is the same clock)."""
        rng, pond = self.rng, self.pond
        now = time.monotonic_ns
        out("READY")
        cs = {g: pond.consumer(g, SHARED_GROUP_TOPICS, auto_offset_reset="earliest", auto_commit=False)
              for g in ("g1", "g2")}
        q = pond.queue("jobs", "workers", **QUEUE_SETTINGS)
        out(f"JOINED {now()}")
        seen: Dict[str, Any] = {}
        holds: Dict[str, Dict[Tuple[int, str, int], List[int]]] = {}  # group -> (gen, t, p) -> [from, to] ns
        said: Dict[str, int] = {}
        nxt: Dict[Tuple[str, str, int], int] = {}
        held: List[logpond.Delivery] = []

        def settle(ds: List[logpond.Delivery], many: bool) -> None:
            try:
                if many:
                    q.ack_many(ds)
                else:
                    ds[0].ack()
            except logpond.LeaseExpired as e:
                items = " ".join(f"{d.record.partition}:{d.record.offset}:{d.delivery_count}" for d in ds)
                out(f"LFAIL {now()} {items} -- {str(e).splitlines()[0]}")
                return
            t = now()
            out(*(f"QACK {d.record.partition} {d.record.offset} {d.delivery_count} {t}" for d in ds))

        while True:
            if rng.random() < 0.6:
                g = rng.choice(["g1", "g2"])
                c = cs[g]
                recs = c.poll(max_records=rng.randint(1, 200), timeout=rng.choice([0.0, 0.0, 0.02, 0.1]))
                for _ in range(5):  # the generation before and after: no rebalance in between
                    gen = c.generation
                    t_a = now()
                    mine = sorted(c.assignment())
                    t_b = now()
                    if c.generation == gen:
                        break
                else:
                    gen = -1  # (not checked)
                if gen >= 0:
                    # Within one generation a member holds a partition over one stretch of time (it
                    # gives it up once, at a poll, when the assignment names another member): it held
                    # it from the end of the first assignment() that listed it to the start of the last.
                    hold = holds.setdefault(g, {})
                    for k in [k for k in hold if k[0] != gen or (k[1], k[2]) not in mine]:
                        del hold[k]
                    for t, p in mine:
                        hold.setdefault((gen, t, p), [t_b, t_b])[1] = t_a
                    if t_b - said.get(g, 0) > 200_000_000 or seen.get(g) != (gen, mine):
                        said[g] = t_b
                        out(*(f"HELD {g} {k[0]} {k[1]} {k[2]} {v[0]} {v[1]}" for k, v in hold.items() if v[1] > v[0]))
                view = (gen, mine)
                if seen.get(g) != view:  # a rebalance: positions of what stays go on; forget the rest
                    seen[g] = view
                    for k in [k for k in nxt if k[0] == g]:
                        del nxt[k]
                    out(f"ASSIGN {g} {gen} {now()} " + (",".join(f"{t}:{p}" for t, p in mine) or "-"))
                lines = []
                for r in recs:
                    ck = checked(r, r.topic, lines.append)
                    if ck is None:
                        continue
                    lines.append(f"R {g} {r.topic} {r.partition} {r.offset} {ck}")
                    nxt[(g, r.topic, r.partition)] = r.offset + 1
                if lines:
                    out(*lines)
                if rng.random() < 0.4:
                    mine_now = set(c.assignment())
                    offs = {(t, p): o for (gg, t, p), o in nxt.items() if gg == g and (t, p) in mine_now}
                    if offs:
                        try:
                            if g == "g1":
                                c.commit(dict(offs))
                                out(*(f"COMMIT {g} {t} {p} {o}" for (t, p), o in offs.items()))
                            else:  # commit() commits the positions (a partition it lets go is not reported)
                                pos = {(t, p): c.position(t, p) for (t, p) in offs}
                                c.commit()
                                kept = set(c.assignment())
                                out(*(f"COMMIT {g} {t} {p} {o}" for (t, p), o in pos.items() if (t, p) in kept))
                        except (logpond.CommitFailed, logpond.InvalidArgument) as e:
                            # A rebalance (by another process, between two calls) took a partition away.
                            out(f"CFAIL {g} {str(e).splitlines()[0]}")
                continue
            t0 = now()  # a lease granted by this receive starts after t0
            ds = q.receive(max_messages=rng.randint(1, 10), timeout=rng.choice([0.0, 0.02]))
            t = now()
            for d in ds:
                r = d.record
                ck = checked(r, "jobs", out)
                if ck is None:
                    continue
                out(f"DLV {r.partition} {r.offset} {d.delivery_count} {ck} {t} {t0}")
                x = rng.random()
                if x < 0.55:
                    settle([d], False)
                elif x < 0.75:
                    held.append(d)
                elif x < 0.9:
                    try:
                        d.nack(delay=rng.choice([0.0, rng.uniform(0.001, 0.05)]))
                        out(f"NACK {r.partition} {r.offset} {d.delivery_count}")
                    except logpond.LeaseExpired as e:
                        out(f"LFAIL {now()} {r.partition}:{r.offset}:{d.delivery_count} -- {str(e).splitlines()[0]}")
                # else: left in flight (its lease ends with the process, or by ack_timeout)
            if held and rng.random() < 0.3:
                settle(held, True)
                held = []

    def shared_reader(self) -> None:
        rng, pond = self.rng, self.pond
        parts: Dict[str, int] = {}
        nxt: Dict[Tuple[str, int], int] = {}
        out("READY")
        while True:
            progressed = False
            for t in pond.topics():
                if t not in parts:
                    parts[t] = len(pond.describe(t).partitions)
                for p in range(parts[t]):
                    if (t, p) not in nxt:  # a fresh reader starts anywhere
                        start, end = pond.offsets(t, p)
                        nxt[(t, p)] = rng.randint(start, end)
                    o = nxt[(t, p)]
                    recs = pond.read(t, p, o, max_records=rng.randint(1, 500))
                    cks = []
                    for r in recs:
                        if r.offset != o:
                            out(f"ORDER {t} {p} {r.offset} expected {o}")
                        try:
                            cks.append(R.check_record(r))
                        except R.Corrupt as e:
                            out(f"BADREC {t} {p} {r.offset} {e}")
                            cks.append("?")
                        o = r.offset + 1
                    if recs:
                        out(f"RB {t} {p} {recs[0].offset} {' '.join(cks)}")
                        nxt[(t, p)] = o
                        progressed = True
            if not progressed:
                time.sleep(0.005)


def orphan_guard() -> None:
    """Exits when the driver is gone (a worker never outlives it)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.2)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main() -> None:
    orphan_guard()
    cfg = json.loads(sys.argv[1])
    w = SharedWorker(cfg) if cfg["family"] == "shared" else Worker(cfg)
    getattr(w, cfg["family"])()
    w.pond.close()


if __name__ == "__main__":
    main()
