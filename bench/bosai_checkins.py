"""How bench/bosai.py checks people in: the path is part of what is measured, so the JSON names
it (``checkin_path``).

* ``operator`` (what ``auto`` picks): a shelter operator of the city's region runs its own
  connector (its own NATS user, agreement on the city's evacuee registry, a transfer that
  delivered every Evacuee record to it). Its app posts ``POST /domains/bosai/checkins`` to
  that connector, which signs a contribution of ``stayLocation`` and sends it to the city's
  connector over NATS; the city checks signature, agreement, policy and the domain's rule,
  then publishes the new Evacuee version and moves the person in its registry in one
  transaction, which bumps the dashboard's change feed.
* ``hub``: the municipality hub's own path in the city's connector (``Registry.update_stay``
  and the change feed), as the city's own reception would check someone in: no second
  connector, no signature, no network hop. For comparison.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson

from authority.space import AuthorityNats
from authority.state import Authority
from bench.stream import BenchError
from connector.api.tokens import TokenStore
from connector.runtime.connector import Connector
from domains.bosai.api import CHECKIN
from domains.bosai.demo import OPERATORS, agree, evacuee_dataset, held_count
from domains.bosai.demo_space import api_port, participant, until

CHECKIN_PATHS = ("auto", "operator", "hub")
OPERATOR = OPERATORS[0]  # the region's operator: the city names it when it offers its registry


class CheckIns(Protocol):
    path: str
    detail: str

    async def check_in(self, person_id: str, shelter_id: str) -> None: ...

    async def close(self) -> None: ...


class HubCheckIns:
    path = "hub"
    detail = ("the municipality hub's own check-in: Registry.update_stay in the city's "
              "connector (publishes the new Evacuee version), then its change feed; no "
              "shelter operator connector")

    def __init__(self, city: Connector) -> None:
        self.hub = city.plugin_services["bosai"]

    async def check_in(self, person_id: str, shelter_id: str) -> None:
        self.hub.registry.update_stay(person_id, {"stayType": "shelter", "shelterId": shelter_id},
                                      by="bench:reception")
        self.hub.feed.notify("Evacuee")

    async def close(self) -> None:
        pass


class OperatorCheckIns:
    path = "operator"
    detail = ("a shelter operator's app -> POST /domains/bosai/checkins on the operator's own "
              "connector -> signed contribution of stayLocation over NATS -> the city's "
              "connector checks and publishes the new Evacuee version and moves the person "
              "in its registry in one transaction -> change feed")

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}",
                                                   "Content-Type": "application/json"})

    async def check_in(self, person_id: str, shelter_id: str) -> None:
        body = {"record": person_id, "action": "check_in", "shelterId": shelter_id}
        async with self.http.post(self.url, data=orjson.dumps(body)) as resp:
            if resp.status != 200:
                raise BenchError(f"check-in refused: HTTP {resp.status} "
                                 f"{(await resp.read())[:300]!r}")

    async def close(self) -> None:
        await self.http.close()


async def operator_checkins(root: Path, authority: Authority, nats: AuthorityNats,
                            city: Connector, running: list[Connector], people: int,
                            timeout: float) -> OperatorCheckIns:
    """Onboard the operator, agree on the city's registry, and wait until its transfer has
    delivered all ``people`` records (so that nothing but check-ins runs while timing)."""
    operator, _ = await participant(root, authority, nats, "operator", OPERATOR.name,
                                     OPERATOR.legal_id, OPERATOR.role, api=True)
    running.append(operator)
    operator.facts.set("disasterPhase", "response")
    dataset = evacuee_dataset(city)
    await agree(operator, city, dataset)
    try:
        await until(lambda: held_count(operator, dataset) >= people, timeout=timeout)
    except TimeoutError:
        raise BenchError(f"the operator holds {held_count(operator, dataset)} of {people} "
                         f"records after {timeout:.0f} s") from None
    token = TokenStore(operator.store).issue([CHECKIN], days=1).token
    port = api_port(operator)
    return OperatorCheckIns(f"http://127.0.0.1:{port}/domains/bosai/checkins", token)


async def open_checkins(path: str, root: Path, authority: Authority, nats: AuthorityNats,
                        city: Connector, running: list[Any], people: int,
                        timeout: float = 1800.0) -> CheckIns:
    """The check-in path asked for (``auto``: through a shelter operator's connector)."""
    if path == "hub":
        return HubCheckIns(city)
    return await operator_checkins(root, authority, nats, city, running, people, timeout)
