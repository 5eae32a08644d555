"""The staff login service a connector's HTTP surfaces share (the app API, the dashboard):
accounts, sessions and, when configured, the OpenID Connect relying party."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from connector.api.staff.accounts import PASSWORD_TOTP, StaffAccounts, StaffError
from connector.api.staff.oidc import OidcLogin, OidcSettings
from connector.api.staff.sessions import StaffSession, StaffSessions
from connector.errors import ConnectorCode
from connector.store.database import Store


class StaffAuth:
    def __init__(self, store: Store, settings: Any = None, *, issuer_label: str = "tsunagu"
                 ) -> None:
        """``settings``: the config's ``[staff]`` section (``connector.runtime.config``)."""
        self.store = store
        self.accounts = StaffAccounts(store, issuer_label=issuer_label)
        kwargs = {}
        if settings is not None:
            kwargs = {"absolute": timedelta(hours=settings.session_hours),
                      "idle": timedelta(minutes=settings.idle_minutes)}
        self.sessions = StaffSessions(store, self.accounts, **kwargs)
        oidc = getattr(settings, "oidc", None)
        self.oidc = None if oidc is None else OidcLogin(
            OidcSettings(oidc.issuer, oidc.client_id, oidc.client_secret_file,
                         oidc.redirect_uri, oidc.scopes), self.accounts, self.sessions)

    @classmethod
    def of(cls, connector: Any) -> StaffAuth:
        """The service for a connector (its store and its config's ``[staff]``)."""
        config = connector.config
        return cls(connector.store, config.staff, issuer_label=config.participant.name)

    def login_password(self, login: str, password: str, code: str,
                       now: datetime | None = None) -> StaffSession:
        """A session for the person whose password and TOTP code these are (StaffError)."""
        account = self.accounts.check_password(login, password, code, now)
        return self.sessions.open(account, PASSWORD_TOTP, now)

    def require_oidc(self) -> OidcLogin:
        if self.oidc is None:
            raise StaffError("this connector has no OpenID Connect provider configured "
                             "([staff.oidc] in participant.toml)",
                             code=ConnectorCode.OIDC_NOT_CONFIGURED)
        return self.oidc
