"""A participant's connector configuration (``participant.toml``).

```toml
[participant]
name = "仙台市"
data_dir = "var/city"              # key, credential, SQLite store, embedded NATS store

[authority]
dids = ["did:key:z6Mk..."]          # authorities whose credentials this connector trusts
status_list_url = "http://127.0.0.1:8470/status-list"
# key_history_url = "http://127.0.0.1:8470/key-history"   # default: beside the status list

[nats]                              # the server `tsunagu authority serve` announces
urls = ["nats://127.0.0.1:4222"]
credentials_file = "nats.creds"     # issued by `tsunagu authority issue`
# insecure_no_auth = true           # development only: no credentials, no isolation
                                    # (no urls then starts an embedded nats-server)

[api]
host = "127.0.0.1"
port = 8480

[staff.oidc]                        # optional: staff log in through the municipality's IdP
issuer = "https://idp.city.example"
client_id = "tsunagu-dashboard"
client_secret_file = "oidc-client-secret"
redirect_uri = "https://dashboard.city.example/domains/bosai/dashboard/oidc/callback"

[at_rest]                           # the key that encrypts store, key and NATS seed on disk
key = "file:../city.at-rest.key"    # or env:VAR, keyring:SERVICE/NAME, kms:NAME[:ARG]
```
Relative paths (``data_dir``, ``credentials_file``, a ``file:`` key) are relative to the
config file's folder. Without ``[at_rest]`` nothing is encrypted at rest (stores made
before 0.3); ``connector init`` always writes one.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connector.bus.connection import NatsSettings
from trust.at_rest import AtRestKey, KeySource
from trust.errors import AtRestError, ConfigError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ParticipantSection(_Section):
    name: str = Field(min_length=1, max_length=200)
    data_dir: Path
    key_file: str = "participant.pem"
    credential_file: str = "credential.jwt"


class AuthoritySection(_Section):
    dids: list[str] = Field(min_length=1)
    status_list_url: str | None = None
    status_list_refresh_s: float = 60.0
    # The authority's signed key histories (trust.key_history); unset: beside the status
    # list (its URL with /key-history for /status-list), as `tsunagu authority serve` has it.
    key_history_url: str | None = None

    def key_histories_at(self) -> str | None:
        if self.key_history_url is not None:
            return self.key_history_url
        url = self.status_list_url
        if url is not None and url.endswith("/status-list"):
            return url.removesuffix("/status-list") + "/key-history"
        return None


class ApiSection(_Section):
    host: str = "127.0.0.1"
    port: int = Field(default=8480, ge=0, le=65535)
    # Back-pressure (connector.api.admission): record writes beyond these get 503 api.busy.
    max_writes_in_flight: int = Field(default=64, ge=1, le=1024)
    max_write_mb_in_flight: int = Field(default=32, ge=1, le=4096)


class OidcSection(_Section):
    """The municipality's OpenID Connect provider for staff logins (docs/staff-accounts.md)."""

    issuer: str = Field(pattern=r"^https?://")
    client_id: str = Field(min_length=1)
    client_secret_file: Path  # the secret itself never sits in this file
    redirect_uri: str = Field(pattern=r"^https?://")  # the dashboard's .../oidc/callback
    scopes: str = "openid email profile"


class StaffSection(_Section):
    """Staff accounts' sessions and, optionally, their OpenID Connect provider."""

    session_hours: float = Field(default=8.0, gt=0, le=24)  # absolute: one shift
    idle_minutes: float = Field(default=30.0, gt=0, le=24 * 60)
    oidc: OidcSection | None = None


class AtRestSection(_Section):
    key: str  # a trust.at_rest.KeySource spec; a relative file: path is made absolute

    @field_validator("key")
    @classmethod
    def _known_source(cls, value: str) -> str:
        try:
            KeySource(value)
        except AtRestError as exc:
            raise ValueError(exc.message) from None
        return value


class ConnectorConfig(_Section):
    participant: ParticipantSection
    authority: AuthoritySection
    nats: NatsSettings = NatsSettings()
    api: ApiSection = ApiSection()
    at_rest: AtRestSection | None = None
    # World facts this connector asserts in policy decisions, e.g. disasterPhase = "response".
    facts: dict[str, Any] = Field(default_factory=dict)
    staff: StaffSection = StaffSection()

    @property
    def data_dir(self) -> Path:
        return self.participant.data_dir

    @property
    def key_path(self) -> Path:
        return self.data_dir / self.participant.key_file

    @property
    def credential_path(self) -> Path:
        return self.data_dir / self.participant.credential_file

    @property
    def store_path(self) -> Path:
        return self.data_dir / "connector.sqlite"

    @property
    def nats_store_dir(self) -> Path:
        return self.data_dir / "nats"

    @property
    def at_rest_source(self) -> KeySource | None:
        return None if self.at_rest is None else KeySource(self.at_rest.key)

    def load_at_rest_key(self) -> AtRestKey | None:
        """The key for data at rest, or None where the config has no ``[at_rest]``."""
        source = self.at_rest_source
        return None if source is None else source.load()


def load_config(path: Path) -> ConnectorConfig:
    """Read and validate a config file; errors name the file and the offending field."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config {path} is not valid TOML: {exc}") from exc
    participant = raw.get("participant")
    if isinstance(participant, dict) and "data_dir" in participant:
        participant["data_dir"] = str((path.parent / participant["data_dir"]).resolve())
    nats = raw.get("nats")
    if isinstance(nats, dict) and isinstance(nats.get("credentials_file"), str):
        nats["credentials_file"] = str((path.parent / nats["credentials_file"]).resolve())
    oidc = (raw.get("staff") or {}).get("oidc") if isinstance(raw.get("staff"), dict) else None
    if isinstance(oidc, dict) and isinstance(oidc.get("client_secret_file"), str):
        oidc["client_secret_file"] = str((path.parent / oidc["client_secret_file"]).resolve())
    at_rest = raw.get("at_rest")
    if isinstance(at_rest, dict) and isinstance(at_rest.get("key"), str) and \
            at_rest["key"].startswith("file:"):
        at_rest["key"] = "file:" + str((path.parent / at_rest["key"][5:]).resolve())
    try:
        return ConnectorConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors())
        raise ConfigError(f"config {path} is invalid: {problems}") from None
