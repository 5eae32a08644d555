"""The catalog node: feeds the pure federated catalog (``catalog.service``) from the network.

Run by the authority or by any participant that wants its own catalog: it keeps the
participant registry (``trust.participant_registry``), checks every DSP answer against the
DSP schema before the catalog sees it, crawls participants' catalogs over the DSP bus and
serves search (``tsunagu catalog search``). See docs/catalog.md.
"""
