from tests.domains.bosai.browser.conftest import browser, page  # noqa: F401
from tests.domains.pmh.flows.support import start_pmh  # noqa: F401
