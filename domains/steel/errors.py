"""The codes the steel hub raises (``trust.errors`` explains the registry), and its error
class. Messages name JSON paths (``/Certificate/Inspection/C71``) and the rule broken.

Blocks by feature, so that work on one feature merges cleanly with work on another.
"""

from __future__ import annotations

from dataclasses import dataclass

from trust.errors import ErrorCode, ValidationError


class SteelCode(ErrorCode):
    # ---- EN 10168 and CSV import/export (domains.steel.en10168, domains.steel.csv_import) ----
    CERTIFICATE_INVALID = ("steel.certificate_invalid",
                           "an EN 10168 certificate fails the v0.5.0 JSON schema")
    ATTACHMENT_BROKEN = ("steel.attachment_broken",
                         "an attachment or embedded image is not valid base64, or its bytes "
                         "are not the file its MIME type says (a truncated PNG or PDF)")
    RECORD_INVALID = "steel.record_invalid", "a steel record fails its JSON schema"
    CSV_INVALID = ("steel.csv_invalid",
                   "a CSV row lacks a mapped column or holds a value the mapping cannot read")
    # ---- Grade checks (domains.steel.grades, domains.steel.checks): flags, not refusals ----
    UNIT_SLIP = ("steel.unit_slip",
                 "a value is impossible in its unit (a carbon content of 150 %, a tensile "
                 "strength that reads as kgf/mm2 where MPa is expected)")
    GRADE_LIMIT = "steel.grade_limit", "a result is outside its grade's limit"
    HEAT_MISMATCH = ("steel.heat_mismatch",
                     "the heat numbers of the product group (B07) and the inspection group "
                     "(C00) differ")
    GRADE_UNKNOWN = ("steel.grade_unknown",
                     "the certificate names no grade the steel hub holds limits for")
    # ---- provenance package and supply-chain view (domains.steel.package, .view) ----
    CHAIN_UNAVAILABLE = ("steel.chain_unavailable",
                         "chain verification is not available in this installation")
    SOURCE_UNREADABLE = ("steel.source_unreadable",
                         "a records file or directory cannot be read as signed records")
    # ---- Chain of custody and derived certificates (domains.steel.custody, .derivation,
    # .verify, .hub): refusals, each with the piece and the party named ----
    NOT_HOLDER = ("steel.not_holder",
                  "the sender (or processor) does not hold the piece at that point of its "
                  "chain: it never held it, already transferred it, or it was split")
    UNKNOWN_PIECE = ("steel.unknown_piece",
                     "no certificate or derived certificate in the chain names the piece")
    ALREADY_SPLIT = ("steel.already_split",
                     "the parent piece was already split by an earlier derived certificate")
    MASS_EXCEEDED = ("steel.mass_exceeded",
                     "the pieces, scrap and kerf of a derivation weigh more than the parent "
                     "piece plus the tolerance")
    PARENT_HASH = ("steel.parent_hash_mismatch",
                   "a derived certificate's parent hash is not the hash of the parent record")
    CHAIN_INVALID = ("steel.chain_invalid",
                     "a record of the chain is malformed, unsigned, missing or signed by "
                     "someone other than the party it names")
    NO_AGREEMENT = ("steel.no_agreement",
                    "the sender holds no active agreement with the receiver for its custody "
                    "events")


@dataclass(frozen=True)
class Problem:
    """One reason to refuse or flag a certificate: where, which code, why."""

    path: str
    code: SteelCode
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "code": str(self.code), "message": self.message}


class CertificateRefused(ValidationError):
    """A certificate refused whole: nothing of it is stored. ``problems`` lists every reason."""

    code = SteelCode.CERTIFICATE_INVALID

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.path}: [{p.code}] {p.message}" for p in problems),
                         code=problems[0].code, field=problems[0].path)


class ChainRefused(ValidationError):
    """A custody event or a derivation refused whole, with a reason in Japanese and English
    (the English one is the exception's message)."""

    def __init__(self, code: SteelCode, reason_en: str, reason_ja: str, *,
                 piece: str | None = None) -> None:
        self.reason_en, self.reason_ja, self.piece = reason_en, reason_ja, piece
        super().__init__(reason_en, code=code, field=piece)
