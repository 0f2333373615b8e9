"""The browser fixtures of tests/browser/, for the playbooks' Chromium tests beside their HTTP tests."""

from tests.browser.conftest import browser, live_server, new_page  # noqa: F401
