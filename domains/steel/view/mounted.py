"""The supply-chain view mounted on a participant's connector (the plug-in's routes hook):
``/domains/steel/chain/``, fed by the participant's own ``SteelHub`` (the pieces it holds or
held and their chains, each verified by ``SteelHub.provenance`` when asked), behind the
connector's authentication: a token with the ``steel:chain`` scope (``tsunagu connector
token --scope steel:chain``), or a browser session made from it (``connector.web.sessions``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from connector.web.sessions import ViewSessions
from domains.steel import store
from domains.steel.provenance import Provenance
from domains.steel.verify import chain_for
from domains.steel.view.app import view_app
from domains.steel.view.tree import ProvenanceFinder, matches

if TYPE_CHECKING:
    from domains.steel.hub import SteelHub

SCOPE = "steel:chain"
SCOPES = {SCOPE: "read the steel supply-chain view (the pieces this participant holds or "
                 "held, their chains and check results)"}
PATH = "chain/"  # under the plug-in's /domains/steel/
TABLE = "steel_view_sessions"


def _may_name(chain: list[dict[str, Any]], piece: str, query: str) -> bool:
    """Whether ``query`` may name the piece (a superset of ``tree.matches``, read from the
    unverified records: only these chains are then verified, signatures and all)."""
    return query == piece or any(
        query in (r.get("certificateNumber"), r.get("documentNumber"))
        or query in (r.get("heatNumbers") or []) for r in chain)


def hub_finder(hub: SteelHub) -> ProvenanceFinder:
    """The provenances of every piece in the hub's own records that ``query`` names (its
    id, a document or certificate number of its chain, a heat number), each verified."""
    def find(query: str) -> list[Provenance]:
        query = query.strip()
        records = hub.records()
        found = []
        for piece in store.pieces(hub.connector.store):
            if not _may_name(chain_for(records, piece)[0], piece, query):
                continue
            provenance = hub.provenance(piece)
            if matches(provenance, query):
                found.append(provenance)
        return found
    return find


def add_routes(app: web.Application, connector: Any, hub: SteelHub | None) -> None:
    if hub is None:
        return
    held: dict[str, ViewSessions] = {}

    def sessions() -> ViewSessions:
        # One per store: a connector reopened (key rotation, restore) has a new one.
        key = str(id(connector.store))
        if key not in held:
            held.clear()
            held[key] = ViewSessions(connector.store, SCOPE, table=TABLE,
                                     event="steel.view_login")
        return held[key]
    app.add_subapp("/" + PATH, view_app(hub_finder(hub), sessions))
