"""What a connector needs before it starts, each missing piece named with its fix.

Checked before the store, NATS or the app API are touched, so a participant set up halfway
(no credential yet, a config written without the authority's status-list URL) is refused
in one line that says what to do, instead of starting and failing its first request with
``credential.status_unknown``.
"""

from __future__ import annotations

from connector.errors import ConnectorCode
from connector.runtime.config import ConnectorConfig
from connector.runtime.setup import CONFIG_NAME, REQUEST_NAME
from trust.errors import ConfigError


def missing_to_start(config: ConnectorConfig, *, needs_status_list: bool = True) -> list[str]:
    """Each thing ``config`` lacks to start, as "what: how to fix it" (empty: nothing).

    ``needs_status_list``: False when the caller hands the connector its status lists."""
    missing = []
    if not config.key_path.is_file():
        missing.append(f"no participant key at {config.key_path}: create the participant "
                       "with `tsunagu connector init`")
    if not config.credential_path.is_file():
        missing.append(
            f"no participant credential at {config.credential_path}: send "
            f"{config.data_dir / REQUEST_NAME} to the authority, which writes it with "
            f"`tsunagu authority issue --request FILE --out {config.credential_path}`")
    if needs_status_list and not config.authority.status_list_url:
        missing.append(
            f"no status-list URL: set status_list_url under [authority] in {CONFIG_NAME} "
            "(`tsunagu connector init --authority URL` writes it); without it every "
            "credential check fails as credential.status_unknown")
    nats = config.nats
    if not nats.has_credentials and not nats.insecure_no_auth:
        missing.append(
            f"no NATS credentials: set urls and credentials_file under [nats] in {CONFIG_NAME} "
            "(the nats.creds `tsunagu authority issue` wrote), or insecure_no_auth = true for "
            "development without isolation")
    elif nats.credentials_file is not None and not nats.credentials_file.is_file():
        missing.append(
            f"no NATS credentials file at {nats.credentials_file}: `tsunagu authority issue "
            "--out DIR/credential.jwt` writes nats.creds beside the credential")
    https = config.dsp_https
    if https is not None:
        for what, path in (("TLS certificate", https.cert_file), ("TLS key", https.key_file),
                           ("peers' trust anchors", https.ca_file)):
            if path is not None and not path.is_file():
                missing.append(f"no {what} at {path}: set it under [dsp_https] in "
                               f"{CONFIG_NAME} (PEM), or remove [dsp_https] to speak DSP over "
                               "NATS only")
    return missing


def check_ready_to_start(config: ConnectorConfig, *, needs_status_list: bool = True) -> None:
    """Raise ``start.missing`` listing everything ``missing_to_start`` finds."""
    missing = missing_to_start(config, needs_status_list=needs_status_list)
    if missing:
        raise ConfigError("the connector cannot start: " + "; ".join(missing),
                          code=ConnectorCode.START_MISSING)
