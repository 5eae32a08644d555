"""Left operands: where each value comes from (request or state of the world) and its type.

Every left operand the evaluator accepts is registered here with a resolver. A constraint
naming an unregistered left operand makes the policy invalid, so it denies: the evaluator
never skips a constraint it cannot evaluate. Domains add their own with
``register_left_operand`` (see docs/usage-policies.md), e.g. bosai's tsunagu:disasterPhase.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from usage_policies import datatypes
from usage_policies.datatypes import ID, ElapsedTime, Iri, Quantity
from usage_policies.errors import DatatypeError, PolicyCode, UnknownTermError
from usage_policies.vocab import ODRL, XSD
from usage_policies.vocabularies import PURPOSES, Vocabulary

if TYPE_CHECKING:
    from usage_policies.request import EvaluationRequest
    from usage_policies.state import State


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # the world does not say: a constraint on it is not satisfied


class EvalContext:
    """What resolvers see: the request, the state and facts derived for this evaluation."""

    __slots__ = ("request", "state", "agreement_time", "_cache")

    def __init__(self, request: EvaluationRequest, state: State,
                 agreement_time: datetime | None) -> None:
        self.request = request
        self.state = state
        self.agreement_time = agreement_time
        self._cache: dict[str, Any] = {}

    def value(self, spec: LeftOperand) -> Any:
        try:
            return self._cache[spec.iri]
        except KeyError:
            value = self._cache[spec.iri] = spec.resolver(self)
            return value

    def attribute(self, iri: str) -> Any:
        """A fact from the state if the connector established one, else the request's claim."""
        value = self.state.operands.get(iri, MISSING)
        if value is MISSING:
            value = self.request.attributes.get(iri, MISSING)
        return value


Resolver = Callable[[EvalContext], Any]


@dataclass(frozen=True)
class LeftOperand:
    iri: str
    resolver: Resolver
    datatype: str | None  # expected datatype IRI, ID for IRIs, None for "as written"
    normalize: Callable[[Any], Any] | None = None
    part_of: Callable[[Any, Any], bool] | None = None
    is_a: Callable[[Any, Any], bool] | None = None
    multi: bool = False  # set-valued (event): eq/neq test membership
    label_en: str = ""
    label_ja: str = ""
    vocabulary: Vocabulary | None = None  # its closed set of values, with their labels

    def coerce(self, value: Any, *, path: str = "") -> Any:
        """Bring a value from JSON (state, request) or a literal to this operand's type.
        Raises DatatypeError for a value of the wrong datatype, NaN or an infinity."""
        if isinstance(value, (list, tuple)):
            return tuple(self.coerce(v, path=f"{path}[{i}]") for i, v in enumerate(value))
        if isinstance(value, Quantity):
            return Quantity(self.coerce(value.value, path=path), value.unit)
        if datatypes.is_non_finite(value):
            raise DatatypeError(f"value for {self.iri} is {value!r}: NaN and infinities are "
                                "not valid values", path=path, left_operand=self.iri)
        if isinstance(value, str) and not isinstance(value, Iri) and self.datatype is not None:
            try:
                value = datatypes.convert(value, self.datatype)
            except ValueError as exc:
                raise DatatypeError(f"value for {self.iri} has the wrong datatype: {exc}",
                                    path=path, left_operand=self.iri) from None
        return self.normalize(value) if self.normalize else value


_REGISTRY: dict[str, LeftOperand] = {}


def register_left_operand(
    iri: str,
    resolver: Resolver,
    datatype: str | None,
    *,
    normalize: Callable[[Any], Any] | None = None,
    part_of: Callable[[Any, Any], bool] | None = None,
    is_a: Callable[[Any, Any], bool] | None = None,
    multi: bool = False,
    label_en: str = "",
    label_ja: str = "",
    vocabulary: Vocabulary | None = None,
    replace: bool = False,
) -> LeftOperand:
    """Register a left operand by IRI. Re-registering needs ``replace=True`` so that two
    domains cannot silently fight over one IRI. With a ``vocabulary``, values are normalised
    and compared (``isA``) through it unless ``normalize``/``is_a`` say otherwise."""
    if vocabulary is not None:
        normalize = normalize or vocabulary.normalize
        is_a = is_a or vocabulary.is_a
    if iri in _REGISTRY and not replace:
        raise UnknownTermError(f"left operand {iri} is already registered",
                               code=PolicyCode.DUPLICATE_LEFT_OPERAND)
    if datatype is not None and not datatypes.is_known_datatype(datatype):
        raise UnknownTermError(f"unknown datatype {datatype}", code=PolicyCode.UNKNOWN_DATATYPE)
    spec = LeftOperand(iri, resolver, datatype, normalize, part_of, is_a, multi,
                       label_en or iri.rsplit("/", 1)[-1].rsplit("#", 1)[-1], label_ja,
                       vocabulary)
    _REGISTRY[iri] = spec
    return spec


def unregister_left_operand(iri: str) -> None:
    _REGISTRY.pop(iri, None)


# Other names for a registered left operand. ODRL 2.2 lists ``odrl:system`` among its
# deprecated terms; its current term is ``odrl:systemDevice`` ("System Device"). Both are
# accepted in policies, requests and states, and mean the same operand.
ALIASES = {ODRL + "system": ODRL + "systemDevice"}


