"""trust.nats_jwt: NATS JWTs byte-compatible with the Go nats-io/jwt library."""

from __future__ import annotations

import base64
import json

import pytest

from trust import nats_jwt
from trust.nats_jwt import AccountLimits, Export, Import, NatsJwtError, Permissions

# Tokens written by the Go library (nsc), found in public repositories: a user JWT from a
# test fixture and a self-signed operator JWT (with exp) from a deployment guide.
GO_USER = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJqdGkiOiJETFRGNFpLVVdNNFRPRkVNQko0UEUzTVFF"
    "VlhIUkJJN0xZNDdZNEMzNTNMWlJKSU5CUkJRIiwiaWF0IjoxNjI0ODg1NzMwLCJpc3MiOiJBQVlKRFZMWkdXTjdZM0ZC"
    "UENWWENSVlFaREZNWUdIVTRZWExHU1hYN1UyNTRLSDVTQzNSNVFLTSIsIm5hbWUiOiJ1c2VyIiwic3ViIjoiVUQzQkdX"
    "SUJQVTNDV0w0SE9VVTRWSkVRV1RVQVNBRUc2T0ozWEhNM0VFSk5BMlBBM1VWTllUWk4iLCJuYXRzIjp7InB1YiI6e30s"
    "InN1YiI6e30sInN1YnMiOi0xLCJkYXRhIjotMSwicGF5bG9hZCI6LTEsInR5cGUiOiJ1c2VyIiwidmVyc2lvbiI6Mn19"
    ".YmFL5nRMkEOXe77sQJPPRv_vwi89tzhVVl0AVjE4sXWyoWIHiCepNw28DbpJ0p_MlT8Qf0SY2cjAhIm-Qi7lDw"
)
GO_OPERATOR = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.eyJleHAiOjE3ODE2MzI0NjUsImp0aSI6IkJWQVZUQkc1"
    "M01aMkFaSTVYUjRFNVlPS0xHTk5ZTE40SllYV0U3T1I1M0VQSDJOU0pFSEEiLCJpYXQiOjE2MjM5NTI0NjUsImlzcyI6"
    "Ik9DTENLS1UzS0lMWjZaRDRESDNWNTdUSkJESUdKSllMWk1RNEhKUU9DNFJFUVEyVkFUVU01SlA1IiwibmFtZSI6IklT"
    "ZWNMLW9wZXJhdG9yIiwic3ViIjoiT0NMQ0tLVTNLSUxaNlpENERIM1Y1N1RKQkRJR0pKWUxaTVE0SEpRT0M0UkVRUTJW"
    "QVRVTTVKUDUiLCJuYXRzIjp7InR5cGUiOiJvcGVyYXRvciIsInZlcnNpb24iOjJ9fQ.PDlhAwk1cLHpbCCAJhKGKvv36"
    "J_NXc2PSsn6i3znmjDYHXG3C_HhO9zxsln9Bd9ViolRw_L10N1QwoMjzCBtBQ"
)


def payload_bytes(token: str) -> bytes:
    part = token.split(".")[1]
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


@pytest.mark.parametrize("token", [GO_USER, GO_OPERATOR], ids=["user", "operator"])
def test_go_tokens_verify_and_our_jti_and_json_match_go(token: str) -> None:
    claims = nats_jwt.decode(token, now=1_700_000_000)
    assert nats_jwt.claims_hash(claims) == claims["jti"]
    assert nats_jwt.go_json(claims) == payload_bytes(token)  # same bytes as Go's Marshal


def test_go_json_escapes_like_go() -> None:
    assert nats_jwt.go_json({"s": "a.> <&>", "n": "名"}) == (
        '{"s":"a.\\u003e \\u003c\\u0026\\u003e","n":"名"}'.encode()
    )


