"""The Airflow UI in a real browser (tests/e2e/browser.py): Debian's Chromium, driven by
Playwright, logs in with the admin credentials the operator generated, sees the DAG list and
triggers a DAG. Screenshots go to tests/artifacts/ (git-ignored)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import log_in, screenshot
from tests.e2e.conftest import Stack
from tests.e2e.dag_runs import wait_until_parsed
from tests.fixtures.processes import wait_until

pytestmark = pytest.mark.e2e

DAG = "etl_celery"


def test_admin_logs_in_sees_the_dags_and_triggers_one(stack: Stack, page: Page) -> None:
    wait_until_parsed(stack, (DAG,))
    runs_before = stack.api.request("GET", f"/api/v2/dags/{DAG}/dagRuns")["total_entries"]

    log_in(page, stack.site.api_url, stack.api.username, stack.api.password)
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
