"""The supply-chain view: for a heat number or a certificate number, the tree of pieces
derived from the mill's certificate, where each is now, and each one's checks and
verification state (``tree``: pure; ``pages``: markup; ``app``: the aiohttp sub-app, which
takes its data from a ``ProvenanceFinder``)."""
