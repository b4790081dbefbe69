"""Notifications in the workbench inbox of the person the call is about (the
caller of a request; the subject of an event).

Needs the ``notify`` scope: granted by the admin and consented to by the
person; without them, or in a call about nobody, :func:`send` raises
:class:`~workbench_sdk.AccessError`. The host limits how many a plugin
sends and a person receives per hour. Every attempt is one audit record.

.. code-block:: python

    from workbench_sdk import notify

    notify.send("审批待办", "差旅报销 1,200.00 元等你审批", "/approvals/a-17")
"""

from __future__ import annotations

from . import _host
from .errors import AccessError


class NotifyError(Exception):
    """A notification the host did not send for its content or the rate limit."""


class Invalid(NotifyError):
    """The title (1 to 100 characters), text (at most 1,000) or route (a path
    inside the plugin starting with ``/``) is malformed; the message says how."""


class RateLimited(NotifyError):
    """Too many notifications for now, per plugin or per person."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many notifications; try again in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds
        """Seconds until one may be sent again."""


def send(title: str, text: str, route: str) -> str:
    """Puts a notification in the person's inbox; opening it opens the plugin
    at ``route``. Returns the notification's id. Raises
    :class:`~workbench_sdk.AccessError` (not declared, granted or consented
    to, or the call is about nobody), :class:`Invalid` or :class:`RateLimited`."""
    return _host.backend().notify(title, text, route)


__all__ = ["AccessError", "Invalid", "NotifyError", "RateLimited", "send"]
