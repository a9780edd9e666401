"""A pond shared by threads: sends add up, reads run alongside, no deadlock."""

from __future__ import annotations

import pathlib
import threading

import pytest

import logpond


@pytest.mark.parametrize("storage", ["memory", "file"])
def test_concurrent_producers(storage: str, tmp_path: pathlib.Path) -> None:
    pond = logpond.memory() if storage == "memory" else logpond.open(tmp_path / "p")
    threads_n, per_thread = 8, 500
    with pond:
        pond.create_topic("t", partitions=3)
        errors: list[BaseException] = []
        start = threading.Barrier(threads_n + 2)  # the producers, the reader and this thread

        def produce(n: int) -> None:
            try:
                start.wait()
                for i in range(per_thread):
                    if i % 10 == 0:
                        pond.send_many("t", [{"key": f"{n}", "value": f"{n}:{i}:{j}"} for j in range(10)])
                    else:
                        pond.send("t", f"{n}:{i}", key=f"{n}")
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)

        def read_along() -> None:
            try:
                start.wait()
                for _ in range(50):
                    for p in range(3):
                        pond.read("t", p, pond.offsets("t", p)[0], max_records=100)
            except BaseException as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=produce, args=(n,)) for n in range(threads_n)]
        reader = threading.Thread(target=read_along)
        for t in [*threads, reader]:
            t.start()
        start.wait()
        for t in [*threads, reader]:
            t.join(timeout=60)
            assert not t.is_alive(), "a thread is stuck"
        assert errors == []

        expected = threads_n * (per_thread - per_thread // 10 + per_thread // 10 * 10)
        info = pond.describe("t")
        assert sum(p.end_offset for p in info.partitions) == expected
        seen: dict[str, list[bytes]] = {}
        for p in info.partitions:
            off = 0
            while True:
                rs = pond.read("t", p.partition, off, max_records=1000)
                if not rs:
                    break
                for r in rs:
                    assert r.key is not None and r.value is not None
                    seen.setdefault(r.key.decode(), []).append(r.value)
                off = rs[-1].offset + 1
        assert sum(len(v) for v in seen.values()) == expected
        # one key, one partition: each producer's records stay in its order
        for n, values in seen.items():
            order = [int(v.decode().split(":")[1]) for v in values]
            assert order == sorted(order), n


def test_close_while_other_threads_send() -> None:
    pond = logpond.memory()
    pond.create_topic("t")
    stop = threading.Event()
    outcomes: list[str] = []

    def produce() -> None:
        while not stop.is_set():
            try:
                pond.send("t", b"v")
            except logpond.Closed:
                outcomes.append("closed")
                return
        outcomes.append("stopped")

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for t in threads:
        t.start()
    while pond.offsets("t")[1] < 100:
        pass
    pond.close()
    stop.set()
    for t in threads:
        t.join(timeout=30)
        assert not t.is_alive()
    assert outcomes.count("closed") + outcomes.count("stopped") == 4
