"""What the pmh demo prints for people to look at: each view's URLs on the municipality's
connector and a token with the scopes it needs. A view is one entry of ``VIEWS``: add the
pages of a new view here (the staff and family pages being built call the same routes)."""

from __future__ import annotations

from dataclasses import dataclass

from domains.pmh.hub.api import CLAIMS, FAMILY, NURSE, SETTLEMENT
from domains.pmh.views.auth import DASHBOARD

PREFIX = "/domains/pmh/"


@dataclass(frozen=True)
class View:
    key: str
    title: str  # printed
    paths: tuple[str, ...]  # under /domains/pmh/
    scopes: tuple[str, ...]
    family: bool = False  # the token names one family's people (subject scoping)


VIEWS = (
    View("municipality", "市区町村の保健部局 (職員)",
         ("dashboard/", "claims", "follow-ups", "staff/events", "settlements"),
         (DASHBOARD, CLAIMS, NURSE, SETTLEMENT)),
    View("family", "家族のアプリ", ("family-app/", "family/claims", "family/events"), (FAMILY,),
         family=True),
)


def urls(origin: str, view: View) -> list[str]:
    return [f"{origin}{PREFIX}{path}" for path in view.paths]
