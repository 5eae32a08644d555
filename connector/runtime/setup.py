"""``tsunagu connector init``: a participant's key, config file and credential request.

Nothing is overwritten: init refuses a directory that already holds a key or a config, and
removes what it wrote if a later step fails.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from connector.errors import ConnectorCode
from connector.plugins.registry import load_domain_plugins, require_known_roles
from connector.runtime.ports import choose_api_port
from trust.at_rest import KeySource, generate_key, write_key_file
from trust.credentials import check_name, parse_roles
from trust.errors import ConfigError
from trust.keys import DID_KEY_PREFIX, KeyPair, save_key, verify_signature
from trust.legal_id import parse_legal_id

CONFIG_NAME = "participant.toml"
REQUEST_NAME = "credential-request.json"


@dataclass(frozen=True)
class InitResult:
    did: str
    config_path: Path
    request_path: Path
    api_port: int
    at_rest_key: str | None  # its source (file:PATH...): store, key and NATS seed are sealed
    # with it; None: plain at rest (development)
    at_rest_key_created: bool  # init wrote the key file


def default_at_rest_source(directory: Path) -> str:
    """``file:`` a key beside, not inside, the data directory: a copy of the directory
    (a backup, a disk image, a store sent for support) then holds no key."""
    name = Path(directory).resolve().name or "participant"
    return f"file:../{name}.at-rest.key"


def _toml_string(value: str) -> str:
    return orjson.dumps(value).decode()  # a JSON string is a valid TOML basic string


NATS_CREDS_NAME = "nats.creds"  # where `tsunagu authority issue` puts the NATS user


def _nats_section(nats_urls: list[str], insecure_no_auth: bool,
                  stream_replicas: int = 1) -> list[str]:
    urls = f"urls = [{', '.join(_toml_string(u) for u in nats_urls)}]"
    if stream_replicas != 1:  # announced by a clustered data space
        urls += f"\nstream_replicas = {int(stream_replicas)}"
    if insecure_no_auth:
        return ["[nats]  # INSECURE, development only: no credentials, no isolation between "
                "participants", urls, "insecure_no_auth = true"]
    if not nats_urls:  # `connector run` names what is missing
        return ["[nats]  # set urls (the server `tsunagu authority serve` announces) and",
                f'# credentials_file = "{NATS_CREDS_NAME}"', urls]
    return ["[nats]  # the data space's server; credentials from `tsunagu authority issue`",
            urls, f"credentials_file = {_toml_string(NATS_CREDS_NAME)}"]


def render_config(*, name: str, authority_dids: list[str], status_list_url: str | None,
                  nats_urls: list[str], api_port: int, insecure_no_auth: bool = False,
                  status_list_refresh_s: float | None = None,
                  at_rest_key: str | None = None, stream_replicas: int = 1) -> str:
    lines = [
        "[participant]",
        f"name = {_toml_string(name)}",
        'data_dir = "."',
        "",
        "[authority]",
        f"dids = [{', '.join(_toml_string(d) for d in authority_dids)}]",
    ]
    if status_list_url:
        lines.append(f"status_list_url = {_toml_string(status_list_url)}")
    if status_list_refresh_s is not None:
        lines.append(f"status_list_refresh_s = {float(status_list_refresh_s)}")
    lines += ["", *_nats_section(nats_urls, insecure_no_auth, stream_replicas),
              "", "[api]", 'host = "127.0.0.1"', f"port = {api_port}", ""]
    if at_rest_key is not None:
        lines += ["[at_rest]  # encrypts store, participant key and NATS seed on disk; keep "
                  "this key apart from the data and back it up on its own",
                  f"key = {_toml_string(at_rest_key)}", ""]
    return "\n".join(lines)


def init_participant(
    directory: Path,
    *,
    name: str,
    legal_id: str,
    roles: list[str],
    authority_dids: list[str],
    status_list_url: str | None = None,
    nats_urls: list[str] | None = None,
    api_port: int | None = None,
    insecure_no_auth: bool = False,
    status_list_refresh_s: float | None = None,
    at_rest_key: str | None = None,
    plain_at_rest: bool = False,
    stream_replicas: int = 1,
) -> InitResult:
    """Create key, config and credential request in ``directory`` (validated first), and
    the at-rest key (``at_rest_key``: its source; default a key file beside ``directory``)
    where a ``file:`` source does not exist yet."""
    name = check_name(name)
    legal = parse_legal_id(legal_id)
    parsed_roles = parse_roles(roles)
    require_known_roles(parsed_roles, load_domain_plugins(), code=ConnectorCode.UNKNOWN_ROLE)
    if not authority_dids or not all(d.startswith(DID_KEY_PREFIX) for d in authority_dids):
        raise ConfigError("give the authority's did:key with --authority-did")
    directory = Path(directory)
    config_path, key_path = directory / CONFIG_NAME, directory / "participant.pem"
    request_path = directory / REQUEST_NAME
    existing = [p.name for p in (config_path, key_path, request_path) if p.exists()]
    if existing:
        raise ConfigError(f"{directory} already holds {', '.join(existing)}; refusing to "
                          "overwrite a participant")
    if api_port is None:  # the first one free and not promised to a participant beside it
        api_port = choose_api_port(directory, CONFIG_NAME)
    if plain_at_rest and at_rest_key:
        raise ConfigError("give either an at-rest key or plain at rest, not both")
    at_rest_source = None if plain_at_rest else (at_rest_key or default_at_rest_source(directory))
    source = None if at_rest_source is None else KeySource(at_rest_source, base=directory)
    new_key_file = source is not None and source.path is not None and not source.path.exists()
    if source is not None and not new_key_file:
        source.load()  # an existing key must load now, not at the first start
    key = KeyPair.generate()
    request = {
        "did": key.did,
        "name": name,
        "legalIdentifier": legal.to_dict(),
        "roles": list(parsed_roles),
    }
    # Proof of possession: the authority can check the requester holds the DID's key.
    payload = orjson.dumps(request, option=orjson.OPT_SORT_KEYS)
    request["signature"] = key.sign(payload).hex()
    written: list[Path] = []
    directory.mkdir(parents=True, exist_ok=True)
    try:
        if new_key_file:
            assert source is not None and source.path is not None
            write_key_file(source.path, generate_key())
            written.append(source.path)
        save_key(key, key_path, None if source is None else source.load())
        written.append(key_path)
        for path, text in (
            (config_path, render_config(name=name, authority_dids=authority_dids,
                                        status_list_url=status_list_url,
                                        nats_urls=nats_urls or [], api_port=api_port,
                                        insecure_no_auth=insecure_no_auth,
                                        status_list_refresh_s=status_list_refresh_s,
                                        at_rest_key=at_rest_source,
                                        stream_replicas=stream_replicas)),
            (request_path, orjson.dumps(request, option=orjson.OPT_INDENT_2).decode() + "\n"),
        ):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            written.append(path)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
    except BaseException:
        for path in written:
            with contextlib.suppress(OSError):
                path.unlink()
        raise
    return InitResult(did=key.did, config_path=config_path, request_path=request_path,
                      api_port=api_port, at_rest_key=at_rest_source,
                      at_rest_key_created=new_key_file)


def verify_credential_request(request: dict) -> dict:
    """Check a credential request's proof of possession; return it without the signature."""
    from trust.keys import resolve_did_key

    body = {k: v for k, v in request.items() if k != "signature"}
    try:
        signature = bytes.fromhex(str(request.get("signature", "")))
    except ValueError:
        signature = b""
    key = resolve_did_key(str(body.get("did", "")))
    payload = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    if not verify_signature(key, signature, payload):
        raise ConfigError("credential request signature does not match its DID",
                          code=ConnectorCode.CREDENTIAL_REQUEST_BAD_SIGNATURE)
    return body