def canonical_left_operand(iri: str) -> str:
    return ALIASES.get(iri, iri)


def get_left_operand(iri: str) -> LeftOperand:
    try:
        return _REGISTRY[ALIASES.get(iri, iri)]
    except KeyError:
        raise UnknownTermError(f"unknown leftOperand {iri}", code=PolicyCode.UNKNOWN_LEFT_OPERAND,
                               left_operand=iri) from None


def find_left_operand(iri: str) -> LeftOperand | None:
    return _REGISTRY.get(ALIASES.get(iri, iri))


def known_left_operands() -> list[str]:
    return sorted(_REGISTRY)


def operand_vocabularies() -> list[Vocabulary]:
    """The vocabularies of the registered left operands (for labels), each once."""
    found: dict[int, Vocabulary] = {}
    for spec in list(_REGISTRY.values()):
        if spec.vocabulary is not None:
            found.setdefault(id(spec.vocabulary), spec.vocabulary)
    return list(found.values())


def attribute_resolver(iri: str) -> Resolver:
    return lambda ctx: ctx.attribute(iri)


# --- built-in resolvers -------------------------------------------------------------------

def _date_time(ctx: EvalContext) -> Any:
    return ctx.state.current_time


def _elapsed_time(ctx: EvalContext) -> Any:
    explicit = ctx.state.operands.get(ODRL + "elapsedTime", MISSING)
    if explicit is not MISSING:
        return explicit
    if ctx.agreement_time is None:
        return MISSING
    return ElapsedTime(ctx.agreement_time, ctx.state.current_time)


def _count(ctx: EvalContext) -> Any:
    # Counts include the use being decided: "count lteq 5" allows five uses in all. A target
    # the state does not mention has an unknown count (not zero): fail closed.
    prior = ctx.state.use_counts.get(ctx.request.target, MISSING)
    return MISSING if prior is MISSING else prior + 1


def _recipient(ctx: EvalContext) -> Any:
    value = ctx.attribute(ODRL + "recipient")
    if value is MISSING and ctx.request.assignee:
        return Iri(ctx.request.assignee)
    return value


def _event(ctx: EvalContext) -> Any:
    return ctx.state.events


# 全国地方公共団体コード: 2-digit prefecture, 5-digit municipality, or 6 digits with the check
# digit; "JP-13" (ISO 3166-2) names a prefecture.
_CODE = re.compile(r"^(?:JP-)?(\d{2}|\d{5}|\d{6})$")


def _spatial_normalize(value: Any) -> Any:
    if isinstance(value, str) and not isinstance(value, Iri):
        m = _CODE.match(value.strip())
        if m:
            code = m.group(1)
            code = code[:5] if len(code) == 6 else code
            return code[:2] if len(code) == 5 and code.endswith("000") else code
    return value


def _spatial_part_of(part: Any, whole: Any) -> bool:
    return (isinstance(part, str) and isinstance(whole, str) and len(whole) == 2
            and whole.isdigit() and len(part) == 5 and part.startswith(whole))


def _register_builtins() -> None:
    o = ODRL
    register_left_operand(o + "dateTime", _date_time, XSD + "dateTime",
                          label_en="the date and time of use", label_ja="利用日時")
    register_left_operand(o + "elapsedTime", _elapsed_time, XSD + "duration",
                          label_en="the time elapsed since the agreement",
                          label_ja="合意からの経過時間")
    register_left_operand(o + "count", _count, XSD + "integer",
                          label_en="the number of uses", label_ja="利用回数")
    register_left_operand(o + "purpose", attribute_resolver(o + "purpose"), None,
                          vocabulary=PURPOSES,
                          label_en="the purpose of use", label_ja="利用目的")
    register_left_operand(o + "recipient", _recipient, ID,
                          label_en="the recipient", label_ja="受領者")
    register_left_operand(o + "spatial", attribute_resolver(o + "spatial"), None,
                          normalize=_spatial_normalize, part_of=_spatial_part_of,
                          label_en="the place of use", label_ja="利用場所")
    register_left_operand(o + "event", _event, ID, multi=True,
                          label_en="the events under way", label_ja="発生中の事象")
    for name, en, ja, dt in (
        ("industry", "the industry of the user", "利用者の業種", None),
        ("language", "the language", "言語", None),
        ("deliveryChannel", "the delivery channel", "提供経路", None),
        ("systemDevice", "the system or device used", "利用するシステム・機器", None),
        ("virtualLocation", "the network location", "ネットワーク上の場所", None),
        ("fileFormat", "the file format", "ファイル形式", None),
        ("product", "the product", "製品", None),
        ("media", "the media", "媒体", None),
        ("version", "the version", "版", None),
        ("resolution", "the resolution", "解像度", None),
        ("absoluteSize", "the size", "サイズ", None),
        ("percentage", "the percentage used", "利用割合", XSD + "decimal"),
        ("payAmount", "the amount paid", "支払額", XSD + "decimal"),
        ("meteredTime", "the metered usage time", "計測された利用時間", XSD + "duration"),
        ("delayPeriod", "the delay", "遅延時間", XSD + "duration"),
        ("timeInterval", "the interval between uses", "利用間隔", XSD + "duration"),
        ("unitOfCount", "the unit of counting", "数える単位", None),
    ):
        register_left_operand(o + name, attribute_resolver(o + name), dt,
                              label_en=en, label_ja=ja)


_register_builtins()
