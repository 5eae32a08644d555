"""Deliveries lost on the way to a consumer, handed back at once instead of after ack_wait.

Why: when nats-server applies a new JWT of the provider's account (onboarding or revoking any
participant pushes every account; a grant to a participant that is itself a provider pushes
its account), it rebuilds that account's exports and, with them, the response routes of the
pull requests waiting at that moment. Messages JetStream hands to such a request arrive
nowhere; the server counts them as delivered and would redeliver them only after the
durable's ``ack_wait`` (10 s, ``connector.data.transfers``). Measured: every push of the
provider's account while a consumer's 0.5 s long pull waited held the next record back
10.0 s (tests/isolation/test_grant_stall.py).

How: a transfer's pull loop is the only reader of its durable and handles one batch at a
time (fetch, store, ack confirmed). Whenever it holds nothing (its fetch expired, or it has
acked a batch whose delivery sequence did not follow the previous one: a delivery between
them went elsewhere), every message the server still counts as pending was lost. It asks the
consumer info and NAKs each such stream sequence; the server redelivers them to the next
pull. The pause is then bounded by one fetch expiry (0.5 s) and two round trips. A NAK of a
message that was not lost only causes a redelivery, which the consumer's store ignores
(unique record id and version): exactly once at the app still holds.

The NAK goes to the ack subject the server itself would use (``$JS.ACK.<stream>.<durable>.
<deliveries>.<stream seq>.<delivery seq>.<ts>.<pending>``). The server looks a NAK up by
stream sequence among its pending messages and only checks that the delivery sequence lies
between the ack floor and the last delivery, so the last delivery sequence serves for all.
The grant's import of ``$JS.ACK.<stream>.<durable>.>`` already permits these subjects.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

NAK = b"-NAK"
MOST_PER_CHECK = 4096  # > max_ack_pending (1024): a check never NAKs an unbounded range


@dataclass(frozen=True, slots=True)
class Pending:
    """What the consumer info says was delivered and not acked."""

    ack_floor_stream: int
    ack_floor_delivery: int
    delivered_stream: int
    delivered_delivery: int
    count: int

    @classmethod
    def of(cls, info: Any) -> Pending:
        floor, last = info.ack_floor, info.delivered
        return cls(ack_floor_stream=int(getattr(floor, "stream_seq", 0) or 0),
                   ack_floor_delivery=int(getattr(floor, "consumer_seq", 0) or 0),
                   delivered_stream=int(getattr(last, "stream_seq", 0) or 0),
                   delivered_delivery=int(getattr(last, "consumer_seq", 0) or 0),
                   count=int(info.num_ack_pending or 0))


def nak_subjects(stream: str, durable: str, pending: Pending,
                 upto: int | None = None) -> list[str]:
    """The NAK subjects for every message pending above the ack floor (up to stream sequence
    ``upto``: a snapshot leaves later ones unacked on purpose), when the caller holds none of
    them (the server ignores sequences that are not pending)."""
    if pending.count <= 0 or pending.delivered_delivery <= pending.ack_floor_delivery:
        return []
    first = pending.ack_floor_stream + 1
    last = min(pending.delivered_stream, pending.ack_floor_stream + MOST_PER_CHECK)
    if upto is not None:
        last = min(last, upto)
    dseq = pending.delivered_delivery
    return [f"$JS.ACK.{stream}.{durable}.1.{sseq}.{dseq}.0.0" for sseq in range(first, last + 1)]


class DeliveryGaps:
    """Sans-I/O: notices a delivery sequence that skipped one, i.e. a delivery this reader
    never got (it is the durable's only reader)."""

    def __init__(self) -> None:
        self.last: int | None = None

    def skipped(self, delivery_sequences: Iterable[int]) -> bool:
        gap = False
        for seq in delivery_sequences:
            if self.last is not None and seq > self.last + 1:
                gap = True
            self.last = seq if self.last is None else max(self.last, seq)
        return gap


async def hand_back(nc: Any, sub: Any, stream: str, durable: str,
                    upto: int | None = None) -> int:
    """NAK every message the server counts as pending for this durable; call only while
    holding none of its messages. Returns how many NAKs were sent."""
    subjects = nak_subjects(stream, durable, Pending.of(await sub.consumer_info()), upto)
    for subject in subjects:
        await nc.publish(subject, NAK)
    if subjects:
        await nc.flush()
    return len(subjects)
