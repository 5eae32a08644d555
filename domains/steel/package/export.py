"""The files of a provenance package: ``<piece>.jsonld`` (the package), ``<piece>.html``
(its printable page) and ``<piece>.pdf`` (that page as PDF). The thin I/O shell around
``bundle``, ``page`` and ``pdf``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from domains.steel.package import bundle, page, pdf
from domains.steel.provenance import Provenance


@dataclass(frozen=True)
class Exported:
    package: dict[str, Any]
    digest: str             # bundle.package_hash of the package
    verify_url: str         # what the QR code encodes
    html: str
    pdf: bytes | None


def verify_url_for(base_url: str | None, piece_id: str, digest: str) -> str:
    """``BASE/pieces/<piece id>`` (the supply-chain view's page for the piece), or the
    package hash when there is no URL to give."""
    if not base_url:
        return digest
    return base_url.rstrip("/") + "/pieces/" + quote(piece_id, safe="")


def build(provenance: Provenance, *, base_url: str | None = None, with_pdf: bool = True,
          exported_at: datetime | None = None) -> Exported:
    package = bundle.build_package(provenance, exported_at=exported_at)
    findings = bundle.verify_package(package)
    digest = bundle.package_hash(package)
    url = verify_url_for(base_url, provenance.piece_id, digest)
    html = page.render(provenance, verify_url=url, package_digest=digest,
                       exported_at=package["exportedAt"],
                       findings=[f.text_ja() for f in findings])
    return Exported(package, digest, url, html, pdf.to_pdf(html) if with_pdf else None)


def file_stem(piece_id: str) -> str:
    """A piece id as a file name (ids are the mill's or processor's: anything may be in them)."""
    return re.sub(r"[^\w.-]", "_", piece_id).strip(".") or "piece"


def write(exported: Exported, out_dir: Path) -> list[Path]:
    """Write the files (each whole, through a temporary name) and return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = file_stem(exported.package["pieceId"])
    files: list[tuple[Path, bytes]] = [
        (out_dir / f"{stem}.jsonld",
         json.dumps(exported.package, ensure_ascii=False, indent=1).encode("utf-8")),
        (out_dir / f"{stem}.html", exported.html.encode("utf-8"))]
    if exported.pdf is not None:
        files.append((out_dir / f"{stem}.pdf", exported.pdf))
    for path, data in files:
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(data)
        partial.replace(path)
    return [path for path, _ in files]
