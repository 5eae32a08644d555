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

[dsp_https]                         # optional: DSP over HTTPS beside NATS (docs/dsp-https.md)
host = "0.0.0.0"
port = 8443
public_url = "https://connector.city.example:8443"   # what counterparties call
cert_file = "tls/cert.pem"          # PEM certificate chain and its key, served for TLS
key_file = "tls/key.pem"
# ca_file = "tls/peers.pem"         # extra trust anchors for counterparties' certificates
[dsp_https.peers]                   # counterparties reached over HTTPS: DID -> DSP base URL
"did:key:z6Mk..." = "https://provider.example:8443/dsp"

[at_rest]                           # the key that encrypts store, key and NATS seed on disk
key = "file:../city.at-rest.key"    # or env:VAR, keyring:SERVICE/NAME, kms:NAME[:ARG]

[catalog_node]                      # optional: run a federated catalog node (docs/catalog.md)
enabled = true
index = "catalog.db"                # in data_dir
registry_url = "http://127.0.0.1:8470/participants"   # unset: asked of the authority over NATS
refresh_s = 60                      # the registry is read again at least this often
```
Relative paths (``data_dir``, ``credentials_file``, a ``file:`` key, the TLS files) are
relative to the config file's folder. Without ``[at_rest]`` nothing is encrypted at rest
(stores made before 0.3); ``connector init`` always writes one.
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


class DspHttpsSection(_Section):
    """The DSP over HTTPS binding (connector.dsp_http): where it listens, its TLS files,
    and which counterparties are reached over HTTPS instead of the NATS bus."""

    host: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    # The base URL counterparties use (callbackAddress, the data address of a transfer);
    # default https://<host>:<port>. The DSP endpoints are under <public_url>/dsp.
    public_url: str | None = Field(default=None, pattern=r"^https://[^/?#]+$")
    cert_file: Path
    key_file: Path
    ca_file: Path | None = None  # trust anchors for peers' certificates (else the system's)
    peers: dict[str, str] = Field(default_factory=dict)
    edr_lifetime_s: int = Field(default=300, ge=10, le=3600)  # a data address's token
    # An answer without tsunagu's DSP-ID-Token header is refused; false accepts it from a
    # peer that has never signed to this connector (not a tsunagu connector, e.g. EDC),
    # trusting the TLS certificate of its configured address. tsunagu peers stay strict.
    require_response_token: bool = True

    @field_validator("peers")
    @classmethod
    def _https_peers(cls, peers: dict[str, str]) -> dict[str, str]:
        for did, url in peers.items():
            if not did.startswith("did:key:"):
                raise ValueError(f"peer {did!r}: participants are named by their did:key")
            if not url.startswith("https://"):
                raise ValueError(f"peer {did[:24]}...: {url!r} is not an https:// URL "
                                 "(DSP over HTTPS never falls back to plain HTTP)")
        return {did: url.rstrip("/") for did, url in peers.items()}

    @property
    def base_url(self) -> str:
        return self.public_url or f"https://{self.host}:{self.port}"


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


class CatalogNodeSection(_Section):
    """A federated catalog node run by this connector (connector.catalog_node.service)."""

    enabled: bool = False
    index: str = Field(default="catalog.db", min_length=1)  # relative to data_dir
    # The authority's participant registry (its announcement's participantRegistryUrl);
    # unset: asked of the authority over NATS (operator mode, GrantClient).
    registry_url: str | None = Field(default=None, pattern=r"^https?://")
    # Whose signature the registry must carry; unset: the first of [authority] dids.
    authority: str | None = None
    # The registry is read again this often at most, and always before its validUntil.
    refresh_s: float = Field(default=60.0, ge=1.0, le=86400.0)
    crawl_timeout_s: float = Field(default=5.0, gt=0, le=120.0)  # per participant


class ConnectorConfig(_Section):
    participant: ParticipantSection
    authority: AuthoritySection
    nats: NatsSettings = NatsSettings()
    api: ApiSection = ApiSection()
    at_rest: AtRestSection | None = None
    # World facts this connector asserts in policy decisions, e.g. disasterPhase = "response".
    facts: dict[str, Any] = Field(default_factory=dict)
    staff: StaffSection = StaffSection()
    dsp_https: DspHttpsSection | None = None
    catalog_node: CatalogNodeSection = CatalogNodeSection()

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
    def catalog_index_path(self) -> Path:
        return self.data_dir / self.catalog_node.index

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
    https = raw.get("dsp_https")
    if isinstance(https, dict):
        for name in ("cert_file", "key_file", "ca_file"):
            if isinstance(https.get(name), str):
                https[name] = str((path.parent / https[name]).resolve())
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
