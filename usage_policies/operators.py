"""ODRL operators over typed values.

Values of different families (a number against a date, a string against a duration) are
not comparable: that is an error, and errors deny. Set operators take the right operand as a
set; a single-valued left operand counts as a one-element set.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from usage_policies.datatypes import (
    Duration,
    ElapsedTime,
    Iri,
    compare_durations,
    day_bounds,
    is_non_finite,
    kind_of,
    to_json,
)
from usage_policies.errors import DatatypeError, PolicyCode, PolicyError
from usage_policies.vocab import ODRL

SCALAR = ("eq", "neq", "gt", "gteq", "lt", "lteq")
SET = ("isAnyOf", "isAllOf", "isNoneOf")
RELATION = ("isA", "isPartOf", "hasPart")
NAMES = SCALAR + SET + RELATION

# Operator IRI -> short name. odrl:neg appears for neq in older W3C ODRL contexts.
OPERATOR_IRIS = {ODRL + name: name for name in NAMES} | {ODRL + "neg": "neq"}


class Incomparable(PolicyError):
    code = PolicyCode.INCOMPARABLE


class Relations(Protocol):
    """Hierarchies behind isA / isPartOf / hasPart (equality is always included)."""

    def part_of(self, part: Any, whole: Any) -> bool: ...

    def is_a(self, instance: Any, cls: Any) -> bool: ...


class NoRelations:
    def part_of(self, part: Any, whole: Any) -> bool:
        return False

    def is_a(self, instance: Any, cls: Any) -> bool:
        return False


NO_RELATIONS = NoRelations()


def _incomparable(op: str, left: Any, right: Any) -> Incomparable:
    return Incomparable(
        f"cannot apply {op} to {kind_of(left)} {to_json(left)!r} and "
        f"{kind_of(right)} {to_json(right)!r}",
        operator=op)


def _not_finite(op: str, left: Any, right: Any) -> DatatypeError:
    bad = left if is_non_finite(left) else right
    return DatatypeError(f"cannot apply {op} to {to_json(left)!r} and {to_json(right)!r}: "
                         f"{bad!r} is not a valid value (NaN and infinities are not allowed)",
                         code=PolicyCode.DATATYPE, operator=op)


def _order(op: str, left: Any, right: Any) -> int:
    """Total comparison -1/0/1 where the families allow it; raise otherwise."""
    lk, rk = kind_of(left), kind_of(right)
    if lk == rk and lk in ("number", "string", "date", "dateTime"):
        if lk == "number" and (is_non_finite(left) or is_non_finite(right)):
            raise _not_finite(op, left, right)
        return (left > right) - (left < right)
    if lk == rk == "boolean" and op in ("eq", "neq"):
        return 0 if left == right else 1
    if lk == rk == "duration":
        if isinstance(left, ElapsedTime) and isinstance(right, Duration):
            return left.compare(right)
        if isinstance(right, ElapsedTime) and isinstance(left, Duration):
            return -right.compare(left)
        if isinstance(left, Duration) and isinstance(right, Duration):
            result = compare_durations(left, right)
            if result is not None:
                return result
    raise _incomparable(op, left, right)


def _instant_vs_day(op: str, instant: datetime, day: date, instant_on_left: bool) -> bool:
    """A dateTime against a timezone-less date: the date is the whole day (Japan time)."""
    start, end = day_bounds(day)
    if not instant_on_left:  # day OP instant  <=>  instant MIRROR(OP) day
        op = {"gt": "lt", "gteq": "lteq", "lt": "gt", "lteq": "gteq"}.get(op, op)
    if op == "eq":
        return start <= instant < end
    if op == "neq":
        return not start <= instant < end
    if op == "lt":
        return instant < start
    if op == "lteq":
        return instant < end
    if op == "gt":
        return instant >= end
    return instant >= start  # gteq


def _mixed_time(left: Any, right: Any) -> bool:
    return (isinstance(left, datetime) and type(right) is date) or (
        type(left) is date and isinstance(right, datetime))


_FAST_TYPES = frozenset({str, Iri, int, float, Decimal, date, datetime})
_STRINGS = frozenset({str, Iri})
_INEXACT = frozenset({float, Decimal})


def scalar(op: str, left: Any, right: Any) -> bool:
    tl, tr = type(left), type(right)
    if tl in _FAST_TYPES and (tl is tr or (tl in _STRINGS and tr in _STRINGS)):
        # Hot path: same family, totally ordered; no conversions needed. NaN is unordered
        # (every comparison false, so the difference would say "equal"): reject it.
        if tl in _INEXACT and (is_non_finite(left) or is_non_finite(right)):
            raise _not_finite(op, left, right)
        c = (left > right) - (left < right)
        return _RESULT[op](c)
    if isinstance(left, (list, tuple, frozenset)) or isinstance(right, (list, tuple, frozenset)):
        raise Incomparable(f"{op} compares single values; use isAnyOf, isAllOf or isNoneOf "
                           "for sets", operator=op)
    if _mixed_time(left, right):
        if isinstance(left, datetime):
            return _instant_vs_day(op, left, right, True)
        return _instant_vs_day(op, right, left, False)
    return _RESULT[op](_order(op, left, right))


_RESULT = {"eq": lambda c: c == 0, "neq": lambda c: c != 0, "gt": lambda c: c > 0,
           "gteq": lambda c: c >= 0, "lt": lambda c: c < 0, "lteq": lambda c: c <= 0}


def _as_set(value: Any) -> tuple[Any, ...]:
    if isinstance(value, (list, tuple, frozenset, set)):
        return tuple(value)
    return (value,)


def _member(value: Any, values: tuple[Any, ...], op: str) -> bool:
    return any(scalar("eq", value, r) for r in values)


def _relation(op: str, left: Any, right: Any, relations: Relations) -> bool:
    if isinstance(left, (list, tuple, frozenset)) or isinstance(right, (list, tuple, frozenset)):
        raise Incomparable(f"{op} relates single values", operator=op)
    if op == "hasPart":
        return _relation("isPartOf", right, left, relations)
    lk, rk = kind_of(left), kind_of(right)
    if op == "isPartOf" and isinstance(left, datetime) and type(right) is date:
        return _instant_vs_day("eq", left, right, True)
    if lk == rk == "string" or (op == "isPartOf" and lk == rk == "date"):
        if left == right:
            return True
        if lk == "date":
            return False
        return relations.part_of(left, right) if op == "isPartOf" else relations.is_a(left, right)
    raise _incomparable(op, left, right)


def apply(op: str, left: Any, right: Any, relations: Relations = NO_RELATIONS) -> bool:
    """Evaluate ``left op right``. Raises Incomparable for values that cannot be compared."""
    if op in SCALAR:
        return scalar(op, left, right)
    if op in SET:
        lefts, rights = _as_set(left), _as_set(right)
        if op == "isAnyOf":
            return any(_member(v, rights, op) for v in lefts)
        if op == "isNoneOf":
            return not any(_member(v, rights, op) for v in lefts)
        return all(_member(r, lefts, op) for r in rights)  # isAllOf: left has all of right
    if op in RELATION:
        return _relation(op, left, right, relations)
    raise PolicyError(f"unknown operator {op!r}", code=PolicyCode.UNKNOWN_OPERATOR)


def operator_function(op: str) -> Callable[[Any, Any, Relations], bool]:
    """A specialised callable for a compiled constraint (saves a dispatch per evaluation)."""
    if op in SCALAR:
        return lambda left, right, _rel: scalar(op, left, right)
    return lambda left, right, rel: apply(op, left, right, rel)
