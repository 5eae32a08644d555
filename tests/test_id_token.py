"""Self-issued ID tokens (trust.id_token): what verifies, and each reason one does not."""

from __future__ import annotations

import time

import jwt
import pytest

from trust import id_token
from trust.envelope import ReplayCache
from trust.errors import IdTokenError, TrustCode
from trust.keys import KeyPair

SENDER, RECIPIENT = KeyPair.generate(), KeyPair.generate()


def check(token: str | None, **kw: object) -> id_token.IdToken:
    return id_token.verify(token, audience=RECIPIENT.did, replay_cache=ReplayCache(), **kw)


def test_a_token_verifies_once() -> None:
    token = id_token.issue(SENDER, audience=RECIPIENT.did, credential="vc-jwt")
    cache = ReplayCache()
    checked = id_token.verify(token, audience=RECIPIENT.did, replay_cache=cache)
    assert (checked.subject, checked.signer, checked.credential) == (
        SENDER.did, SENDER.did, "vc-jwt")
    assert checked.expires_at - checked.issued_at == id_token.DEFAULT_LIFETIME_S
    with pytest.raises(IdTokenError) as caught:
        id_token.verify(token, audience=RECIPIENT.did, replay_cache=cache)
    assert caught.value.code == TrustCode.ID_TOKEN_REPLAYED


def _signed(claims: dict[str, object], key: KeyPair = SENDER) -> str:
    return jwt.encode(claims, key.private_key, algorithm="EdDSA",
                      headers={"kid": key.verification_method})


NOW = int(time.time())
GOOD = {"iss": SENDER.did, "sub": SENDER.did, "aud": RECIPIENT.did, "iat": NOW,
        "exp": NOW + 60, "jti": "j1"}


@pytest.mark.parametrize("token, code", [
    (None, TrustCode.ID_TOKEN_MISSING),
    ("a.b", TrustCode.ID_TOKEN_MALFORMED),
    (_signed({**GOOD, "aud": SENDER.did}), TrustCode.ID_TOKEN_WRONG_AUDIENCE),
    (_signed({**GOOD, "sub": RECIPIENT.did}), TrustCode.ID_TOKEN_SUBJECT_MISMATCH),
    (_signed(GOOD, key=KeyPair.generate()), TrustCode.ID_TOKEN_SUBJECT_MISMATCH),
    (_signed({**GOOD, "exp": NOW + 3600}), TrustCode.ID_TOKEN_LIFETIME),
    (_signed({**GOOD, "iat": NOW - 600, "exp": NOW - 540}), TrustCode.ID_TOKEN_EXPIRED),
    (_signed({k: v for k, v in GOOD.items() if k != "jti"}), TrustCode.ID_TOKEN_MALFORMED),
    (_signed(GOOD)[:-4] + "AAAA", TrustCode.ID_TOKEN_BAD_SIGNATURE),
])
def test_refusals(token: str | None, code: TrustCode) -> None:
    with pytest.raises(IdTokenError) as caught:
        check(token)
    assert caught.value.code == code


def test_signer_check_decides_a_rotated_key_and_runs_before_the_replay_cache() -> None:
    later = KeyPair.generate()
    token = id_token.issue(later, audience=RECIPIENT.did, identity=SENDER.did)
    seen: list[tuple[str, str]] = []
    cache = ReplayCache()

    def refuse(subject: str, signer: str, iat: int, credential: str | None) -> None:
        seen.append((subject, signer))
        raise IdTokenError("no", code=TrustCode.ID_TOKEN_MALFORMED)
    with pytest.raises(IdTokenError):
        id_token.verify(token, audience=RECIPIENT.did, replay_cache=cache, signer_check=refuse)
    assert seen == [(SENDER.did, later.did)] and len(cache) == 0
    checked = id_token.verify(token, audience=RECIPIENT.did, replay_cache=cache,
                              signer_check=lambda *args: None)
    assert (checked.subject, checked.signer) == (SENDER.did, later.did)
