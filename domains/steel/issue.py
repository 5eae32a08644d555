"""A steel mill issues a certificate: its record names the mill's legal identity (法人番号)
as its participant credential states it, never as the certificate's A01 text says it. The
connector then signs the record on its own (one eddsa-jcs-2022 proof per certificate)."""

from __future__ import annotations

from typing import Any

from domains.steel.certificate import to_record
from trust.credentials import VerifiedCredential
from trust.errors import ValidationError
from trust.legal_id import LegalIdKind


class NotASteelMill(ValidationError):
    """Only a participant whose credential holds the steel_mill role and a 法人番号 issues."""


def issue(document: Any, credential: VerifiedCredential, *,
          product_ids: list[str] | None = None) -> dict[str, Any]:
    """The record a mill publishes for ``document`` (refused whole if the document is)."""
    roles = {str(r) for r in credential.roles}
    legal = credential.legal_id
    if "steel_mill" not in roles or legal.kind != LegalIdKind.CORPORATE_NUMBER:
        raise NotASteelMill("a certificate is issued by a steel_mill participant with a "
                            "法人番号 in its credential", field="credential")
    return to_record(document, product_ids=product_ids, legal_id=legal.value)
