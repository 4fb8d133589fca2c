"""What `farflow dev` shows: one table of the processes, live while `up` runs in the
foreground and once for `status`."""

from __future__ import annotations

import time
from typing import Any

from rich.table import Table
from rich.text import Text

STYLES = {
    "initializing": "cyan",
    "starting": "cyan",
    "running": "green",
    "unready": "yellow",
    "restarting": "yellow",
    "failing": "bold red",
    "stopped": "dim",
}


def table(state: dict[str, Any], running: bool = True) -> Table:
    phase = state.get("phase", "stopped") if running else "stopped"
    title = f"farflow dev: {phase}" + (f" at {state['url']}" if state.get("url") else "")
    grid = Table(title=title, title_justify="left", expand=False)
    for column in ("component", "state", "pid", "uptime", "restarts", "last error"):
        grid.add_column(column, overflow="fold")
    for row in state.get("processes", []):
        shown = row["state"] if running else "stopped"
        grid.add_row(
            row["name"],
            Text(shown, style=STYLES.get(shown, "")),
            str(row.get("pid") or "") if running else "",
            _uptime(row.get("started")) if running and shown == "running" else "",
            str(row.get("restarts", 0)),
            Text(row.get("last_error", ""), overflow="ellipsis", no_wrap=True),
        )
    if running and state.get("aws"):
        grid.caption = f"AWS (moto) at {state['aws']}, credentials farflow-dev/farflow-dev"
    return grid


def _uptime(started: float | None) -> str:
    if started is None:
        return ""
    seconds = int(time.time() - started)
    return (
        f"{seconds // 3600}h{seconds // 60 % 60:02d}m"
        if seconds >= 3600
        else (f"{seconds // 60}m{seconds % 60:02d}s")
    )
