"""Looking at a consumer group without joining it (API "Looking without
joining"): its members, their partitions, committed offsets and lag."""

from __future__ import annotations

import pathlib

import logpond


def test_describe_group_from_a_read_only_handle(pond_dir: pathlib.Path) -> None:
    with logpond.open(pond_dir) as pond:
        pond.create_topic("orders", partitions=2)
        for i in range(20):
            pond.send("orders", str(i), partition=i % 2)
        with pond.consumer("billing", "orders", auto_offset_reset="earliest", auto_commit=False) as c:
            got = c.poll(max_records=5)
            c.commit()
            with logpond.open(pond_dir, read_only=True) as looker:
                assert looker.groups() == ["billing"]
                info = looker.describe_group("billing")
                assert info.group == "billing"
                assert info.generation == c.generation
                assert [m.member_id for m in info.members] == [c.member_id]
                assert sorted(info.members[0].assignment) == [("orders", 0), ("orders", 1)]
                assert sum(o.lag for o in info.offsets.values()) == 20 - len(got)
                assert all(o.end == 10 and o.consumer == c.member_id for o in info.offsets.values())
                assert isinstance(info.offsets[("orders", 0)], logpond.OffsetInfo)
            assert c.generation == info.generation  # looking did not rebalance
        assert pond.describe_group("nobody").members == []
