"""Runtimes at the same time on one pond: a Node process tails a topic
through a consumer group while this Python process writes it, each record
reaching Node as it is sent (no turn-taking, no PondLocked)."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import threading
import time

import logpond

HERE = os.path.dirname(os.path.abspath(__file__))


def test_node_tails_live_what_python_sends(tmp_path) -> None:
    path = str(tmp_path / "pond")
    with logpond.open(path) as pond:
        pond.create_topic("live")
        tail = subprocess.Popen(
            ["node", os.path.join(HERE, "node_tail.mjs"), path, "40"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            lines: queue.Queue[str] = queue.Queue()
            threading.Thread(target=lambda: [lines.put(line) for line in tail.stdout], daemon=True).start()
            assert json.loads(lines.get(timeout=60)) == {"ready": True}
            sent = []
            for batch in range(8):
                values = [f"record {batch * 5 + i}" for i in range(5)]
                pond.send_many("live", values)
                sent.extend(values)
                time.sleep(0.05)
            assert tail.wait(timeout=90) == 0, tail.stderr.read() if tail.stderr else ""
            got = json.loads(lines.get(timeout=10))
            assert got["values"] == sent
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.wait(timeout=10)
