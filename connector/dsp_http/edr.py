"""The token of an HTTP pull data address (an EDR, "endpoint data reference"), pure.

The provider signs it with its own key (EdDSA): ``iss`` the provider, ``aud`` the consumer,
``sub`` the agreement it names, ``transfer`` the provider's transfer pid, a short ``exp``.
Only the provider reads it back: the consumer presents it as a bearer token. It names the
agreement and transfer so the provider checks, on every pull, that both are still active:
a terminated transfer or ended agreement stops the data at once, whatever the token's
lifetime.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from connector.errors import ConnectorCode
from trust.errors import TsunaguError
from trust.keys import KeyPair

TYP = "tsunagu-edr+jwt"


class EdrError(TsunaguError):
    code = ConnectorCode.EDR_INVALID


@dataclass(frozen=True)
class Edr:
    consumer: str
    agreement_id: str
    transfer_pid: str
    expires_at: int


def issue(key: KeyPair, *, provider: str, consumer: str, agreement_id: str,
          transfer_pid: str, lifetime_s: int, now: float | None = None) -> tuple[str, int]:
    """The token and when it expires (epoch seconds)."""
    issued = int(now if now is not None else time.time())
    claims = {"iss": provider, "aud": consumer, "sub": agreement_id, "transfer": transfer_pid,
              "iat": issued, "exp": issued + lifetime_s, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, key.private_key, algorithm="EdDSA",
                       headers={"typ": TYP, "kid": key.verification_method})
    return token, issued + lifetime_s


def verify(token: str | None, *, keys: list[KeyPair], provider: str, transfer_pid: str
           ) -> Edr:
    """The token's claims if this provider signed it (with one of ``keys``: the current one
    and, after a rotation, the one before), for ``transfer_pid``, and it has not expired."""
    if not token:
        raise EdrError("no data address token (Authorization: Bearer <token>)")
    for key in keys:
        try:
            claims = jwt.decode(token, key.public_key, algorithms=["EdDSA"],
                                options={"require": ["iss", "aud", "sub", "exp", "transfer"],
                                         "verify_aud": False})
        except jwt.exceptions.InvalidSignatureError:
            continue
        except jwt.exceptions.ExpiredSignatureError:
            raise EdrError("the data address token has expired; ask for a new one") from None
        except jwt.exceptions.PyJWTError as exc:
            raise EdrError(f"the data address token cannot be read: {exc}") from None
        if claims["iss"] != provider or claims["transfer"] != transfer_pid:
            raise EdrError("the data address token is for another transfer")
        return Edr(consumer=str(claims["aud"]), agreement_id=str(claims["sub"]),
                   transfer_pid=str(claims["transfer"]), expires_at=int(claims["exp"]))
    raise EdrError("the data address token is not this provider's")
