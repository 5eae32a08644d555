"""tsunagu trust layer: keys, DIDs, credentials, JSON-LD and Data Integrity proofs.

The lowest layer of tsunagu; it depends on no other tsunagu package.
"""
