"""The PDF of the package's page, through WeasyPrint (Pango renders the Japanese text with
the system's Noto CJK fonts: apt-get install fonts-noto-cjk)."""

from __future__ import annotations


def to_pdf(page_html: str) -> bytes:
    # Imported here: WeasyPrint loads Pango at import, which only the PDF needs.
    from weasyprint import HTML

    return HTML(string=page_html).write_pdf()
