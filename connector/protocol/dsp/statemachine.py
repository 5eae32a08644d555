"""The generic part of the DSP state machines: roles, transition tables, process records.

Negotiation and transfer differ only in their tables and record fields, so both are built
from the pieces here. Everything is pure: a transition takes a record and a message and
returns a new record, or raises ``ProtocolError``; nothing is stored or sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from connector.errors import ConnectorCode
from trust.errors import TsunaguError


class Role(StrEnum):
    """The side of a process; the spec's diagrams mark transitions ``C`` and ``P``."""

    CONSUMER = "consumer"
    PROVIDER = "provider"


CONSUMER = frozenset({Role.CONSUMER})
PROVIDER = frozenset({Role.PROVIDER})
EITHER = frozenset(Role)

# The source "state" of a message that opens a new process (the diagrams' [*]).
INITIAL = None


class ProtocolError(TsunaguError):
    """A message that the DSP state machine does not allow here (or that names another process).

    The DSP HTTPS binding answers an invalid transition with 400 and a ...Error body; the
    connector maps this error the same way on NATS.
    """

    code = ConnectorCode.DSP_INVALID_TRANSITION


S = TypeVar("S", bound=StrEnum)


@dataclass(frozen=True)
class Transition(Generic[S]):
    """One row of a table: ``message`` sent by one of ``senders`` in any of ``sources``."""

    message: str
    senders: frozenset[Role]
    sources: tuple[S | None, ...]
    target: S


class StateMachine(Generic[S]):
    """A transition table indexed by (state, message, sender)."""

    def __init__(self, process: str, transitions: Iterable[Transition[S]],
                 terminal: Iterable[S]) -> None:
        self.process = process
        self.transitions = tuple(transitions)
        self.terminal = frozenset(terminal)
        self._table: dict[tuple[S | None, str, Role], S] = {}
        for row in self.transitions:
            for source in row.sources:
                if source in self.terminal:
                    raise ValueError(f"{process}: terminal state {source} cannot have transitions")
                for sender in row.senders:
                    key = (source, row.message, sender)
                    if self._table.setdefault(key, row.target) != row.target:
                        raise ValueError(f"{process}: ambiguous transition {key}")

    def edges(self) -> list[tuple[S | None, str, Role, S]]:
        """Every allowed (state, message, sender, next state), for tests and documentation."""
        return [(*key, target) for key, target in self._table.items()]

    def next_state(self, state: S | None, message: str, sender: Role | str) -> S:
        sender = Role(sender)
        target = self._table.get((state, message, sender))
        if target is None:
            raise ProtocolError(self._refusal(state, message, sender),
                                message_type=message, state=_name(state), role=str(sender))
        return target

    def _refusal(self, state: S | None, message: str, sender: Role) -> str:
        head = f"{message} sent by the {sender} is not allowed"
        if state is INITIAL:
            return f"{head} to start a {self.process}"
        if state in self.terminal:
            return f"{head}: the {self.process} is in terminal state {state}"
        allowed = sorted(f"{m} by the {r}" for (s, m, r) in self._table if s == state)
        return f"{head} in {self.process} state {state} (allowed: {', '.join(allowed)})"


def _name(state: StrEnum | None) -> str:
    return "none" if state is None else str(state)


@dataclass(frozen=True, kw_only=True)
class Process(Generic[S]):
    """What both kinds of DSP process record: who we are, whom we talk to, where we stand."""

    role: Role  # our side of the process
    state: S
    consumer_pid: str
    provider_pid: str | None = None  # unknown to a consumer until the provider's first reply
    counterparty: str | None = None  # the other participant's DID
    callback_address: str | None = None
    created_at: datetime
    updated_at: datetime


# Once set, these never change: a message naming other values belongs to another process.
_IDENTITY = ("role", "consumer_pid", "provider_pid", "counterparty")

P = TypeVar("P", bound=Process[Any])


def advance(machine: StateMachine[S], record_type: type[P], current: P | None, message: str,
            sender: Role | str, at: datetime | None, updates: Mapping[str, Any]) -> P:
    """The next record after ``message`` from ``sender``; ``None`` values in updates are ignored."""
    state = machine.next_state(current.state if current else INITIAL, message, sender)
    at = at or datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    known = {f.name for f in fields(record_type)}
    given = {k: v for k, v in updates.items() if v is not None}
    if unknown := sorted(set(given) - known):
        raise TypeError(f"{record_type.__name__} has no field(s) {', '.join(unknown)}")
    if current is None:
        missing = [k for k in ("role", "consumer_pid") if k not in given]
        if missing:
            raise ValueError(f"a new {machine.process} needs {' and '.join(missing)}")
        return record_type(state=state, created_at=at, updated_at=at, **given)
    for key in _IDENTITY:
        old, new = getattr(current, key), given.get(key)
        if old is not None and new is not None and new != old:
            raise ProtocolError(
                f"{message} names {key} {new}, but this {machine.process} has {old}",
                code=ConnectorCode.DSP_PROCESS_MISMATCH, field=key)
    return replace(current, state=state, updated_at=at, **given)


def pick(message: Mapping[str, Any], paths: Mapping[str, tuple[str, ...]]) -> dict[str, Any]:
    """Record fields taken from a DSP message by JSON path, e.g. ``offer_id: ("offer", "@id")``."""
    out: dict[str, Any] = {}
    for name, path in paths.items():
        value: Any = message
        for step in path:
            value = value.get(step) if isinstance(value, Mapping) else None
        if isinstance(value, str):
            out[name] = value
    return out
