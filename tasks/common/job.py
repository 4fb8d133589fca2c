"""Exit codes, the failures that carry them, and the runner that turns a failure into a
clear log line and the process's exit code."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    BAD_CONFIG = 2
    INPUT_UNREADABLE = 3
    MALFORMED_INPUT = 4
    OUTPUT_UNWRITABLE = 5


class TaskError(Exception):
    """A failure the task explains itself: its message is logged, its code is the exit code."""

    exit_code: ExitCode


class ConfigError(TaskError):
    exit_code = ExitCode.BAD_CONFIG


class InputError(TaskError):
    exit_code = ExitCode.INPUT_UNREADABLE


class DataError(TaskError):
    exit_code = ExitCode.MALFORMED_INPUT


class OutputError(TaskError):
    exit_code = ExitCode.OUTPUT_UNWRITABLE


def task_logger(name: str) -> logging.Logger:
    """A logger writing one plain line per call to stdout; other libraries' loggers stay
    quiet, so nothing from botocore (endpoints, credential sources) reaches the task log."""
    logger = logging.getLogger(name)
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stdout)
        handler.setFormatter(logging.Formatter(f"{name} %(levelname)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger


def run(job: Callable[[], None], log: logging.Logger) -> int:
    """Run ``job``; a TaskError becomes one ERROR line and its exit code. Anything else is
    a bug and keeps its traceback (exit code 1)."""
    try:
        job()
    except TaskError as failure:
        log.error("exit %d: %s", failure.exit_code, failure)
        return failure.exit_code
    log.info("done")
    return ExitCode.OK
