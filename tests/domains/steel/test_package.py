"""The provenance package of one piece: the JSON-LD document carries every signed record of
the chain unaltered and a manifest from which the chain is re-verified with the package
alone; its printable page shows the chain, each link's checks, the grade checks, the banner,
the flags and the verification QR code; its PDF renders the Japanese text."""

from __future__ import annotations

import copy
import dataclasses
import io
import json
import re
from html import unescape

import pypdf
import pytest
import segno

from connector.plugins.registry import activate_plugins, plugin_contexts
from domains.steel import plugin as steel
from domains.steel.package import bundle, export, page
from domains.steel.package.qr import qr_svg
from tests.domains.steel import provenance_samples as samples
from trust import jsonld
from trust.canonical import canonical_json

URL = "https://hub.example.jp/steel"


@pytest.fixture(scope="module")
def chain():
    return samples.provenance()


@pytest.fixture(scope="module")
def package(chain):
    return bundle.build_package(chain)


def test_the_package_carries_every_record_unaltered_in_chain_order(chain, package):
    assert [canonical_json(r) for r in package["records"]] == \
        [canonical_json(r) for r in chain.records]
    manifest = package["manifest"]
    assert [e["position"] for e in manifest] == [1, 2, 3, 4, 5, 6]
    assert [e["kind"] for e in manifest] == ["certificate", "custody", "custody", "derivation",
                                             "derivation", "custody"]
    assert [e["recordId"] for e in manifest] == [link.record_id for link in chain.links]
    assert package["pieceId"] == samples.PIECE
    assert package["holder"] == {"id": samples.KEYS[samples.BUILDER].did,
                                 "name": samples.BUILDER}
    assert manifest[-1]["receiver"]["name"] == samples.BUILDER
    assert package["verifiedByExporter"] is True and package["flagged"] is False


def test_a_third_party_re_verifies_the_package_from_its_json_alone(package):
    text = json.dumps(package, ensure_ascii=False)  # what travels: the file
    assert bundle.verify_package(json.loads(text)) == []


@pytest.mark.parametrize("position", range(6))
def test_any_altered_record_is_found(package, position):
    tampered = copy.deepcopy(package)
    record = tampered["records"][position]
    key = next(k for k in record if k not in ("@context", "id", "proof"))
    record[key] = "x" if record[key] != "x" else "y"
    findings = bundle.verify_package(tampered)
    assert {f.position for f in findings} == {position + 1}
    problems = " ".join(f.problem for f in findings)
    assert "SHA-256 is not the manifest's" in problems
    assert "signature does not match the document" in problems


def test_a_byte_of_a_proof_altered_is_found(package):
    tampered = copy.deepcopy(package)
    proof = tampered["records"][0]["proof"]
    value = proof["proofValue"]
    proof["proofValue"] = value[:-1] + ("2" if value[-1] != "2" else "3")
    findings = bundle.verify_package(tampered)
    assert [f.position for f in findings if f.problem.startswith("signature")] == [1]


def test_a_record_missing_or_smuggled_in_is_found(package):
    missing = copy.deepcopy(package)
    del missing["records"][3]
    assert [(f.position, f.problem) for f in bundle.verify_package(missing)] == [
        (4, "the record is missing from the package")]
    extra = copy.deepcopy(package)
    extra["records"].append({**extra["records"][1], "id": "urn:example:custody:99"})
    assert [f.problem for f in bundle.verify_package(extra)] == [
        "a record the manifest does not list"]


def test_the_package_is_json_ld_that_keeps_the_records_as_literals(isolated_registries,
                                                                   package):
    activate_plugins([steel])
    contexts = plugin_contexts([steel])
    jsonld.check_no_dropped_terms(package, contexts)
    node = jsonld.expand(package, contexts)[0]
    literal = node[bundle._S + "records"][0]
    assert literal["@type"] == "@json" and literal["@value"] == package["records"]


def test_the_package_hash_is_sha256_of_its_rfc8785_form(package):
    digest = bundle.package_hash(package)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", digest)
    assert digest == bundle.package_hash(json.loads(json.dumps(package)))


# ---------------------------------------------------------------------------- the page

