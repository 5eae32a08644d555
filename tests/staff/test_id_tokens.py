"""ID token checks (connector.api.staff.oidc.verify_id_token) on tokens signed here with
real keys: a token from another issuer, for another audience, signed by another key,
expired, with another nonce, unsigned or MAC'd with a shared secret is refused with its
own code; the right one passes."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, OctKey, RSAKey

from connector.api.problems import status_of
from connector.api.staff.oidc import OidcError, verify_id_token

ISSUER, CLIENT, NONCE = "https://idp.city.example", "tsunagu-dashboard", "n-0S6_WzA2Mj"
NOW = datetime(2026, 4, 30, 6, 0, tzinfo=UTC)
SIGNER = RSAKey.generate_key(2048, parameters={"kid": "idp-1", "alg": "RS256"}, private=True)
PROVIDER_KEYS = KeySet.import_key_set({"keys": [SIGNER.as_dict(private=False)]})


def claims(**changes):
    base = {"iss": ISSUER, "aud": CLIENT, "sub": "hanako-at-city", "nonce": NONCE,
            "iat": int(NOW.timestamp()), "exp": int((NOW + timedelta(minutes=5)).timestamp())}
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload, key=SIGNER, alg="RS256", kid="idp-1"):
    return jwt.encode({"alg": alg, "kid": kid}, payload, key)


def check(token, nonce=NONCE):
    return verify_id_token(token, PROVIDER_KEYS, issuer=ISSUER, client_id=CLIENT, nonce=nonce,
                           now=NOW)


def refused(token, nonce=NONCE) -> str:
    with pytest.raises(OidcError) as info:
        check(token, nonce)
    assert status_of(info.value) == 401
    return info.value.code


def test_a_token_of_the_configured_provider_for_this_login_passes():
    assert check(signed(claims()))["sub"] == "hanako-at-city"
    assert check(signed(claims(aud=[CLIENT], azp=CLIENT)))["sub"] == "hanako-at-city"


@pytest.mark.parametrize(("payload", "code"), [
    (claims(iss="https://idp.other-city.example"), "oidc.wrong_issuer"),
    (claims(iss=None), "oidc.wrong_issuer"),  # missing: not the configured one
    (claims(aud="another-app"), "oidc.wrong_audience"),
    (claims(aud=["another-app", CLIENT]), "oidc.wrong_audience"),  # no azp naming us
    (claims(exp=int((NOW - timedelta(minutes=2)).timestamp())), "oidc.expired"),
    (claims(nonce="another-login"), "oidc.wrong_nonce"),
    (claims(nonce=None), "oidc.wrong_nonce"),
    (claims(sub=None), "oidc.invalid_token"),
])
def test_claims_that_do_not_hold_are_refused_each_with_its_code(payload, code):
    assert refused(signed(payload)) == code


def test_a_signature_by_another_key_is_refused():
    impostor = RSAKey.generate_key(2048, parameters={"kid": "idp-1"}, private=True)
    assert refused(signed(claims(), key=impostor)) == "oidc.bad_signature"
    unknown_kid = RSAKey.generate_key(2048, parameters={"kid": "other"}, private=True)
    assert refused(signed(claims(), key=unknown_kid, kid="other")) == "oidc.bad_signature"
    ec = ECKey.generate_key("P-256", parameters={"kid": "idp-1"}, private=True)
    assert refused(signed(claims(), key=ec, alg="ES256")) == "oidc.bad_signature"


def test_a_tampered_payload_is_refused():
    header, _, signature = signed(claims()).split(".")
    forged = base64.urlsafe_b64encode(json.dumps(claims(sub="admin")).encode()).rstrip(b"=")
    assert refused(f"{header}.{forged.decode()}.{signature}") == "oidc.bad_signature"


def test_unsigned_and_shared_secret_tokens_are_refused():
    def b64(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    assert refused(f"{b64({'alg': 'none'})}.{b64(claims())}.") in (
        "oidc.invalid_token", "oidc.bad_signature")
    secret = OctKey.import_key("the-client-secret-used-as-a-key-0123456789")
    assert refused(signed(claims(), key=secret, alg="HS256")) in (
        "oidc.invalid_token", "oidc.bad_signature")
    assert refused("not a jwt") == "oidc.invalid_token"
