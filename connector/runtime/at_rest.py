"""A connector's secrets on disk, sealed with its at-rest key (``trust.at_rest``).

The participant key and the NATS user credentials arrive as plain files (``connector init``
before 0.3 wrote a plain key; ``tsunagu authority issue`` writes a plain ``nats.creds``).
With an at-rest key configured, the connector seals each such file in place at start
(atomic replace: the plain file is there until the sealed one is complete) and from then on
only ever holds it in memory in plaintext.
"""

from __future__ import annotations

from collections import UserString
from pathlib import Path

from nats.aio.client import Client
from pydantic import SecretStr

from connector.bus.connection import NatsSettings
from trust.at_rest import AtRestKey, read_secret, seal_in_place
from trust.keys import KEY_FILE_ROLE, KeyPair, load_key
from trust.nats_jwt import parse_creds

NATS_CREDS_ROLE = "nats-user-credentials"


def load_participant_key(path: Path, key: AtRestKey | None) -> KeyPair:
    if key is not None and path.is_file():
        seal_in_place(path, KEY_FILE_ROLE, key)
    return load_key(path, key)


def nats_settings(settings: NatsSettings, key: AtRestKey | None) -> NatsSettings:
    """``settings`` with a sealed credentials file read into memory (nats-py gets the JWT
    and seed, never a path to a plain copy); a plain file is sealed first."""
    path = settings.credentials_file
    if key is None or path is None or not path.is_file():
        return settings  # no key, or nothing to seal: the connection names a missing file
    seal_in_place(path, NATS_CREDS_ROLE, key)
    creds = parse_creds(read_secret(path, NATS_CREDS_ROLE, key).decode("ascii"))
    return settings.model_copy(update={"credentials_file": None,
                                       "user_jwt": SecretStr(creds.jwt),
                                       "user_seed": SecretStr(creds.seed)})


def reload_credentials(nc: Client, path: Path, key: AtRestKey) -> None:
    """New NATS credentials written to ``path`` (an account key rotation): seal them if
    plain, and hand them to the live connection, which signs its next connect with them.
    nats-py's callbacks read the ``RawCredentials`` it was given at each connect, so that
    object is updated in place (``nats.aio.client.Client._user_credentials``)."""
    seal_in_place(path, NATS_CREDS_ROLE, key)
    text = read_secret(path, NATS_CREDS_ROLE, key).decode("ascii")
    parse_creds(text)  # a half-written file raises here, and is looked at again
    held = getattr(nc, "_user_credentials", None)
    if not isinstance(held, UserString):
        raise TypeError("the NATS connection holds no in-memory credentials to replace")
    held.data = text
