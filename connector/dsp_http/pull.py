"""The consumer's loop over the HTTP pull data plane (connector.dsp_http.data_plane).

Pages of records are fetched with the data address's bearer token (renewed with a DCP ID
token before it expires), then checked and stored exactly as records off the NATS stream
(connector.data.receiving: provider credential, agreement, proof, content rules, the usage
gate). The cursor is the provider's stream sequence, kept in the store after each page
(``http_pull_positions``), so a restarted connector goes on where it stopped. A crash between
storing a page and its position reads that page again: the held records' unique (id, version)
ignores what it has, so each version still reaches the apps once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson

from connector.data.pull import endpoint_properties
from connector.data.receiving import LoopTask, Receiver, RecordRefused
from connector.errors import ConnectorCode
from trust.errors import TsunaguError

if TYPE_CHECKING:
    from connector.runtime.connector import Connector
    from connector.store.database import Store

log = logging.getLogger(__name__)

RENEW_BEFORE_S = 30  # ask for a new token this long before the current one expires


class HttpPullLoop(LoopTask):
    """Reads one transfer's records over HTTPS until stopped."""

    def __init__(self, connector: Connector, *, transfer_pid: str, agreement: dict[str, Any],
                 address: dict[str, Any], batch: int = 256, poll_s: float = 0.2,
                 credential_ttl: float = 30.0,
                 on_done: Callable[[str], None] | None = None) -> None:
        assert connector.dsp_http is not None
        self.connector, self.binding = connector, connector.dsp_http
        self.transfer_pid = transfer_pid
        self.endpoint = str(address.get("endpoint"))
        props = endpoint_properties(address)
        self.token, self.expires_at = props.get("authorization"), int(props.get("expiresAt", 0))
        self.batch, self.poll_s = batch, poll_s
        self.receiver = Receiver(connector, transfer_pid=transfer_pid, agreement=agreement,
                                 credential_ttl=credential_ttl)
        self.cursor = position(connector.store, transfer_pid)
        if not self.endpoint.startswith("https://"):
            raise RecordRefused("the data address is not an https:// endpoint",
                                code=ConnectorCode.TRANSFER_BAD_ADDRESS)

    def start(self) -> None:  # type: ignore[override]
        super().start(f"https pull {self.transfer_pid}")

    async def _run(self) -> None:
        while not self._stopping:
            try:
                if self.expires_at - time.time() < RENEW_BEFORE_S:
                    await self._renew()
                page = await self._fetch()
                records = page.get("records")
                if not isinstance(records, list) or not records:
                    await asyncio.sleep(self.poll_s)
                    continue
                await self.handle(records)
                self.cursor = max(self.cursor, int(page.get("next", self.cursor)))
                save_position(self.connector.store, self.transfer_pid, self.cursor)
            except Exception as exc:  # provider away, token refused: keep trying, never die
                why = exc.code if isinstance(exc, TsunaguError) else type(exc).__name__
                log.warning("HTTPS pull failed, retrying", extra={
                    "transfer": self.transfer_pid, "code": why})
                await asyncio.sleep(max(self.poll_s, 0.5))

    async def _fetch(self) -> dict[str, Any]:
        assert self.binding.client is not None
        async with self.binding.client.session().get(
                self.endpoint, params={"after": str(self.cursor), "limit": str(self.batch)},
                headers={"Authorization": f"Bearer {self.token}"},
                timeout=aiohttp.ClientTimeout(total=10)) as response:
            body = await response.read()
            if response.status == 401:
                self.expires_at = 0  # renewed before the next fetch
            if response.status != 200:
                raise TsunaguError(f"the data plane answered {response.status}",
                                   code=ConnectorCode.REMOTE_ERROR)
        page = orjson.loads(body)
        return page if isinstance(page, dict) else {}

    async def _renew(self) -> None:
        assert self.binding.client is not None
        provider = self.receiver.provider
        async with self.binding.client.session().post(
                self.endpoint + "/token",
                headers={"Authorization": "Bearer " + self.binding.auth.token_for(provider)},
                timeout=aiohttp.ClientTimeout(total=10)) as response:
            body = orjson.loads(await response.read() or b"{}")
            if response.status != 200 or not isinstance(body, dict):
                raise TsunaguError(f"the provider did not renew the data address token "
                                   f"({response.status})", code=ConnectorCode.REMOTE_ERROR)
        self.token, self.expires_at = body.get("authorization"), int(body.get("expiresAt", 0))

    async def handle(self, records: list[Any]) -> None:
        now = datetime.now(UTC)
        receiver = self.receiver
        items = [_item(entry) for entry in records]
        verdict = receiver.batch_verdict(now)
        if verdict is not None:
            checked: list[Any] = [verdict for _ in items]
        else:
            checked = await receiver.check_all(items, _data)
        accepted = [(result, event) for (_, event, _), result in zip(items, checked, strict=True)
                    if not isinstance(result, TsunaguError)]
        refused = [(seq, result) for (seq, _, _), result in zip(items, checked, strict=True)
                   if isinstance(result, TsunaguError)]
        delivered = receiver.store(accepted, refused, now)
        receiver.stored(delivered, [exc for _, exc in refused])


def position(store: Store, transfer_pid: str) -> int:
    """The provider's last sequence this consumer stored for ``transfer_pid`` (0: none)."""
    rows = store.query("SELECT after_seq FROM http_pull_positions WHERE transfer_pid = ?",
                       (transfer_pid,))
    return int(rows[0][0]) if rows else 0


def save_position(store: Store, transfer_pid: str, after: int) -> None:
    with store.transaction() as db:
        db.execute("INSERT INTO http_pull_positions (transfer_pid, after_seq, updated) "
                   "VALUES (?, ?, ?) ON CONFLICT (transfer_pid) DO UPDATE SET "
                   "after_seq = max(after_seq, excluded.after_seq), updated = excluded.updated",
                   (transfer_pid, after, datetime.now(UTC).isoformat()))


def _item(entry: Any) -> tuple[int, str, bytes | TsunaguError]:
    """(sequence, event, record bytes or why the entry is unusable) of one page entry."""
    if not isinstance(entry, dict) or not isinstance(entry.get("seq"), int):
        return 0, "", RecordRefused("a page entry has no sequence",
                                    code=ConnectorCode.RECORD_MALFORMED)
    event = entry.get("event")
    if event not in ("created", "updated", "deleted") or not isinstance(entry.get("record"),
                                                                        dict):
        return entry["seq"], "", RecordRefused("a page entry has no record or event",
                                               code=ConnectorCode.RECORD_MALFORMED)
    return entry["seq"], event, orjson.dumps(entry["record"])


def _data(item: tuple[int, str, bytes | TsunaguError]) -> bytes:
    data = item[2]
    if isinstance(data, TsunaguError):
        raise data
    return data
