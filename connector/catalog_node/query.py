"""A catalog search as HTTP query parameters: the app API's ``/api/v1/catalog/search`` and the
catalog page read the same names, checked the same way.

``q`` is free text of any length and script (the index cuts it and never lets it become FTS
syntax). The other parameters are short: one over ``MAX_VALUE`` characters, more than
``MAX_VALUES`` values of one, a date that is not ``YYYY-MM-DD`` or a limit outside 1..200
is a ``ValidationError`` naming the parameter (an HTTP 400 problem). A bad cursor is caught
by the search itself (``catalog.index.CursorError``) and reported the same way.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from catalog.index import MAX_PAGE, CursorError, Filters, Page
from catalog.policy import Asker
from trust.errors import ValidationError

MAX_VALUE = 256
MAX_VALUES = 32
DEFAULT_LIMIT = 20
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")
# Repeatable facet filters: parameter name -> Filters field. ``role`` is the asker's role
# (as ``tsunagu catalog search --role``); the publisher's role is ``publisher_role``.
FACET_PARAMS = {"publisher": "publisher", "publisher_role": "role", "domain": "domain",
                "theme": "theme", "keyword": "keyword", "type": "dataset_type"}


class Params(Protocol):
    """aiohttp's ``request.query`` (a MultiDict): one value, or every value of a name."""

    def get(self, key: str, default: Any = None) -> Any: ...
    def getall(self, key: str, default: Any = ...) -> list[Any]: ...


@dataclass(frozen=True)
class SearchRequest:
    text: str = ""
    filters: Filters = Filters()
    asker: Asker | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    facets: bool = False
    strict: bool = False  # only offers that permit now (no conditions at the time of use)

    def run(self, catalog: Any) -> Page:
        """The page from ``catalog`` (``catalog.service.Catalog``); a cursor this search did
        not hand out is a ValidationError naming ``cursor``."""
        try:
            return catalog.search(self.text, self.filters, asker=self.asker, limit=self.limit,
                                  cursor=self.cursor, facets=self.facets,
                                  include_conditional=not self.strict)
        except CursorError as exc:
            raise ValidationError(f"'cursor' is not a cursor of this search: {exc}",
                                  field="cursor") from None


def _one(params: Params, name: str) -> str | None:
    values = params.getall(name, [])
    if len(values) > 1:
        raise ValidationError(f"'{name}' is given more than once", field=name)
    value = values[0] if values else None
    if value is not None and len(value) > MAX_VALUE:
        raise ValidationError(f"'{name}' is longer than {MAX_VALUE} characters", field=name)
    return value or None


def _many(params: Params, name: str) -> tuple[str, ...]:
    values = [v for v in params.getall(name, []) if v]
    if len(values) > MAX_VALUES:
        raise ValidationError(f"'{name}' is given more than {MAX_VALUES} times", field=name)
    for value in values:
        if len(value) > MAX_VALUE:
            raise ValidationError(f"'{name}' is longer than {MAX_VALUE} characters",
                                  field=name)
    return tuple(dict.fromkeys(values))


def flag(params: Params, name: str) -> bool:
    value = (_one(params, name) or "").lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValidationError(f"'{name}' must be true or false", field=name)


def _date(params: Params, name: str) -> str | None:
    value = _one(params, name)
    if value is not None and not _DATE.fullmatch(value):
        raise ValidationError(f"'{name}' must be a date YYYY-MM-DD", field=name)
    return value


def _limit(params: Params) -> int:
    raw = _one(params, "limit")
    try:
        value = DEFAULT_LIMIT if raw is None else int(raw)
    except ValueError:
        raise ValidationError("'limit' must be an integer", field="limit") from None
    if not 1 <= value <= MAX_PAGE:
        raise ValidationError(f"'limit' must be between 1 and {MAX_PAGE}", field="limit")
    return value


def parse_search(params: Params, *, asker_defaults: Mapping[str, Any] | None = None
                 ) -> SearchRequest:
    """The search the parameters ask for. With ``purpose``, ``role``, ``area`` or ``did``
    (as with ``tsunagu catalog search``),
    only datasets with an offer the asker could get are returned, each offer with its
    decision; ``asker_defaults`` (the catalog page: this participant's roles and DID) fill
    what the parameters leave out when an asker is wanted."""
    text = params.get("q") or ""
    area = _one(params, "area")
    facets = {field: _many(params, name) for name, field in FACET_PARAMS.items()}
    filters = Filters(publisher=facets["publisher"], role=facets["role"],
                      domain=facets["domain"],
                      theme=facets["theme"], keyword=facets["keyword"],
                      dataset_type=facets["dataset_type"], area=area,
                      temporal_from=_date(params, "from"), temporal_to=_date(params, "to"))
    purpose, did = _one(params, "purpose"), _one(params, "did")
    roles = _many(params, "role")
    asker = None
    if asker_defaults is not None or purpose or did or roles or area:
        defaults = asker_defaults or {}
        asker = Asker(roles=roles or tuple(defaults.get("roles", ())), purpose=purpose,
                      area=area, did=did or defaults.get("did"))
    return SearchRequest(text=text, filters=filters, asker=asker, limit=_limit(params),
                         cursor=_one(params, "cursor"), facets=flag(params, "facets"),
                         strict=flag(params, "strict"))