def _text(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", html))


def test_the_page_shows_the_chain_checks_grades_and_a_verified_banner(chain):
    done = export.build(chain, base_url=URL, with_pdf=False)
    html = done.html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="ja">' in html
    assert 'data-verified="true"' in html and "検証済み" in html and "未検証" not in html
    for name in (samples.MILL, samples.TRADER, samples.COIL_CENTRE, samples.BUILDER,
                 samples.CERT_NUMBER, "SCC-D-2026-0031", "SCC-D-2026-0032", samples.HEAT):
        assert name in html
    assert html.count('data-link="') == 6
    assert "12,400" in html and "3,000" in html and "500" in html
    # The grade checks per property: pass, the limit and its clause.
    row = re.search(r'<tr data-status="pass"><th scope="row">引張強さ</th>.*?</tr>', html)
    assert row and ">= 400 and <= 510" in _text(row.group()) and "JIS G 3101 表3" in row.group()
    assert "規格値は原典未照合" in html  # the elongation limit is not yet verified
    # The QR code encodes the view's URL for the piece, shown as text as well.
    assert done.verify_url == f"{URL}/pieces/{samples.PIECE}"
    assert qr_svg(done.verify_url) in html
    assert f'data-verify-url>{done.verify_url}<' in html
    assert done.digest in html
    assert 'data-flagged="true"' not in html and 'class="mark"' not in html


def test_without_a_url_the_qr_code_carries_the_package_hash(chain):
    done = export.build(chain, with_pdf=False)
    assert done.verify_url == done.digest
    assert qr_svg(done.digest) in done.html
    assert segno.make(done.digest, error="m").designator  # a real QR code of that text


def test_a_failing_link_makes_the_page_not_verified_with_its_reason():
    html = export.build(samples.failing(), with_pdf=False).html
    assert 'data-verified="false"' in html and "未検証" in html and "NOT verified" in html
    text = _text(html)
    assert "親の証明書のハッシュが一致しません（改ざんの疑い）" in text
    assert "the parent certificate's hash does not match (altered?)" in text
    assert "不一致" in text and "親証明書のハッシュ" in text


def test_a_flagged_certificate_is_marked_everywhere_it_appears():
    chain = samples.flagged()
    html = export.build(chain, with_pdf=False).html
    assert 'data-flagged="true"' in html and "規格値を満たさない項目" in html
    flagged_links = [n for n, link in enumerate(chain.links, start=1) if link.flagged]
    assert flagged_links == [1, 4, 5]
    # In the chain table, in each link's checks, in each grade table heading, and beside the
    # certificate number in the piece's facts.
    assert html.count('class="mark"') == 3 * len(flagged_links) + 1
    row = re.search(r'<tr data-status="fail"><th scope="row">引張強さ</th>.*?</tr>', html)
    assert row and "600.0" in row.group() and "不合格" in row.group()


def test_everything_shown_is_escaped(chain):
    hostile = dataclasses.replace(chain, holder_name='<script>alert("x")</script>',
                                  piece_id='<img src=x onerror=alert(1)>')
    html = export.build(hostile, base_url='https://x.example/"><script>', with_pdf=False).html
    assert "<script>" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_dates_are_shown_in_japan_time():
    assert page.when("2026-04-17T00:00:00Z") == "2026-04-17 09:00"
    assert page.when("2026-06-02T09:15:00+09:00") == "2026-06-02 09:15"


# ---------------------------------------------------------------------------- the PDF

def test_the_pdf_renders_the_japanese_page_with_cjk_fonts(chain):
    done = export.build(chain, base_url=URL)
    assert done.pdf is not None and done.pdf.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(done.pdf))
    text = "".join(p.extract_text() for p in reader.pages)
    for expected in ("材料確認資料", "検証済み", samples.BUILDER, "引張強さ", done.verify_url):
        assert expected in text.replace("\n", "")
    fonts = {str(f.get_object()["/BaseFont"]) for p in reader.pages
             for f in p["/Resources"]["/Font"].values()}
    assert any("Noto-Sans-CJK-JP" in f for f in fonts), fonts


# ---------------------------------------------------------------------------- text

def test_the_chain_as_text_lines_for_verify():
    from domains.steel.package.text import chain_lines

    lines = chain_lines(samples.provenance())
    assert lines[0] == f"{samples.PIECE} — 現在の保有者: {samples.BUILDER}"
    assert lines[1] == (" 1. ✔ 検査証明書（ミルシート） TS-MC-2026-0417 東北製鉄株式会社 "
                        "2026-04-17 09:00 12,400 kg")
    assert lines[-2].startswith(" 6. ✔ 引渡し urn:example:custody:3 仙台コイルセンター株式会社 "
                                "-> 株式会社みやぎ建設")
    assert lines[-1] == "検証済み：すべての署名と連鎖を確認しました"
    failing = chain_lines(samples.failing(), "en")
    assert "      ✖ parent certificate hash: the parent certificate's hash does not match " \
           "(altered?)" in failing
    assert failing[-1] == "NOT verified: some records could not be checked"
    flagged = chain_lines(samples.flagged())
    assert "      ⚠ 引張強さ 600.0 (>= 400 and <= 510, JIS G 3101 表3 (機械的性質))" in flagged
    assert flagged[-1].endswith("要確認：規格値を満たさない項目のある証明書を含みます")


def test_records_held_as_read_only_mappings_travel_as_the_same_json(chain):
    from types import MappingProxyType

    frozen = dataclasses.replace(chain, records=tuple(
        MappingProxyType({**r, "proof": MappingProxyType(r["proof"])}) for r in chain.records))
    package = json.loads(json.dumps(bundle.build_package(frozen)))
    assert bundle.verify_package(package) == []
    assert [canonical_json(r) for r in package["records"]] == \
        [canonical_json(r) for r in chain.records]


def test_a_chain_whose_record_is_not_the_one_it_names_is_not_verified(chain):
    """The chain side says verified, but a record it hands over is not the one its link
    names: the exporter's own re-verification makes the package and the page NOT verified."""
    other = samples.provenance(tensile=460)  # a different mill record, same id
    swapped = dataclasses.replace(chain, records=(other.records[0], *chain.records[1:]))
    assert swapped.verified
    done = export.build(swapped, with_pdf=False)
    assert done.package["verifiedByExporter"] is False
    assert done.package["problems"] == [
        f"1. {chain.links[0].record_id}: the record does not match the chain's recordHash"]
    assert 'data-verified="false"' in done.html
    assert f"1. {chain.links[0].record_id}: 記録が来歴の示す記録と一致しません" in done.html
