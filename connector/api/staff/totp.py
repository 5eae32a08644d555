"""TOTP (RFC 6238) codes with the time step they match, so a used step can be refused.

pyotp computes the codes; what it does not keep is *which* step a code matched, and a code
may be accepted once only (RFC 6238 section 5.2): the caller stores the step and refuses any
code of that step or an earlier one.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp

STEP_S = 30
DRIFT_STEPS = 1  # a code of the previous or next step is still accepted (clock drift)


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, login: str, issuer: str) -> str:
    """The otpauth:// URI an authenticator app reads (as a QR code or typed in)."""
    return pyotp.TOTP(secret, interval=STEP_S).provisioning_uri(name=login, issuer_name=issuer)


def step_of(at: datetime) -> int:
    return int(at.timestamp()) // STEP_S


def matching_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step ``code`` is the code of (within the drift), or None."""
    code = code.strip().replace(" ", "")
    if not (code.isascii() and code.isdigit() and len(code) == 6):
        return None
    totp, now = pyotp.TOTP(secret, interval=STEP_S), step_of(at)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # every step is compared, in constant time: no early exit tells which one matched
        if hmac.compare_digest(totp.at(step * STEP_S), code):
            found = step
    return found


def code_at(secret: str, at: datetime) -> str:
    """The code of the step ``at`` falls in (for tests and the CLI's self-check)."""
    return pyotp.TOTP(secret, interval=STEP_S).at(at)
