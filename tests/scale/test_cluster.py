"""The data space's NATS past one machine, on loopback, from the configs
``tsunagu authority nats-config`` writes (bench/cluster.py runs the same scenarios at
100,000 records): a 3-node cluster loses its stream leader mid-stream, and a municipality's
leaf node loses its uplink while both sides publish. Nothing may be lost, and nothing whose
acknowledgement the server confirmed may come again."""

from __future__ import annotations

from pathlib import Path

from bench.cluster import cluster_scenario, leaf_scenario

RECORDS = 3000


async def test_r3_stream_survives_its_leader_killed_mid_stream(tmp_path: Path):
    result = await cluster_scenario(tmp_path, RECORDS, downtime=1.0, timeout=60.0)
    assert result["killed"] in {"n1", "n2", "n3"}
    assert 0 < result["acked_at_kill"] < RECORDS  # the kill fell mid-stream
    assert result["publish"]["retries"] > 0  # ... and the publisher felt it
    assert result["publish"]["acked"] == RECORDS
    assert result["stream_messages"] == RECORDS  # a retried publish is never stored twice
    assert result["received_distinct"] == RECORDS and result["missing"] == 0
    assert result["redelivered_after_confirmed_ack"] == 0
    # (cluster_scenario also waited for the restarted node's replica to be current)


async def test_leaf_keeps_working_cut_off_and_the_hub_catches_up_once(tmp_path: Path):
    result = await leaf_scenario(tmp_path, RECORDS, cut_at_least=1.5, timeout=60.0)
    half = RECORDS // 2
    # the cut was real: the hub's mirror held only the record sent before it
    assert result["mirror_messages_while_cut"] == 1
    assert result["publish"]["leaf"]["acked"] == half - 1  # the leaf took them, cut off
    assert result["publish"]["hub"]["acked"] == RECORDS - half
    for side in ("leaf_local", "hub_from_leaf", "hub_own"):
        figures = result[side]
        assert figures["missing"] == 0, side
        assert figures["received_distinct"] == figures["records"], side
        assert figures["redelivered_after_confirmed_ack"] == 0, side
