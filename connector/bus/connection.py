"""Connecting the connector to NATS: external servers when configured, else an embedded one.

A long-running connector must never give up on NATS, so clients reconnect forever
(``max_reconnect_attempts=-1``). Only the *first* connect is bounded, so that a wrong URL or
credential fails start-up with a clear error instead of hanging: within
``initial_connect_deadline``, and within ``refused_deadline`` (a few seconds) when nothing
listens at the URLs at all (connection refused). Until that first connect succeeds, the
failed attempts are not logged one by one: the error names the last one.

Every client is a :class:`TolerantClient`: bytes on the wire that are not UTF-8 must not stop
it from reading (see there).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import nats.errors
from nats.aio.client import Client, RawCredentials
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connector.bus.server import EmbeddedNatsServer
from connector.errors import ConnectorCode
from trust.errors import ConfigError, TsunaguError

log = logging.getLogger(__name__)

_URL_SCHEMES = {"nats", "tls", "ws", "wss"}
# JetStream publishes a connection may have awaiting their ack (nats-py's default, named
# because connector.records sizes its publish windows under it).
PUBLISH_ASYNC_MAX_PENDING = 4000


def _replaced(raw: bytes) -> bytes:
    """``raw`` with every byte sequence that is not UTF-8 turned into U+FFFD."""
    return raw.decode("utf-8", errors="replace").encode("utf-8")


# Every non-ASCII byte to "?": one byte for one, because nats-py slices the status line of
# a header block by byte offsets (a 3-byte U+FFFD would be cut and fail to decode again).
_ASCII_MASK = bytes(range(128)) + b"?" * 128


class TolerantClient(Client):
    """nats-py's client, except that undecodable bytes from the wire do not kill its reader.

    nats-py 2.16 decodes the subject and reply of every delivered message, and the status
    line of its headers, as strict UTF-8, inside its read loop. The server relays subjects and
    headers as the publisher wrote them, so one ``PUB tsunagu.dsp.<us>.\\xff`` from anyone
    allowed to publish there raised ``UnicodeDecodeError`` in that loop, which then ended for
    good: the connection still looked connected, but nothing was read again (no DSP answers,
    no data, no PONGs). Here a message that does not decode is retried with U+FFFD in place
    of the bad bytes in its subject and reply (what nats-py already does for header values),
    and with "?" for every non-ASCII byte of a header block that does not decode. No tsunagu
    subject contains U+FFFD, so receivers refuse the message (``connector.bus.messaging`` counts
    it as ``envelope.bad_subject``) and the reader goes on.

    Both hooks are private nats-py methods, overridden rather than copied: the valid path
    runs nats-py's code unchanged. tests/security/test_nats_wire_attacks.py fails if an
    upgrade moves them.
    """

    def _build_message(self, sid: int, subject: bytes, reply: bytes, data: bytes,
                       headers: dict[str, str] | None) -> Any:
        try:
            return super()._build_message(sid, subject, reply, data, headers)
        except UnicodeDecodeError:
            return super()._build_message(sid, _replaced(subject), _replaced(reply), data,
                                          headers)

    async def _process_headers(self, headers: bytes) -> dict[str, str] | None:
        try:
            return await super()._process_headers(headers)
        except UnicodeDecodeError:
            return await super()._process_headers(headers.translate(_ASCII_MASK))


class NatsConnectError(TsunaguError):
    """NATS could not be reached (or refused the credentials) during start-up."""

    code = ConnectorCode.NATS_CONNECT


class NatsSettings(BaseModel):
    """Where and how to connect. No ``urls`` means: run an embedded server.

    A connector connects with the NATS user credentials the data-space authority issued
    (``credentials_file`` or ``user_jwt`` + ``user_seed``): the server then enforces what it
    may read and write (operator mode, ``authority.accounts``). Without credentials it
    starts only when ``insecure_no_auth`` says so: any local process can then read and write
    every subject, so that is for development only and logged as such.

    Secrets are ``SecretStr`` so they never show up in ``repr`` or logs.
    """

    # hide_input_in_errors: a validation error must not echo a JWT or seed back.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    urls: list[str] = Field(default_factory=list)
    credentials_file: Path | None = None
    user_jwt: SecretStr | None = None
    user_seed: SecretStr | None = None
    name: str = "tsunagu"
    inbox_prefix: str = "_INBOX"
    insecure_no_auth: bool = False  # development only: no credentials, no isolation
    reconnect_time_wait: float = Field(default=2.0, gt=0)
    connect_timeout: float = Field(default=5.0, gt=0)  # one TCP/TLS attempt
    initial_connect_deadline: float = Field(default=30.0, gt=0)  # all first attempts together
    # The first connect gives up this soon when every attempt finds nothing listening.
    refused_deadline: float = Field(default=2.0, gt=0)
    # Copies of each dataset stream a JetStream cluster keeps (R3 on a 3-node cluster, see
    # docs/deploy.md); 1 on a single server, which refuses more.
    stream_replicas: int = Field(default=1, ge=1, le=5)

    @field_validator("urls", mode="before")
    @classmethod
    def _split_urls(cls, value: object) -> object:
        # Accept "nats://a:4222,nats://b:4222" from environment variables and CLI flags.
        if isinstance(value, str):
            return [u.strip() for u in value.split(",") if u.strip()]
        return value

    @field_validator("urls")
    @classmethod
    def _check_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            parts = urlsplit(url)
            if parts.scheme not in _URL_SCHEMES or not parts.hostname:
                raise ValueError(
                    f"NATS URL {redact_url(url)!r} must look like nats://host:port "
                    f"(schemes: {', '.join(sorted(_URL_SCHEMES))})"
                )
        return urls

    @model_validator(mode="after")
    def _check_credentials(self) -> NatsSettings:
        if (self.user_jwt is None) != (self.user_seed is None):
            raise ValueError("user_jwt and user_seed must be given together")
        if self.credentials_file is not None and self.user_jwt is not None:
            raise ValueError("give either credentials_file or user_jwt+user_seed, not both")
        if self.has_credentials and not self.urls:
            raise ValueError("credentials need NATS urls; the embedded server has no auth")
        if self.has_credentials and self.insecure_no_auth:
            raise ValueError("insecure_no_auth contradicts the NATS credentials given")
        if self.user_seed is not None and not self.user_seed.get_secret_value().startswith("SU"):
            raise ValueError("user_seed must be a NATS user seed (starts with 'SU')")
        return self

    @property
    def has_credentials(self) -> bool:
        return self.credentials_file is not None or self.user_jwt is not None


def redact_url(url: str) -> str:
    """Drop ``user:password@`` from a URL before it is logged or put in an error."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host
    netloc = f"{host}:{parts.port}" if parts.port else host
    return parts._replace(netloc=netloc).geturl()


