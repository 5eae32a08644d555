"""The pure part of handing lost deliveries back (connector/data/lost_deliveries.py); the
real-server behaviour is tests/isolation/test_grant_stall.py."""

from __future__ import annotations

from types import SimpleNamespace

from connector.data.lost_deliveries import MOST_PER_CHECK, DeliveryGaps, Pending, nak_subjects


def info(floor: tuple[int, int], delivered: tuple[int, int], pending: int) -> SimpleNamespace:
    seq = lambda s, d: SimpleNamespace(stream_seq=s, consumer_seq=d)  # noqa: E731
    return SimpleNamespace(ack_floor=seq(*floor), delivered=seq(*delivered),
                           num_ack_pending=pending)


def test_every_sequence_above_the_ack_floor_is_nakked_with_the_last_delivery() -> None:
    subjects = nak_subjects("DS_x", "AG_y", Pending.of(info((7, 9), (10, 12), 3)))
    assert subjects == [f"$JS.ACK.DS_x.AG_y.1.{s}.12.0.0" for s in (8, 9, 10)]


def test_nothing_pending_nothing_nakked() -> None:
    assert nak_subjects("S", "D", Pending.of(info((10, 12), (10, 12), 0))) == []
    assert nak_subjects("S", "D", Pending.of(info((0, 0), (0, 0), 0))) == []


def test_a_snapshot_and_the_cap_bound_the_range() -> None:
    pending = Pending.of(info((0, 0), (50_000, 50_000), 1024))
    assert len(nak_subjects("S", "D", pending)) == MOST_PER_CHECK
    assert [s.split(".")[5] for s in nak_subjects("S", "D", pending, upto=3)] == ["1", "2", "3"]


def test_a_skipped_delivery_sequence_is_noticed_once() -> None:
    gaps = DeliveryGaps()
    assert not gaps.skipped([1, 2, 3])
    assert not gaps.skipped([4])
    assert gaps.skipped([6, 7])  # 5 went elsewhere
    assert not gaps.skipped([8])
    assert not gaps.skipped([])
