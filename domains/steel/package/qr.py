"""The verification QR code of the package's page, as inline SVG (segno: pure Python, no
image file, nothing fetched)."""

from __future__ import annotations

import segno

from connector.web.markup import Markup


def qr_svg(text: str, *, scale: int = 3) -> Markup:
    """An ``<svg>`` QR code of ``text`` (error correction M: survives a creased printout).
    Only module paths come from segno, never ``text`` itself, so the SVG needs no escaping;
    the caller labels it (role=img, aria-label)."""
    code = segno.make(text, error="m", micro=False)
    return Markup(code.svg_inline(scale=scale, dark="#000", light="#fff", border=2,
                                  omitsize=False))
