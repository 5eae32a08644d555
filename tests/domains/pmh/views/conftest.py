from tests.domains.pmh.flows.support import start_pmh  # noqa: F401
