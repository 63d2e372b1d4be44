"""The browser client against a server with API keys: a client secret handed in the URL (what an
operator's backend mints), or a key the user types once (the page mints secrets with it)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_browser import Page, _no_leaked_tasks, browser, question_wav, sync_api  # noqa: F401, F811 - fixtures
from tests.support import running_server

pytestmark = pytest.mark.browser
KEY = "sk-browser-test-key"


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--api-key", KEY) as base:
        yield base


def connected(page: Page) -> None:
    pg = page.page
    sync_api.expect(pg.locator("#status")).to_contain_text("Ready")
    pg.click("#talk")
    page.wait_for("() => window.voxloop.connected", "the session to open", timeout=60_000)
    pg.click("#talk")


def test_a_client_secret_in_the_url_opens_the_session(browser: Any, server: str) -> None:  # noqa: F811
    r = httpx.post(f"{server}/v1/realtime/client_secrets", json={}, headers={"Authorization": f"Bearer {KEY}"})
    secret = r.json()["value"]
    page = Page(browser, server)
    try:
        page.page.goto(f"/#client_secret={secret}")
        assert "client_secret" not in page.page.url  # taken out of the address bar at once
        connected(page)
    finally:
        page.close()


def test_the_page_asks_for_a_key_and_mints_secrets_with_it(browser: Any, server: str) -> None:  # noqa: F811
    page = Page(browser, server)
    asked: list[str] = []

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept(KEY)

    page.page.on("dialog", answer)
    try:
        page.page.goto("/")
        connected(page)
        assert asked and "API key" in asked[0]
    finally:
        page.close()
