"""--shard i/N slices the plan; tickets rebuild the same run in another process."""

from __future__ import annotations

import pytest

from dabench.errors import DabenchError
from dabench.runs.plan import from_ticket, parse_shard, plan_entries, shard
from dabench.tasks.catalog import load_catalog


def test_shards_partition_the_plan():
    entries = plan_entries(load_catalog(), ["digits"], [], [0, 1, 2], {"steps": 7})
    assert len(entries) == 12  # 2 tasks x 2 default methods x 3 seeds
    slices = [shard(entries, i, 5) for i in range(5)]
    ids = [e.cfg.run_id() for s in slices for e in s]
    assert sorted(ids) == sorted(e.cfg.run_id() for e in entries)  # each run in exactly one
    assert [len(s) for s in slices] == [3, 3, 2, 2, 2]
    assert shard(entries, 1, 5)[0] is entries[1] and shard(entries, 1, 5)[1] is entries[6]


@pytest.mark.parametrize("text", ["3", "3/3", "-1/4", "a/b", "1/0", ""])
def test_bad_shard_is_one_clear_error(text):
    with pytest.raises(DabenchError, match="must be i/N"):
        parse_shard(text)


def test_ticket_round_trip_and_drift():
    catalog = load_catalog()
    entry = plan_entries(catalog, ["mnist-to-mnistm"], ["revgrad"], [4],
                         {"steps": 9, "optim.lr": 0.002})[0]
    again = from_ticket(catalog, entry.ticket())
    assert again.cfg.run_id() == entry.cfg.run_id() and again.cfg.optim.lr == 0.002
    drifted = {**entry.ticket(), "overrides": {"steps": 10}}
    with pytest.raises(DabenchError, match="plan it again"):
        from_ticket(catalog, drifted)
