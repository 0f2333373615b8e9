"""Real headless Chromium (Debian's /usr/bin/chromium) against the app on a live port."""

import os
import threading

import pytest
from werkzeug.serving import make_server

from tests import factories

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser" in str(item.fspath):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def live_server(app):
    """Serve the test app on 127.0.0.1 from a thread; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, live_server):
    """Open a page (desktop or phone size) signed in as `user`; pages close after the test."""
    contexts = []

    def open_page(user=None, viewport=DESKTOP):
        context = browser.new_context(viewport=viewport, base_url=live_server)
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if user is not None:
            page.goto("/auth/login")
            page.get_by_label("Email").fill(user.email)
            page.get_by_label("Password").fill(factories.PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(lambda url: "/auth/login" not in url)
        return page

    yield open_page
    for context in contexts:
        context.close()


def no_sideways_scroll(page):
    """Assert the page fits its viewport's width, measured once its stylesheets have loaded
    (a page measured before its CSS arrives, as under a loaded machine, is wider than anyone sees it)."""
    page.wait_for_load_state("load")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1"), "scrolls sideways"


def screenshot(page, name):
    """Keep a screenshot under test-artifacts/ for people to look at."""
    os.makedirs(ARTIFACTS, exist_ok=True)
    page.screenshot(path=os.path.join(ARTIFACTS, f"{name}.png"), full_page=True)


def nav_to(page, name):
    """Follow a top-bar link as a person would: on a phone the links sit in the bar's menu."""
    menu = page.locator(".topbar details.navmenu > summary")
    if menu.is_visible():
        menu.click()
    page.locator(".topbar").get_by_role("link", name=name, exact=True).click()
