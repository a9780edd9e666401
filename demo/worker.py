"""One queue worker of `make demo`: competes with the others for the
'fulfilment' subscription of 'orders', acking what it fulfils and nacking
what it cannot (the poison order), until <stop file> appears. With --crash
it takes a batch and then waits, holding its leases, to be killed.

`python worker.py <pond dir> <name> <stop file> [--crash]`
"""

from __future__ import annotations

import json
import os
import sys
import time

import logpond

path, name, stop = sys.argv[1:4]
crash = "--crash" in sys.argv


def say(**fields: object) -> None:
    print(json.dumps({"worker": name, **fields}), flush=True)


with logpond.open(path) as pond:
    queue = pond.queue("orders", "fulfilment", ack_timeout=30.0, max_deliveries=3, dead_letter_topic="orders.dlq",
                       max_in_flight=10)
    say(ready=True)
    if crash:
        held: list = []
        while len(held) < 5:
            held += queue.receive(max_messages=5 - len(held), timeout=10.0)
        say(holding=[[d.record.partition, d.record.offset] for d in held])
        time.sleep(600)  # killed here (SIGKILL), its leases still held
    while not os.path.exists(stop):
        for d in queue.receive(max_messages=5, timeout=0.1):
            order = json.loads(d.record.value)
            place = [d.record.partition, d.record.offset]
            if not isinstance(order["total"], int):
                d.nack()  # cannot process it: give it back
                say(nacked=order["order"], place=place, count=d.delivery_count)
                continue
            d.ack()
            say(acked=order["order"], place=place, count=d.delivery_count)
