"""The provenance package of one delivered piece, as submitted at a public-works material
inspection (土木工事共通仕様書, 材料確認): the JSON-LD package (``bundle``), its printable page
in Japanese (``page``, with the verification QR code of ``qr``), the PDF of that page
(``pdf``), and the files written for ``tsunagu steel export --piece`` (``export``). Built
only from a ``Provenance`` (domains.steel.provenance), which ``source`` obtains."""
