"""Benchmark of the steel hub: the import of EN 10168 v0.5.0 certificates to records (schema,
embedded files, grade checks, heat numbers, unit slips), one process.

    .venv/bin/python bench/steel.py --certificates 2000 --json out.json

The certificates are generated through the CSV layout (domains.steel.csv_import), varied:
the six JIS grades, thicknesses 3-120 mm, chemistry and strengths around each grade's limits
(some fail, a few carry a unit slip), a 1x1 PNG mark. Figures: ``import_certs_per_s`` (wall
clock; floor 200 on 2 shared cores), ``import_certs_per_cpu_s`` (process CPU time), and the
counts flagged and refused (a sanity check that the certificates are varied).

``export_package_ms``: the provenance package of one piece (the 6-link sample chain of
tests/domains/steel/provenance_samples.py: JSON-LD package, its Japanese page with the QR
code, both written to a temporary directory), median of ``--rounds`` (floor 500 ms);
``export_package_pdf_ms``: the same with the PDF (WeasyPrint), after one warm-up export
that loads the fonts.
``verify_chain_ms_p50``: the median time to verify one piece's 6-level provenance chain
(mill certificate -> trader -> processor -> strips -> cut lengths -> customer, each record
signed by its party, the last custody event carrying the five before it) back to the mill:
every signature, parent hash, mass balance, holder and content rule (ceiling 20 ms).
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import struct
import sys
import tempfile
import time
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.stream import git_commit, machine, write_json
from domains.steel.certificate import to_record
from domains.steel.csv_import import DEFAULT_COLUMNS, row_to_document
from domains.steel.errors import CertificateRefused
from domains.steel.grades import grades
from domains.steel.verify import verify_chain
from trust.keys import KeyPair
from trust.proofs import sign_document

FLOOR = 200  # certificates per second
EXPORT_FLOOR_MS = 500  # one piece's package with its page
VERIFY_CEILING_MS = 20.0  # one piece's 6-level chain


def _png() -> str:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    raw = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"\x00\x00")) + chunk(b"IEND", b""))
    return "data:image/png;base64," + base64.b64encode(raw).decode()


def _row(i: int, rng: random.Random) -> dict[str, str]:
    grade = rng.choice(sorted(grades()))
    c = DEFAULT_COLUMNS
    slip = rng.random() < 0.03
    return {c["A01.Name"]: "ベンチ製鋼", c["A01.Street"]: "1-1", c["A01.ZipCode"]: "100-0001",
            c["A01.City"]: "東京都", c["A01.VAT"]: "T0000000000001",
            c["A03"]: f"BENCH-{i:07d}", c["A06.Name"]: "ベンチ商事", c["A06.Street"]: "2-2",
            c["A06.ZipCode"]: "100-0002", c["A06.City"]: "東京都",
            c["A06.VAT"]: "T0000000000002", c["A07"]: f"PO-{i}", c["B02"]: grade,
            c["B07"]: f"H{i:06d}", c["B08"]: str(rng.randint(1, 20)),
            c["B09.Thickness"]: f"{rng.uniform(3, 120):.1f}", c["B09.Width"]: "1500",
            c["C11"]: f"{rng.uniform(200, 380):.0f}",
            c["C12"]: f"{rng.uniform(40, 52):.1f}" if slip else f"{rng.uniform(380, 620):.0f}",
            c["C13"]: f"{rng.uniform(15, 30):.0f}", c["C43"]: f"{rng.uniform(10, 120):.0f}",
            c["Z02"]: "2026-12-01",
            "C": f"{rng.uniform(0.05, 0.24):.3f}", "Si": f"{rng.uniform(0.01, 0.5):.2f}",
            "Mn": f"{rng.uniform(0.3, 1.6):.2f}", "P": f"{rng.uniform(0.005, 0.045):.3f}",
            "S": f"{rng.uniform(0.002, 0.04):.3f}"}


def run(n: int, seed: int) -> dict[str, Any]:
    rng, logo = random.Random(seed), _png()
    documents = [row_to_document(_row(i, rng), i + 2, logo) for i in range(n)]
    flagged = refused = 0
    wall, cpu = time.perf_counter(), time.process_time()
    for document in documents:
        try:
            flagged += to_record(document)["flagged"]
        except CertificateRefused:
            refused += 1
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"certificates": n, "import_certs_per_s": round(n / wall, 1),
            "import_certs_per_cpu_s": round(n / cpu, 1), "flagged": flagged,
            "refused": refused, "floor_certs_per_s": FLOOR}


def _export_ms(chain: Any, with_pdf: bool, rounds: int) -> float:
    from domains.steel.package import export

    times = []
    with tempfile.TemporaryDirectory() as out:
        for _ in range(rounds):
            started = time.perf_counter()
            export.write(export.build(chain, base_url="https://hub.example.jp/steel",
                                      with_pdf=with_pdf), Path(out))
            times.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(times), 1)


def run_export(rounds: int) -> dict[str, Any]:
    from tests.domains.steel.provenance_samples import provenance

    chain = provenance()
    _export_ms(chain, True, 1)  # warm-up: WeasyPrint's import and the CJK fonts
    return {"export_package_ms": _export_ms(chain, False, rounds),
            "export_package_pdf_ms": _export_ms(chain, True, rounds),
            "floor_export_package_ms": EXPORT_FLOOR_MS}
def _chain(rng: random.Random) -> tuple[list[dict[str, Any]], str, dict[str, str]]:
    """Six signed records of one piece (see the module doc), the piece, the issuers."""
    from domains.steel.custody import custody_event
    from domains.steel.derivation import derive

    keys = {name: KeyPair.generate() for name in ("mill", "trader", "processor", "customer")}
    document = row_to_document(_row(0, rng), 2, _png())
    mass = 6000.0  # the CSV layout gives no mass (B13): the bench's coil weighs 6 t
    document["Certificate"]["ProductDescription"]["B13"] = {
        "Property": "Actual mass", "Value": mass, "Unit": "kg"}
    cert = sign_document(to_record(document, product_ids=["COIL-1"]), keys["mill"])

    def move(sender: str, receiver: str, piece: str, named: str, chain: list[Any],
             at: str) -> dict[str, Any]:
        return sign_document(custody_event(
            piece_ids=[piece], certificate_id=named, sender_did=keys[sender].did,
            sender_name=sender, receiver_did=keys[receiver].did, receiver_name=receiver,
            agreement_id=f"urn:uuid:bench-{sender}-{receiver}", at=at, chain=chain),
            keys[sender])

    def cut(parent: dict[str, Any], piece: str, masses: list[float], prefix: str,
            at: str) -> dict[str, Any]:
        pieces = [{"pieceId": f"{prefix}-{i}", "massKg": m} for i, m in enumerate(masses)]
        return sign_document(derive(parent, piece, pieces, document_number=prefix,
                                    processor="processor", processor_did=keys["processor"].did,
                                    at=at), keys["processor"])

    a = move("mill", "trader", "COIL-1", cert["id"], [cert], "2026-04-01T00:00:00Z")
    b = move("trader", "processor", "COIL-1", cert["id"], [cert, a], "2026-04-02T00:00:00Z")
    strips = cut(cert, "COIL-1", [round(mass / 3 - 5, 1)] * 3, "STRIP", "2026-04-03T00:00:00Z")
    lengths = cut(strips, "STRIP-1", [round(mass / 6 - 10, 1)] * 2, "CUT",
                  "2026-04-04T00:00:00Z")
    c = move("processor", "customer", "CUT-0", lengths["id"], [cert, a, b, strips, lengths],
             "2026-04-05T00:00:00Z")
    return [cert, a, b, strips, lengths, c], "CUT-0", {k.did: n for n, k in keys.items()}


def verify_p50(rng: random.Random, rounds: int = 50) -> tuple[float, float]:
    """Median wall-clock and process-CPU milliseconds of one verification."""
    records, piece, issuers = _chain(rng)
    wall, cpu = [], []
    for _ in range(rounds):
        began, began_cpu = time.perf_counter(), time.process_time()
        provenance = verify_chain([records[-1]], piece, issuers=issuers)
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        if not provenance.verified or len(provenance.links) != 6:
            raise SystemExit("the bench chain does not verify")
    return round(statistics.median(wall), 2), round(statistics.median(cpu), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--certificates", "--certs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5, help="export rounds (median)")
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--json", type=Path, metavar="PATH")
    args = parser.parse_args()
    figures = run(args.certificates, args.seed) | run_export(args.rounds)
    wall, cpu = verify_p50(random.Random(args.seed))
    figures |= {"verify_chain_ms_p50": wall, "verify_chain_cpu_ms_p50": cpu,
                "ceiling_verify_chain_ms": VERIFY_CEILING_MS}
    for key, value in figures.items():
        print(f"{key}: {value}")
    if args.json:
        write_json(args.json, {"commit": git_commit(), "machine": machine(), **figures})
    return 0 if (figures["import_certs_per_s"] >= FLOOR
                 and figures["export_package_ms"] <= EXPORT_FLOOR_MS
                 and figures["verify_chain_ms_p50"] <= VERIFY_CEILING_MS) else 1

if __name__ == "__main__":
    sys.exit(main())
