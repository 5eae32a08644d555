"""Structured logging with a redaction guard.

Log calls pass identifiers (DIDs, record ids, codes) as ``extra`` fields, never record bodies.
As a second line of defence the formatter masks anything that looks like key material
(PEM blocks, Multikey secrets, JWTs, NATS seeds, app tokens, staff session secrets, TOTP
secrets, password hashes) before a line is written.
"""

from __future__ import annotations

import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

import orjson

_SECRET_PATTERNS = [
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"\bz3u2[1-9A-HJ-NP-Za-km-z]{40,}"),  # Multikey Ed25519 secret (0x8026)
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWS / JWT
    re.compile(r"\bS[A-Z]A[A-Z2-7]{50,}"),  # NATS nkey seeds
    re.compile(r"\b(?:tsu|sts)_[A-Za-z0-9_-]{40,}"),  # app tokens, staff session secrets
    re.compile(r"(?<=[?&]secret=)[A-Z2-7]{16,}=*"),  # TOTP secrets in otpauth:// URIs
    re.compile(r"\$argon2id?\$[^\s\"']+"),  # password hashes
]
_STANDARD_ATTRS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    return text


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD_ATTRS}


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(_extras(record))
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
        line = orjson.dumps(entry, default=str).decode()
        return redact(line)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in _extras(record).items())
        line = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        return redact(f"{line} {extras}".rstrip())


def configure_logging(fmt: str = "text", level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLineFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
