"""EN 10168 v0.5.0 JSON documents: schema validation and a check of every embedded file
(data: URLs for logos and stamps, the Attachments group), so that a broken base64 PDF is
refused at import and not discovered by an inspector."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from jsonschema import Draft201909Validator

from domains.steel import vocab
from domains.steel.errors import Problem, SteelCode


@cache
def _validator() -> Draft201909Validator:
    schema = json.loads(vocab.EN10168_SCHEMA.read_bytes())
    return Draft201909Validator(schema, format_checker=Draft201909Validator.FORMAT_CHECKER)


def _pointer(parts: Any) -> str:
    return "/" + "/".join(str(p) for p in parts)


def schema_problems(document: Any) -> list[Problem]:
    return [Problem(_pointer(e.absolute_path), SteelCode.CERTIFICATE_INVALID, e.message[:200])
            for e in _validator().iter_errors(document)]


def _data_urls(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _data_urls(v, f"{path}/{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _data_urls(v, f"{path}/{i}")
    elif isinstance(value, str) and value.startswith("data:") and ";base64," in value[:100]:
        yield path, value


def _file_problem(mime: str, data: str) -> str | None:
    """Why ``data`` (base64) is not a file of type ``mime``, or None."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return "not valid base64"
    # Only the ends of the file are checked: enough to catch truncation and mislabelling.
    if mime == "image/png" and not (raw.startswith(b"\x89PNG\r\n\x1a\n")
                                    and raw.rstrip(b"\0").endswith(b"IEND\xaeB`\x82")):
        return "not a complete PNG image (truncated or another format)"
    if mime in ("image/jpeg", "image/jpg") and not (raw.startswith(b"\xff\xd8")
                                                    and b"\xff\xd9" in raw[-16:]):
        return "not a complete JPEG image"
    if mime == "application/pdf" and not (raw.startswith(b"%PDF-") and b"%%EOF" in raw[-1024:]):
        return "not a complete PDF (no %PDF- header or %%EOF trailer)"
    if mime == "application/json":
        try:
            json.loads(raw)
        except ValueError:
            return "not valid JSON"
    return None


def attachment_problems(document: Any) -> list[Problem]:
    problems = []
    for path, url in _data_urls(document):
        head, _, data = url.partition(",")
        # The upstream examples write "base64, JVBER…": a space after the comma is tolerated.
        why = _file_problem(head.removeprefix("data:").split(";")[0].lower(), data.strip())
        if why:
            problems.append(Problem(path, SteelCode.ATTACHMENT_BROKEN, why))
    certificate = document.get("Certificate") if isinstance(document, dict) else None
    for i, item in enumerate((certificate or {}).get("Attachments") or []):
        if isinstance(item, dict) and str(item.get("Encoding", "")).lower() == "base64":
            why = _file_problem(str(item.get("MIME-Type", "")).lower(), str(item.get("Data")))
            if why:
                problems.append(Problem(f"/Certificate/Attachments/{i}/Data",
                                        SteelCode.ATTACHMENT_BROKEN, why))
    return problems


def refusals(document: Any) -> list[Problem]:
    """Every reason to refuse ``document`` whole (schema first: attachments of a document that
    is not EN 10168 are not looked at)."""
    return schema_problems(document) or attachment_problems(document)
