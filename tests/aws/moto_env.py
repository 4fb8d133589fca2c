"""Helpers of the AWS tests: the owner tag they use, and unique names."""

from __future__ import annotations

import uuid

OWNER = "tests/farflow"


def unique(prefix: str) -> str:
    """A name no other test uses: moto's state lasts the whole session."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
