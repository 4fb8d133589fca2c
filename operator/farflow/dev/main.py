"""The `farflow dev` commands behind farflow.dev.cli's arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from rich.console import Console

from farflow.dev import commands
from farflow.dev.state import DevDir
from farflow.dev.up import STOPPING, Options, serve


def up(args: argparse.Namespace) -> int:
    options = Options(args.filename, args.dags, args.port, args.state_dir, args.s3)
    console = Console(highlight=False, soft_wrap=True)  # a line of up.log stays one line
    if args.detach:
        return _guarded(lambda: commands.detach(options, console))
    return _guarded(lambda: serve(options, console, live=not args.in_background))


def status(args: argparse.Namespace) -> int:
    devdir = DevDir(args.state_dir)
    return _guarded(lambda: commands.status(devdir, args.show_password, Console()))


def logs(args: argparse.Namespace) -> int:
    return _guarded(lambda: commands.logs(DevDir(args.state_dir), args.component, args.follow))


def down(args: argparse.Namespace) -> int:
    return _guarded(lambda: commands.down(DevDir(args.state_dir), args.purge, Console()))


def _guarded(command: Callable[[], int]) -> int:
    """The command's exit code; a situation it stops at is a clear message, not a
    traceback."""
    try:
        return command()
    except STOPPING as error:
        print(f"farflow dev: {error}", file=sys.stderr)
        return 1
