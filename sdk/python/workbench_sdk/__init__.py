"""workbench_sdk: build workbench plugins in Python.

A plugin exports one handler and reads the calling person's data through
the host, but only the scopes its plugin.toml declares, the tenant admin
granted and the person consented to; anything else raises
:class:`AccessError`, and every attempt is in the tenant's audit log.

.. code-block:: python

    from workbench_sdk import AccessError, Request, Response, export, profile

    def handle(request: Request) -> Response:
        try:
            return Response.text(f"你好, {profile.name()}")
        except AccessError as refused:
            return Response.text(f"hello ({refused.code})")

    Handler = export(handle)

Build it with ``workbench plugin build`` (componentize-py against the world
of the scopes plugin.toml declares) and test it natively with pytest and
:class:`workbench_sdk.testing.MockHost` (``workbench plugin test``).
"""

from __future__ import annotations

import traceback
from typing import Callable

from . import config, html, log, outgoing, permissions, profile, storage
from .errors import AccessError, BadRequest, Internal, NotFound, PluginError, Reason
from .http import Request, Response

__version__ = "0.3.0"
CONTRACT = "0.3.0"
"""The workbench:plugin contract version this SDK builds against."""

__all__ = [
    "AccessError", "BadRequest", "CONTRACT", "Internal", "NotFound", "PluginError", "Reason", "Request",
    "Response", "config", "export", "handle_request", "html", "log", "outgoing", "permissions", "profile", "storage",
]


def handle_request(handle: Callable[[Request], Response], request: Request) -> Response:
    """Runs ``handle`` as the host would: a :class:`PluginError` is answered
    with its status; an :class:`AccessError` or any other exception is an
    internal failure with its message. Returns the response or raises
    :class:`PluginError` (the mock host and the component use this)."""
    try:
        response = handle(request)
    except PluginError:
        raise
    except AccessError as refused:
        raise Internal(f"unhandled refusal: {refused}") from None
    except Exception as error:  # noqa: BLE001 - reported to the audit log, not swallowed
        where = traceback.extract_tb(error.__traceback__)[-1]
        raise Internal(f"{type(error).__name__}: {error} ({where.filename}:{where.lineno})") from None
    if not isinstance(response, Response):
        raise Internal(f"the handler returned {type(response).__name__}, not a Response")
    return response


def export(handle: Callable[[Request], Response]):
    """The class componentize-py exports as the plugin's handler: assign it
    to ``Handler`` in the app module (``Handler = export(handle)``)."""

    class Handler:
        def handle(self, request):
            from ._host import Err, wit_handler as wit

            ours = Request(request.method, request.path, request.query, list(request.headers), bytes(request.body))
            try:
                answer = handle_request(handle, ours)
            except BadRequest as error:
                raise Err(wit.PluginError_BadRequest(str(error))) from None
            except NotFound as error:
                raise Err(wit.PluginError_NotFound(str(error))) from None
            except PluginError as error:
                raise Err(wit.PluginError_Internal(str(error))) from None
            return wit.Response(answer.status, list(answer.headers), bytes(answer.body))

    Handler.__doc__ = f"The workbench handler of {getattr(handle, '__name__', 'the plugin')}."
    return Handler
