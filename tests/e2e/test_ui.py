"""The Airflow UI in a real browser: Debian's Chromium, driven by Playwright, logs in with the
admin credentials the operator generated, sees the DAG list and triggers a DAG.
Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.cases import ROOT
from tests.e2e.conftest import Stack
from tests.e2e.dag_runs import wait_until_parsed
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
# This machine has no network beyond loopback: keep Chromium from calling out.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "tests" / "artifacts"
DAG = "etl_celery"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def log_in(page: Page, stack: Stack) -> None:
    page.goto(stack.site.api_url)
    page.get_by_label("Username").fill(stack.api.username)
    page.get_by_label("Password").fill(stack.api.password)
    screenshot(page, "ui-login")
    page.get_by_role("button", name="Sign in").click()


def test_admin_logs_in_sees_the_dags_and_triggers_one(stack: Stack, page: Page) -> None:
    wait_until_parsed(stack, (DAG,))
    runs_before = stack.api.request("GET", f"/api/v2/dags/{DAG}/dagRuns")["total_entries"]

    log_in(page, stack)
    page.goto(f"{stack.site.api_url}/dags")
    expect(page.get_by_text(DAG, exact=True).first).to_be_visible(timeout=60_000)
    screenshot(page, "ui-dag-list")

    page.goto(f"{stack.site.api_url}/dags/{DAG}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    screenshot(page, "ui-trigger-dialog")
    dialog.get_by_role("button", name="Trigger").click()

    def triggered() -> bool:
        runs = stack.api.request("GET", f"/api/v2/dags/{DAG}/dagRuns")
        return bool(int(runs["total_entries"]) > runs_before)

    wait_until(triggered, 60, "a run triggered from the UI", interval=1)
    screenshot(page, "ui-triggered")
