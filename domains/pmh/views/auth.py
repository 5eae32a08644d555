"""Who may see the pmh views (as the bosai dashboard does it).

* Health-department staff: a staff account (``connector.api.staff``: password + TOTP)
  whose scopes include ``pmh:dashboard``; the cookie holds the connector's staff session
  secret, resolved to the person on every request. Or an app token with the scope, pasted
  once into the login form, or sent as a bearer header by scripts.
* A family: a ``pmh:family`` token issued for the family's people (``subjects``), pasted
  into the family view's login form, or sent as a bearer header by the family's app.

The sessions themselves are ``connector.web.sessions`` (shared with other domains' views)
in pmh's own table.
"""

from __future__ import annotations

from connector.api.staff.service import StaffAuth
from connector.store.database import Store
from connector.web.sessions import SESSION_TTL, ViewSessions, same_origin, set_cookie

DASHBOARD = "pmh:dashboard"  # declared with the hub's scopes (domains.pmh.hub.api)
TABLE = "pmh_view_sessions"

__all__ = ["DASHBOARD", "SESSION_TTL", "Sessions", "same_origin", "set_cookie"]


class Sessions(ViewSessions):
    """Sessions of one pmh view (``scope``)."""

    def __init__(self, store: Store, scope: str, staff: StaffAuth | None = None) -> None:
        super().__init__(store, scope, table=TABLE, event="pmh.view_login", staff=staff)
