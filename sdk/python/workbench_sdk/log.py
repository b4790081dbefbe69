"""Log lines attached to the invocation (the ``log`` scope). Lines are cut
at 4 KiB and counted past the per-call limit; without the grant they are
dropped."""

from __future__ import annotations

from . import _host


def trace(message: str) -> None:
    """Very detailed tracing."""
    _host.backend().log("trace", message)


def debug(message: str) -> None:
    """Debugging detail."""
    _host.backend().log("debug", message)


def info(message: str) -> None:
    """Normal operation."""
    _host.backend().log("info", message)


def warn(message: str) -> None:
    """Something unexpected but handled."""
    _host.backend().log("warn", message)


def error(message: str) -> None:
    """Something failed."""
    _host.backend().log("error", message)
