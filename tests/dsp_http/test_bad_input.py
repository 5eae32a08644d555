"""Bad input over DSP HTTPS: a request without a valid ID token (none, forged, for another
participant, replayed, expired), from a revoked participant, or with a body that fails the
schema, names another process than its path, or a process that does not exist or is past
the message, is answered in the DSP error shape (ContractNegotiationError, TransferError,
CatalogError) with the status it means, and leaves nothing in the store."""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson
import pytest

from connector.dsp_http.auth import status_of
from connector.protocol.dsp import messages as m
from connector.protocol.dsp.validation import validate_message
from tests.dsp_http.conftest import Pair, Space
from tests.e2e.conftest import DATASET, OPEN_OFFER, PURPOSE
from trust import id_token
from trust.keys import KeyPair

TABLES = ("negotiations", "agreements", "transfers", "held_records", "audit")


def stored(connector: Any) -> dict[str, int]:
    return {t: connector.store.query(f"SELECT count(*) FROM {t}")[0][0] for t in TABLES}


def request_body(callback: str) -> dict[str, Any]:
    return m.contract_request(f"urn:uuid:{uuid.uuid4()}", {**OPEN_OFFER, "target": DATASET},
                              callback_address=callback)


def token(pair: Pair, *, key: KeyPair | None = None, audience: str | None = None,
          now: float | None = None) -> str:
    consumer = pair.consumer
    own, credential = consumer.identity.pair
    return id_token.issue(key or own, audience=audience or pair.provider.did,
                          identity=consumer.did, credential=credential, now=now)


async def post(pair: Pair, path: str, body: Any, auth: str | None) -> tuple[int, dict[str, Any]]:
    assert pair.provider.dsp_http is not None and pair.consumer.dsp_http is not None
    client = pair.consumer.dsp_http.client
    assert client is not None
    headers = {"Content-Type": "application/json"}
    if auth is not None:
        headers["Authorization"] = f"Bearer {auth}"
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    async with client.session().post(pair.provider.dsp_http.base_url + path, data=data,
                                     headers=headers) as response:
        return response.status, await response.json()


def dsp_error(body: dict[str, Any], kind: str, code: str) -> None:
    assert validate_message(body) == kind, body
    assert body["code"] == code, body


@pytest.mark.parametrize("case, status, code", [
    ("none", 401, "id_token.missing"),
    ("garbage", 401, "id_token.malformed"),
    ("other_audience", 401, "id_token.wrong_audience"),
    ("expired", 401, "id_token.expired"),
    ("forged", 401, "key.unknown"),
])
async def test_requests_without_a_valid_token(pair: Pair, case: str, status: int,
                                              code: str) -> None:
    before = stored(pair.provider)
    auth = {"none": None, "garbage": "not.a.jwt",
            "other_audience": token(pair, audience=KeyPair.generate().did),
            "expired": token(pair, now=time.time() - 3600),
            # signed by a key that is not the consumer's, claiming to be the consumer
            "forged": token(pair, key=KeyPair.generate())}[case]
    got, body = await post(pair, "/negotiations/request", request_body("https://x.example"),
                           auth)
    assert got == status
    dsp_error(body, "ContractNegotiationError", code)
    assert stored(pair.provider) == before


async def test_a_replayed_token_is_refused(pair: Pair) -> None:
    once = token(pair)
    callback = pair.consumer.dsp_http.base_url  # type: ignore[union-attr]
    got, body = await post(pair, "/negotiations/request", request_body(callback), once)
    assert got == 201 and validate_message(body) == "ContractNegotiation"
    before = stored(pair.provider)
    got, body = await post(pair, "/negotiations/request", request_body(callback), once)
    assert got == 401
    dsp_error(body, "ContractNegotiationError", "id_token.replayed")
    assert stored(pair.provider) == before


