"""``tsunagu steel export --piece ID --from FILE_OR_DIR --out DIR [--url BASE]``: records read
from a package or a directory, the chain verified (domains.steel.verify), the package, page
and PDF written."""

from __future__ import annotations

import copy
import json

from connector.cli.main import build_parser, main
from domains.steel import cli
from domains.steel.package import bundle
from tests.domains.steel import chain
from tests.domains.steel import provenance_samples as samples
from trust.canonical import canonical_json


def _records_dir(tmp_path, chain):
    records = tmp_path / "records"
    records.mkdir()
    for n, record in enumerate(chain.records):
        (records / f"{n:02d}.jsonld").write_text(json.dumps(record, ensure_ascii=False),
                                                 encoding="utf-8")
    return records


def _builder(chain):
    """The chain side's stand-in: the sample chain, if it is given exactly its records."""
    def build(records, piece_id):
        assert piece_id == chain.piece_id
        assert [canonical_json(r) for r in records] == [canonical_json(r) for r in chain.records]
        return chain
    return build


def _write(tmp_path, records):
    folder = tmp_path / "records"
    folder.mkdir()
    for n, record in enumerate(records):
        (folder / f"{n:02d}.jsonld").write_text(json.dumps(record, ensure_ascii=False),
                                                encoding="utf-8")
    return folder


def test_export_verifies_a_real_signed_chain_and_packs_it(tmp_path, capsys):
    records, piece = chain.six_levels()
    out = tmp_path / "out"
    status = main(["steel", "export", "--piece", piece, "--from", str(_write(tmp_path, records)),
                   "--out", str(out), "--no-pdf"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0
    assert lines[-1].startswith(f"{piece}: 6 links, verified, sha256:")
    package = json.loads((out / f"{piece}.jsonld").read_bytes())
    assert bundle.verify_package(package) == []
    assert [canonical_json(r) for r in package["records"]] == \
        [canonical_json(r) for r in records]


def test_export_of_a_tampered_chain_says_so_on_every_output(tmp_path, capsys):
    records, piece = chain.six_levels()
    records[0] = copy.deepcopy(records[0])
    records[0]["heatNumbers"] = ["H-FORGED"]
    out = tmp_path / "out"
    status = main(["steel", "export", "--piece", piece, "--from", str(_write(tmp_path, records)),
                   "--out", str(out), "--no-pdf"])
    lines = capsys.readouterr().out.splitlines()
    assert status == 0  # written: the package and page say NOT verified
    assert ", verified," not in lines[-1]
    assert any("✖" in line for line in lines)
    page = (out / f"{piece}.html").read_text(encoding="utf-8")
    assert "未検証" in page and "NOT verified" in page


def test_export_writes_package_page_and_pdf_then_reads_its_own_package(tmp_path, capsys):
    chain = samples.provenance()
    records = _records_dir(tmp_path, chain)
    out = tmp_path / "out"
    args = build_parser().parse_args(["steel", "export", "--piece", samples.PIECE, "--from",
                                str(records), "--out", str(out), "--url",
                                "https://hub.example.jp/steel"])
    assert cli.export_piece(args, _builder(chain)) == 0
    lines = capsys.readouterr().out.splitlines()
    stem = samples.PIECE
    assert lines[:3] == [str(out / f"{stem}.{ext}") for ext in ("jsonld", "html", "pdf")]
    assert lines[4].startswith(" 1. ✔ 検査証明書（ミルシート） TS-MC-2026-0417")
    assert lines[-1].startswith(f"{stem}: 6 links, verified, sha256:")
    package = json.loads((out / f"{stem}.jsonld").read_bytes())
    assert bundle.verify_package(package) == []
    assert "https://hub.example.jp/steel/pieces/SCC-L-0032-03" in \
        (out / f"{stem}.html").read_text(encoding="utf-8")
    assert (out / f"{stem}.pdf").read_bytes().startswith(b"%PDF-")
    # The package itself is a source: its records are the chain's, unaltered.
    again = tmp_path / "again"
    args = build_parser().parse_args(["steel", "export", "--piece", samples.PIECE, "--from",
                                str(out / f"{stem}.jsonld"), "--out", str(again),
                                "--no-pdf"])
    assert cli.export_piece(args, _builder(chain)) == 0
    assert sorted(p.name for p in again.iterdir()) == [f"{stem}.html", f"{stem}.jsonld"]


def test_unreadable_records_are_named(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    status = main(["steel", "export", "--piece", "P", "--from", str(bad), "--out",
                   str(tmp_path / "out")])
    assert status == 2
    assert f"[steel.source_unreadable] {bad}: cannot be read as JSON" in capsys.readouterr().err
    assert main(["steel", "export", "--piece", "P"]) == 2
