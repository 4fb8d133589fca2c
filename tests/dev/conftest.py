"""The fixtures of the `farflow dev` tests: the browser of the UI test."""

from __future__ import annotations

from tests.e2e.browser import browser, page  # noqa: F401  (fixtures of the UI tests)