async def test_a_revoked_participant_is_refused(space: Space, pair: Pair) -> None:
    space.revoke(pair.consumer.did)
    before = stored(pair.provider)
    got, body = await post(pair, "/negotiations/request", request_body("https://x.example"),
                           token(pair))
    assert got == 403
    dsp_error(body, "ContractNegotiationError", "credential.revoked")
    got, body = await post(pair, "/catalog/request", m.catalog_request(), token(pair))
    assert got == 403
    dsp_error(body, "CatalogError", "credential.revoked")
    assert stored(pair.provider) == before


@pytest.mark.parametrize("path, body, status, code", [
    # the schema: an offer is required
    ("/negotiations/request",
     {k: v for k, v in request_body("https://x.example").items() if k != "offer"},
     400, "dsp.invalid_message"),
    # a term no context defines (closed-world JSON-LD)
    ("/negotiations/request", {**request_body("https://x.example"), "colour": "red"},
     400, "jsonld.dropped_term"),
    ("/negotiations/request", b"{not json", 400, "dsp.invalid_message"),
    # the path takes another message than the body is
    ("/negotiations/request", m.catalog_request(), 400, "dsp_http.path_mismatch"),
    # a process this provider does not have
    ("/negotiations/urn:uuid:0/termination",
     m.negotiation_termination("urn:uuid:1", "urn:uuid:0", code="x"), 404,
     "dsp.unknown_process"),
    # the path names another process than the body
    ("/negotiations/urn:uuid:9/termination",
     m.negotiation_termination("urn:uuid:1", "urn:uuid:0", code="x"), 400,
     "dsp_http.path_mismatch"),
])
async def test_bodies_that_fail(pair: Pair, path: str, body: Any, status: int,
                               code: str) -> None:
    before = stored(pair.provider)
    got, answer = await post(pair, path, body, token(pair))
    assert got == status, answer
    dsp_error(answer, "ContractNegotiationError", code)
    assert stored(pair.provider) == before


async def test_transfer_for_an_unknown_agreement(pair: Pair) -> None:
    before = stored(pair.provider)
    body = m.transfer_request(f"urn:uuid:{uuid.uuid4()}", agreement_id="urn:uuid:none",
                              format="HttpData-PULL", callback_address="https://x.example")
    got, answer = await post(pair, "/transfers/request", body, token(pair))
    assert got == 404
    dsp_error(answer, "TransferError", "transfer.unknown_agreement")
    assert stored(pair.provider) == before


async def test_a_message_the_state_does_not_allow(pair: Pair) -> None:
    """A request again after FINALIZED: 400 (DSP 2025-1, "State Transition Errors"), and the
    negotiation stays as it was."""
    consumer = pair.consumer
    started = await consumer.negotiations.start(pair.provider.did, DATASET, OPEN_OFFER["@id"],
                                                purpose=PURPOSE)
    view = await consumer.negotiations.wait(started["pid"])
    assert view["state"] == "FINALIZED"
    before = stored(pair.provider)
    again = m.contract_request(view["consumerPid"], {**OPEN_OFFER, "target": DATASET},
                               provider_pid=view["providerPid"])
    got, answer = await post(pair, f"/negotiations/{view['providerPid']}/request", again,
                             token(pair))
    assert got == 400, answer
    dsp_error(answer, "ContractNegotiationError", "dsp.invalid_transition")
    assert stored(pair.provider) == before
    assert pair.provider.negotiations.get(view["providerPid"])["state"] == "FINALIZED"


