"""The steel tests' shared fixtures: the supply-chain view on a real socket."""

from tests.domains.steel.view_support import chain_view  # noqa: F401