def test_minted_tokens_decode_with_the_claims_the_server_reads() -> None:
    operator = nats_jwt.generate_key("operator")
    exporter, importer = nats_jwt.generate_key("account"), nats_jwt.generate_key("account")
    user = nats_jwt.generate_key("user")
    exp_pub, imp_pub = nats_jwt.public_key(exporter), nats_jwt.public_key(importer)

    op = nats_jwt.decode(
        nats_jwt.operator_jwt(operator, "op", system_account=exp_pub), expected_type="operator"
    )
    assert op["iss"] == op["sub"] == nats_jwt.public_key(operator)
    assert op["nats"] == {"system_account": exp_pub, "type": "operator", "version": 2}

    activation = nats_jwt.activation_jwt(exporter, imp_pub, "data.x.>", "stream", iat=100)
    act = nats_jwt.decode(activation, expected_type="activation")
    assert (act["iss"], act["sub"], act["iat"]) == (exp_pub, imp_pub, 100)
    assert act["nats"] == {
        "subject": "data.x.>",
        "kind": "stream",
        "type": "activation",
        "version": 2,
    }

    exports = [
        Export("z.svc", "service", response_type="Stream"),
        Export("a.*", "stream", token_req=True),
    ]
    imports = [Import("data.x.>", exp_pub, "stream", token=activation, local_subject="from.x.>")]
    account = nats_jwt.decode(
        nats_jwt.account_jwt(
            operator, imp_pub, "B",
            limits=AccountLimits(conn=5, mem_storage=0, disk_storage=1 << 30),
            exports=exports, imports=imports, revocations={nats_jwt.public_key(user): 123},
        ),
        expected_type="account",
    )  # fmt: skip
    body = account["nats"]
    assert [e["subject"] for e in body["exports"]] == ["a.*", "z.svc"]  # sorted as Go does
    assert body["exports"][0] == {"subject": "a.*", "type": "stream", "token_req": True}
    assert body["exports"][1]["response_type"] == "Stream"
    assert body["imports"] == [
        {"subject": "data.x.>", "account": exp_pub, "token": activation,
         "local_subject": "from.x.>", "type": "stream"}
    ]  # fmt: skip
    # Zero limits are omitted (Go omitempty): no mem_storage key, JetStream on disk only.
    assert body["limits"] == {
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
        "wildcards": True, "conn": 5, "leaf": -1, "disk_storage": 1 << 30,
        "streams": -1, "consumer": -1,
    }  # fmt: skip
    assert body["revocations"] == {nats_jwt.public_key(user): 123}

    perms = Permissions(pub_allow=("a.>",), sub_deny=("b",), resp_max=1, resp_ttl_seconds=1.5)
    claims = nats_jwt.decode(
        nats_jwt.user_jwt(importer, nats_jwt.public_key(user), "u", perms), expected_type="user"
    )
    assert claims["iss"] == imp_pub
    assert claims["nats"]["pub"] == {"allow": ["a.>"]}
    assert claims["nats"]["sub"] == {"deny": ["b"]}
    assert claims["nats"]["resp"] == {"max": 1, "ttl": 1_500_000_000}  # Go Duration: ns
    assert claims["jti"] == nats_jwt.claims_hash(claims)


def test_tampering_wrong_signers_and_bad_keys_are_refused() -> None:
    operator, account = nats_jwt.generate_key("operator"), nats_jwt.generate_key("account")
    token = nats_jwt.account_jwt(operator, nats_jwt.public_key(account), "A")
    header, payload, sig = token.split(".")
    claims = json.loads(payload_bytes(token))
    claims["nats"]["limits"]["conn"] = 1000
    forged = base64.urlsafe_b64encode(nats_jwt.go_json(claims)).rstrip(b"=").decode()
    with pytest.raises(NatsJwtError) as err:
        nats_jwt.decode(f"{header}.{forged}.{sig}")
    assert err.value.code == "nats.jwt_signature"

    with pytest.raises(NatsJwtError, match="signed by an operator"):
        nats_jwt.account_jwt(account, nats_jwt.public_key(account), "self-signed")
    with pytest.raises(NatsJwtError, match="expected a user"):
        nats_jwt.decode(token, expected_type="user")
    pub = nats_jwt.public_key(account)
    with pytest.raises(NatsJwtError, match="checksum"):
        nats_jwt.account_jwt(operator, pub[:-1] + ("B" if pub[-1] == "A" else "A"), "bad")
    with pytest.raises(NatsJwtError, match="expired"):
        nats_jwt.decode(GO_OPERATOR, now=1_800_000_000)


def test_same_second_versions_share_a_jti() -> None:
    """The Go hash covers only the standard claims: callers must advance iat per version."""
    operator, account = nats_jwt.generate_key("operator"), nats_jwt.generate_key("account")
    pub = nats_jwt.public_key(account)
    v1 = nats_jwt.decode(nats_jwt.account_jwt(operator, pub, "A", iat=10))
    v2 = nats_jwt.decode(
        nats_jwt.account_jwt(operator, pub, "A", iat=10, exports=[Export("x", "stream")])
    )
    v3 = nats_jwt.decode(nats_jwt.account_jwt(operator, pub, "A", iat=11))
    assert v1["jti"] == v2["jti"] != v3["jti"]


def test_creds_round_trip() -> None:
    account, user = nats_jwt.generate_key("account"), nats_jwt.generate_key("user")
    token = nats_jwt.user_jwt(account, nats_jwt.public_key(user), "u")
    text = nats_jwt.format_creds(token, nats_jwt.seed(user))
    assert text.startswith("-----BEGIN NATS USER JWT-----\n")
    creds = nats_jwt.parse_creds(text)
    assert (creds.jwt, creds.seed) == (token, nats_jwt.seed(user))
    assert nats_jwt.seed(user) not in repr(creds)
    with pytest.raises(NatsJwtError):
        nats_jwt.parse_creds(f"-----BEGIN NATS USER JWT-----\n{token}\n")