async def test_the_data_plane_takes_only_its_own_live_tokens(pair: Pair) -> None:
    """The HTTP pull endpoint: no token, one the provider did not sign, or an expired one is
    401; nothing is served and nothing stored."""
    from connector.data.pull import endpoint_properties
    from connector.dsp_http import edr

    consumer, provider = pair.consumer, pair.provider
    started = await consumer.negotiations.start(provider.did, DATASET, OPEN_OFFER["@id"],
                                                purpose=PURPOSE)
    view = await consumer.negotiations.wait(started["pid"])
    transfer = await consumer.transfers.start(view["agreementId"])
    transfer = await consumer.transfers.wait(transfer["pid"], "STARTED")
    address = transfer["dataAddress"]
    good = endpoint_properties(address)["authorization"]
    claims = {"provider": provider.did, "consumer": consumer.did,
              "agreement_id": view["agreementId"], "transfer_pid": transfer["providerPid"]}
    forged, _ = edr.issue(consumer.identity.key, lifetime_s=60, **claims)
    expired, _ = edr.issue(provider.identity.key, lifetime_s=10, now=time.time() - 60,
                           **claims)
    other, _ = edr.issue(provider.identity.key, lifetime_s=60,
                         **{**claims, "transfer_pid": "urn:uuid:other"})
    client = consumer.dsp_http.client  # type: ignore[union-attr]
    assert client is not None
    before = stored(consumer)
    for auth, status in ((None, 401), (forged, 401), (expired, 401), (other, 401),
                         (good, 200)):
        headers = {} if auth is None else {"Authorization": f"Bearer {auth}"}
        async with client.session().get(address["endpoint"], headers=headers) as response:
            assert response.status == status, (auth, await response.text())
            if status != 200:
                assert (await response.json())["code"] == "edr.invalid"
    await consumer.transfers.terminate(transfer["pid"])
    assert {k: v for k, v in stored(consumer).items() if k != "audit"} == {
        k: v for k, v in before.items() if k != "audit"}


async def test_an_unknown_dataset_is_404(pair: Pair) -> None:
    assert pair.provider.dsp_http is not None and pair.consumer.dsp_http is not None
    client = pair.consumer.dsp_http.client
    assert client is not None
    url = pair.provider.dsp_http.base_url + "/catalog/datasets/urn%3Atsunagu%3Anone"
    async with client.session().get(url, headers={
            "Authorization": f"Bearer {token(pair)}"}) as response:
        assert response.status == 404
        dsp_error(await response.json(), "CatalogError", "dataset.not_found")


async def test_a_record_altered_after_signing_is_refused_as_over_nats(pair: Pair) -> None:
    """A page entry whose record no longer matches its proof (or is no record) goes to the
    dead letters with its code, exactly as off the NATS stream; nothing of it is held."""
    from tests.e2e.conftest import record

    consumer, provider = pair.consumer, pair.provider
    started = await consumer.negotiations.start(provider.did, DATASET, OPEN_OFFER["@id"],
                                                purpose=PURPOSE)
    view = await consumer.negotiations.wait(started["pid"])
    await provider.records.publish(DATASET, record(1))
    transfer = await consumer.transfers.start(view["agreementId"])
    await consumer.transfers.wait(transfer["pid"], "STARTED")
    signed = provider.records.rows.latest("urn:tsunagu:test:shelter:1")
    assert signed is not None and "proof" in signed
    from tests.dsp_http.test_end_to_end import wait_held
    await wait_held(consumer, 1)
    loop = consumer.transfers.loops[transfer["pid"]]
    await loop.handle([{"seq": 1000, "event": "updated",
                        "record": {**signed, "name": "書き換え"}},
                       {"seq": 1001, "event": "created", "record": "not a record"}])
    dead = consumer.store.query("SELECT stream_seq, code FROM dead_letters ORDER BY stream_seq")
    assert [tuple(row) for row in dead] == [(1000, "proof.bad_signature"),
                                           (1001, "record.malformed")]
    held = consumer.store.query("SELECT body FROM held_records")
    assert len(held) == 1 and "書き換え" not in bytes(held[0][0]).decode()
    await consumer.transfers.terminate(transfer["pid"])


@pytest.mark.parametrize(("code", "status"), [
    # DSP 2025-1 HTTPS bindings: "State Transition Errors" 400, "Object Not Found" and
    # "Unauthorized Access" (authenticated, not authorized for the process) 404.
    ("dsp.invalid_transition", 400), ("dsp.not_ready", 400),
    ("transfer.agreement_inactive", 400), ("dsp.unknown_process", 404),
    ("transfer.not_assignee", 404), ("transfer.unknown_agreement", 404),
    # DCP: not authenticated 401, a credential that does not stand 403.
    ("id_token.replayed", 401), ("credential.revoked", 403), ("edr.inactive", 403)])
def test_statuses_follow_the_bindings(code: str, status: int) -> None:
    assert status_of(code) == status
