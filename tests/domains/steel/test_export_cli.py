"""``tsunagu steel export --piece ID --from FILE_OR_DIR --out DIR [--url BASE]``: records read
from a package or a directory, the provenance built by the chain side's hook (refused with a
clear message until it is installed), the package, page and PDF written."""

from __future__ import annotations

import json

from connector.cli.main import build_parser, main
from domains.steel import cli
from domains.steel.package import bundle
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


def test_without_the_chain_side_export_refuses_with_a_clear_reason(tmp_path, capsys):
    records = _records_dir(tmp_path, samples.provenance())
    out = tmp_path / "out"
    status = main(["steel", "export", "--piece", samples.PIECE, "--from", str(records),
                   "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 1
    assert "[steel.chain_unavailable] chain verification not available" in err
    assert not out.exists()


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
