"""workbench_sdk: build workbench plugins in Python.

A plugin exports one handler of requests and reads the calling person's
data through the host, but only the scopes its plugin.toml declares, the
tenant admin granted and the person consented to; anything else raises
:class:`AccessError`, and every attempt is in the tenant's audit log.

.. code-block:: python

    from workbench_sdk import AccessError, Request, Response, export, profile

    def handle(request: Request) -> Response:
        try:
            return Response.text(f"你好, {profile.name()}")
        except AccessError as refused:
            return Response.text(f"hello ({refused.code})")

    Handler = export(handle)

A plugin that subscribes to events or schedules in plugin.toml
(``[[events]]``, ``[[schedules]]``) also exports their handler, and may
tell the person an event is about with :mod:`~workbench_sdk.notify`:

.. code-block:: python

    from workbench_sdk import Event, export_events, notify

    def on_event(event: Event) -> None:
        if event.kind == "approval.submitted":
            notify.send("审批待办", event.json()["title"], "/approvals")

    Events = export_events(on_event)

Build it with ``workbench plugin build`` (componentize-py against the world
of the scopes plugin.toml declares) and test it natively with pytest and
:class:`workbench_sdk.testing.MockHost` (``workbench plugin test``).
"""

from __future__ import annotations

import traceback
from typing import Callable

from . import config, events, html, log, notify, outgoing, permissions, profile, storage
from .errors import AccessError, BadRequest, Internal, NotFound, PluginError, Reason
from .events import Event, Subject
from .http import Request, Response

__version__ = "0.3.0"
CONTRACT = "0.3.0"
"""The workbench:plugin contract version this SDK builds against."""

__all__ = [
    "AccessError", "BadRequest", "CONTRACT", "Event", "Internal", "NotFound", "PluginError", "Reason", "Request",
    "Response", "Subject", "config", "events", "export", "export_events", "handle_event", "handle_request", "html",
    "log", "notify", "outgoing", "permissions", "profile", "storage",
]


def _reported(error: Exception) -> PluginError:
    """What the host is told of an exception a plugin let escape: a
    :class:`PluginError` as it is; a refusal or anything else as an internal
    failure with its message and where it was raised."""
    if isinstance(error, PluginError):
        return error
    if isinstance(error, AccessError):
        return Internal(f"unhandled refusal: {error}")
    where = traceback.extract_tb(error.__traceback__)[-1]
    return Internal(f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})")


def handle_request(handle: Callable[[Request], Response], request: Request) -> Response:
    """Runs ``handle`` as the host would: a :class:`PluginError` is answered
    with its status; an :class:`AccessError` or any other exception is an
    internal failure with its message. Returns the response or raises
    :class:`PluginError` (the mock host and the component use this)."""
    try:
        response = handle(request)
    except PluginError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the audit log, not swallowed
        raise _reported(error) from None
    if not isinstance(response, Response):
        raise Internal(f"the handler returned {type(response).__name__}, not a Response")
    return response


def handle_event(on_event: Callable[[Event], None], event: Event) -> None:
    """Runs ``on_event`` as the host would: returning is success; a
    :class:`PluginError` is reported as it is, an :class:`AccessError` or any
    other exception as an internal failure with its message, and the host
    retries the event (the mock host and the component use this)."""
    try:
        on_event(event)
    except PluginError:
        raise
    except Exception as error:  # noqa: BLE001 - reported to the audit log, not swallowed
        raise _reported(error) from None


def export(handle: Callable[[Request], Response]):
    """The class componentize-py exports as the plugin's handler: assign it
    to ``Handler`` in the app module (``Handler = export(handle)``)."""

    class Handler:
        def handle(self, request):
            from ._host import wit_handler as wit, wit_plugin_error

            ours = Request(request.method, request.path, request.query, list(request.headers), bytes(request.body))
            try:
                answer = handle_request(handle, ours)
            except PluginError as error:
                raise wit_plugin_error(error) from None
            return wit.Response(answer.status, list(answer.headers), bytes(answer.body))

    Handler.__doc__ = f"The workbench handler of {getattr(handle, '__name__', 'the plugin')}."
    return Handler


def export_events(on_event: Callable[[Event], None]):
    """The class componentize-py exports as the plugin's handler of events:
    assign it to ``Events`` in the app module (``Events = export_events(on_event)``).
    ``on_event`` returns nothing; an exception is reported as by
    :func:`handle_event` and the event is retried. Export it when plugin.toml
    subscribes (``[[events]]``, ``[[schedules]]``): only then does the
    plugin's world export ``events``."""

    class Events:
        def on_event(self, event):
            from ._host import wit_plugin_error

            try:
                handle_event(on_event, events.from_wit(event))
            except PluginError as error:
                raise wit_plugin_error(error) from None

    Events.__doc__ = f"The workbench handler of events of {getattr(on_event, '__name__', 'the plugin')}."
    return Events
