from tests.domains.bosai.browser.conftest import browser, page  # noqa: F401 (chromium)