def _credentials(settings: NatsSettings) -> str | RawCredentials | None:
    if settings.credentials_file is not None:
        path = settings.credentials_file
        if not os.access(path, os.R_OK):  # nats-py would otherwise retry until the deadline
            raise ConfigError(f"NATS credentials file {path} is missing or not readable")
        return str(path)
    if settings.user_jwt is not None and settings.user_seed is not None:
        # The .creds layout nats-py parses; kept in memory, never written to disk.
        return RawCredentials(
            "-----BEGIN NATS USER JWT-----\n"
            f"{settings.user_jwt.get_secret_value().strip()}\n"
            "------END NATS USER JWT------\n\n"
            "-----BEGIN USER NKEY SEED-----\n"
            f"{settings.user_seed.get_secret_value().strip()}\n"
            "------END USER NKEY SEED------\n"
        )
    return None


def _refused(exc: BaseException) -> bool:
    """Nothing listens: connection refused (for a host name with several addresses, asyncio
    joins the attempts' errors into one OSError: then refused at every address)."""
    if isinstance(exc, ConnectionRefusedError):
        return True
    text = str(exc)
    return isinstance(exc, OSError) and exc.errno is None and \
        text.startswith("Multiple exceptions") and \
        text.count("[Errno") == text.count(f"[Errno {errno.ECONNREFUSED}]")


