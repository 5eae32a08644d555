from tests.e2e.processes import space  # noqa: F401 (the process-level tests' fixture)
