"""Browser tests: a marketer's flows in headless Chromium against a live Kairos server.

Playwright (Python, pinned in the test extras) drives Debian's ``/usr/bin/chromium``: we never run
``playwright install``, which downloads a browser build of its own. The server is pytest-django's
``live_server`` (a real HTTP server on 127.0.0.1 serving the static files too), on the test
database.

They are slow, so they run only when selected (``pytest -m browser``, as ``.ci/run`` does in a step
of its own) or with ``KAIROS_BROWSER=1``. Every test of a page saves a screenshot under
:data:`SHOTS` (``KAIROS_SCREENSHOT_DIR``, default ``var/screenshots``), whose path CI prints.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings

# Playwright's sync API runs an event loop in the test's thread; the ORM calls the tests make
# between browser steps are ordinary synchronous calls on their own connection.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("KAIROS_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(
    os.environ.get("KAIROS_SCREENSHOT_DIR", Path(settings.BASE_DIR) / "var" / "screenshots")
)
PASSWORD = "pw-for-tests"


def _selected(config) -> bool:
    return (
        "browser" in (config.getoption("markexpr", "") or "")
        or os.environ.get("KAIROS_BROWSER") == "1"
    )


def pytest_collection_modifyitems(config, items):
    """Skipped at collection when not selected: no database is set up for them."""
    if _selected(config):
        return
    skip = pytest.mark.skip(
        reason="browser tests run only when selected: pytest -m browser (or KAIROS_BROWSER=1)"
    )
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _chromium_is_there():
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (never `playwright install`)")


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # root in CI containers: Chromium's sandbox needs a user namespace it may not have
            args=["--no-sandbox", "--disable-dev-shm-usage"],
        )
        yield browser
        browser.close()


@pytest.fixture
def open_page(chromium, live_server):
    """``open_page()`` a fresh browser tab (1,400 px wide, as marketers' laptops) on the server."""
    contexts = []

    def make():
        context = chromium.new_context(
            base_url=live_server.url, viewport={"width": 1400, "height": 900}, locale="en-GB"
        )
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def shot(request):
    """``shot(page, name)`` saves a full-page screenshot named after the test and ``name``."""
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SHOTS / f"{request.node.name}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take


def log_in(page, username: str, password: str = PASSWORD) -> None:
    """Through the login form, as a person does."""
    page.goto("/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_load_state()