async def connect(settings: NatsSettings) -> Client:
    """Connect to ``settings.urls`` and keep reconnecting forever once connected.

    Raises ``NatsConnectError`` when no server accepted the connection within
    ``settings.initial_connect_deadline`` seconds.
    """
    if not settings.urls:
        raise ConfigError("NatsSettings.urls is empty; use open_nats() for an embedded server")
    safe_urls = ", ".join(redact_url(u) for u in settings.urls)
    nc = TolerantClient()
    last_error: list[BaseException] = []
    connected = False  # until then, failed attempts are kept for the error, not logged
    loop = asyncio.get_running_loop()
    started = loop.time()
    nothing_listens = False

    def where() -> str:
        url = nc.connected_url
        return f"{url.hostname}:{url.port}" if url is not None else safe_urls

    async def on_error(exc: Exception) -> None:
        nonlocal nothing_listens
        # A server's refusal (auth, permissions) says more than the socket reset after it:
        # keep the first server-side error rather than the latest transport one.
        if not (last_error and isinstance(last_error[0], nats.errors.Error)
                and not isinstance(exc, nats.errors.Error)):
            last_error[:] = [exc]
        if connected:
            log.warning("nats error: %s", exc,
                        extra={"nats_url": where(), "error": type(exc).__name__})
            return
        log.debug("nats connect attempt failed: %s", type(exc).__name__)
        if _refused(exc) and loop.time() - started >= settings.refused_deadline:
            nothing_listens = True
            first_connect.reschedule(loop.time())  # give up now

    async def on_disconnected() -> None:
        if not nc.is_closed:  # nats-py also calls this on a deliberate close
            log.warning("nats disconnected; reconnecting", extra={"nats_url": where()})

    async def on_reconnected() -> None:
        log.info("nats reconnected", extra={"nats_url": where()})

    async def on_closed() -> None:
        if connected:
            log.info("nats connection closed", extra={"nats_url": where()})

    try:
        async with asyncio.timeout(settings.initial_connect_deadline) as first_connect:
            await nc.connect(
                servers=list(settings.urls),
                name=settings.name,
                inbox_prefix=settings.inbox_prefix,
                user_credentials=_credentials(settings),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=settings.reconnect_time_wait,  # type: ignore[arg-type]
                connect_timeout=settings.connect_timeout,  # type: ignore[arg-type]
                error_cb=on_error,
                disconnected_cb=on_disconnected,
                reconnected_cb=on_reconnected,
                closed_cb=on_closed,
            )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        await nc.close()  # stop the retry loop nats-py may still be running
        if nothing_listens:
            raise NatsConnectError(
                f"nothing listens at {safe_urls} (connection refused for "
                f"{settings.refused_deadline:g} s): is the data space's NATS server running "
                "(`tsunagu authority serve` prints its URL), and is this its URL?",
                urls=safe_urls) from None
        cause = last_error[0] if last_error else exc
        raise NatsConnectError(
            f"cannot connect to NATS at {safe_urls} within "
            f"{settings.initial_connect_deadline:g} s: {cause or type(cause).__name__} "
            "(is the data space's NATS server running, and are [nats] urls in the config "
            "the ones `tsunagu authority serve` announces?)",
            urls=safe_urls,
        ) from exc
    connected = True
    log.info("nats connected", extra={"nats_url": where()})
    return nc


async def close_nats(nc: Client, timeout: float = 5.0) -> None:
    """Drain (deliver what is buffered, finish subscriptions), falling back to close."""
    if nc.is_closed:
        return
    try:
        await asyncio.wait_for(nc.drain(), timeout)
    except (TimeoutError, nats.errors.Error) as exc:
        log.debug("nats drain failed: %s", type(exc).__name__)
    finally:
        if not nc.is_closed:
            await nc.close()


@asynccontextmanager
async def open_nats(settings: NatsSettings | None, store_dir: Path) -> AsyncIterator[Client]:
    """Yield a connected client; start and stop an embedded server if no URLs are set.

    ``store_dir`` holds the embedded server's config, log and JetStream data; it is not
    touched when external servers are configured.
    """
    settings = settings or NatsSettings()
    server: EmbeddedNatsServer | None = None
    if not settings.urls:
        server = EmbeddedNatsServer(store_dir)
        await server.start()
        settings = settings.model_copy(update={"urls": [server.url]})
    try:
        nc = await connect(settings)
        try:
            yield nc
        finally:
            await close_nats(nc)
    finally:
        if server is not None:
            await server.stop()
