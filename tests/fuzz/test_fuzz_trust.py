"""Property: every parser of trust/ raises nothing but TsunaguError on hostile input."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from authority.state import Authority
from tests.fuzz.strategies import FUZZ, json_objects, json_values, mutated, mutated_text, only_typed
from trust import jsonld
from trust.credentials import verify_credential
from trust.envelope import ReplayCache, open_envelope, seal
from trust.keys import KeyPair, resolve_did_key
from trust.legal_id import parse_legal_id
from trust.status_list import StatusList, StatusListCache, verify_status_list

SENDER, RECIPIENT = KeyPair.generate(), KeyPair.generate()
VALID_ENVELOPE = seal({"n": 1, "s": "避難所"}, sender=SENDER, recipient=RECIPIENT.did,
                      message_type="Ping")
_AUTHORITY = Authority.init(Path(tempfile.mkdtemp(prefix="tsunagu-fuzz-")) / "a", name="fuzz")
_HOLDER = KeyPair.generate()
VALID_CREDENTIAL = _AUTHORITY.issue(did=_HOLDER.did, name="仙台市", legal_id="041009",
                                    roles=["municipality"]).jwt
STATUS_LIST = _AUTHORITY.status_list_jwt()
STATUS = StatusListCache([_AUTHORITY.did])
STATUS.add(STATUS_LIST)
NOW = datetime.now(UTC)


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_open_envelope_random_input(data):
    only_typed(lambda: open_envelope(data, recipient=RECIPIENT.did, replay_cache=ReplayCache()))


@FUZZ
@given(mutated_text(VALID_ENVELOPE), st.booleans())
def test_open_envelope_mutated_token(token, as_bytes):
    data = token.encode("utf-8", "surrogatepass") if as_bytes else token
    only_typed(lambda: open_envelope(data, recipient=RECIPIENT.did, replay_cache=ReplayCache()))


@FUZZ
@given(mutated(VALID_DOC := {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1],
                             "id": "urn:tsunagu:x:1", "type": "Record", "name": "避難所",
                             "description": "x"}))
def test_jsonld_check_no_dropped_terms_mutated_record(document):
    only_typed(lambda: jsonld.check_no_dropped_terms(document))


@FUZZ
@given(json_values(8))
def test_jsonld_expand_random_json(document):
    only_typed(lambda: jsonld.expand(document))


@FUZZ
@given(st.text(max_size=200) | mutated_text(VALID_CREDENTIAL))
def test_verify_credential_hostile_token(token):
    only_typed(lambda: verify_credential(token, [_AUTHORITY.did], STATUS, NOW))


@FUZZ
@given(st.text(max_size=120) | mutated_text(SENDER.did) | mutated_text(SENDER.verification_method)
       | st.builds(lambda s: "did:key:z" + s, st.text("123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
                                                      "abcdefghijkmnopqrstuvwxyz", max_size=60)))
def test_resolve_did_key_hostile(text):
    only_typed(lambda: resolve_did_key(text))


@FUZZ
@given(st.text(max_size=80) | st.text("0123456789 -０１２３４５６７８９", max_size=20)
       | json_values(3),
       st.sampled_from([None, "corporate_number", "local_government_code", "x", 5]))
def test_parse_legal_id_hostile(text, kind):
    only_typed(lambda: parse_legal_id(text, kind))


@FUZZ
@given(st.text(max_size=100) | st.builds(lambda s: "u" + s, st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=100))
    | json_values(2))
def test_status_list_decode_hostile(encoded):
    only_typed(lambda: StatusList.decode(encoded))


@FUZZ
@given(st.text(max_size=200) | mutated_text(STATUS_LIST))
def test_verify_status_list_hostile(token):
    only_typed(lambda: verify_status_list(token, [_AUTHORITY.did], NOW))


@FUZZ
@given(json_objects)
def test_jsonld_check_random_object_with_bundled_context(document):
    doc = {"@context": [jsonld.CREDENTIALS_V2, jsonld.TSUNAGU_V1], **document}
    only_typed(lambda: jsonld.check_no_dropped_terms(doc))


def raw_jws(header: dict, claims: dict, key: KeyPair) -> str:
    """A compact JWS built by hand: PyJWT's encoder would refuse hostile claims itself."""
    import base64
    import json

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = (b64(json.dumps(header).encode()) + b"."
                     + b64(json.dumps(claims, ensure_ascii=False).encode()))
    return (signing_input + b"." + b64(key.sign(signing_input))).decode()


def _claims(token: str) -> dict:
    import jwt as pyjwt

    return pyjwt.decode(token, options={"verify_signature": False})


VALID_CLAIMS = _claims(VALID_CREDENTIAL)
ENVELOPE_CLAIMS = _claims(VALID_ENVELOPE)


@FUZZ
@given(mutated(VALID_CLAIMS))
def test_verify_credential_validly_signed_hostile_claims(claims):
    """The signature is right, the claims are hostile: the claim checks must hold alone."""
    key = _AUTHORITY._key
    token = raw_jws({"alg": "EdDSA", "typ": "vc+jwt", "cty": "vc",
                     "kid": key.verification_method}, claims, key)
    only_typed(lambda: verify_credential(token, [_AUTHORITY.did], STATUS, NOW))


@FUZZ
@given(mutated(ENVELOPE_CLAIMS))
def test_open_envelope_validly_signed_hostile_claims(claims):
    from trust.envelope import ENVELOPE_TYP

    token = raw_jws({"alg": "EdDSA", "typ": ENVELOPE_TYP, "kid": SENDER.verification_method},
                    claims, SENDER)
    only_typed(lambda: open_envelope(token, recipient=RECIPIENT.did, replay_cache=ReplayCache(),
                                     now=ENVELOPE_CLAIMS["iat"]))
