"""Where host calls go: the real host's imports inside a component (the
``wit_world`` bindings componentize-py generates), or the active
:class:`~workbench_sdk.testing.MockHost` in tests. Both answer in the SDK's
own types."""

from __future__ import annotations

import importlib
from typing import Any, Callable

from .errors import AccessError, BadRequest, NotFound, Reason


class StorageFailure(Exception):
    """Raised by a backend for a storage error other than a refusal; the
    storage module turns it into its own exception types."""

    def __init__(self, kind: str, detail: Any) -> None:
        super().__init__(kind, detail)
        self.kind = kind
        self.detail = detail


def interface_of(scope: str) -> str:
    """The Python module of a scope's WIT interface: ``user.name`` is ``user_name``."""
    return scope.replace(".", "_").replace("-", "_")


SCOPES = (
    "user.id", "user.avatar", "user.nickname", "user.name", "user.gender", "user.birthday", "user.region",
    "user.email", "user.phone", "org.department", "perm.customer", "perm.approval", "storage", "log", "notify",
)
"""Every scope of the catalogue."""


def _load() -> dict:
    """The bindings of every interface in the component's world, imported
    now: componentize-py keeps only the modules loaded while it builds the
    component, so they cannot be looked up later. Natively there are none."""
    modules = {}
    for scope in SCOPES:
        try:
            modules[scope] = importlib.import_module(f"wit_world.imports.{interface_of(scope)}")
        except ModuleNotFoundError:
            pass
    return modules


_MODULES = _load()

try:  # loaded now for the same reason; natively neither exists
    from componentize_py_types import Err
    from wit_world.exports import handler as wit_handler
except ModuleNotFoundError:
    Err = wit_handler = None


def wit_plugin_error(error: Exception) -> Any:
    """The WIT ``plugin-error`` of a :class:`~workbench_sdk.PluginError`, as
    the component raises it (``Err(...)``): the same for a request and an event."""
    if isinstance(error, BadRequest):
        return Err(wit_handler.PluginError_BadRequest(str(error)))
    if isinstance(error, NotFound):
        return Err(wit_handler.PluginError_NotFound(str(error)))
    return Err(wit_handler.PluginError_Internal(str(error)))


try:  # only in the world of a plugin that declares destinations
    from wit_world.imports import outgoing_handler as _outgoing_handler
    from wit_world.imports import streams as _streams
    from wit_world.imports import wasi_http_types as _http
except ImportError:  # natively no wit_world; in a world without wasi:http, no such names
    _outgoing_handler = _streams = _http = None

try:  # only in the world of a plugin that declares configuration
    from wit_world.imports import store as _config_store
except ImportError:
    _config_store = None

_ERRORS = {
    "HttpRequestDenied": "refused",
    "DestinationIpProhibited": "address_prohibited",
    "ConnectionTimeout": "timeout",
    "ConnectionReadTimeout": "timeout",
    "HttpResponseTimeout": "timeout",
    "HttpRequestBodySize": "too_large",
    "HttpResponseBodySize": "too_large",
}


def _http_error(code: Any):
    from .outgoing import HttpError

    name = type(code).__name__.removeprefix("ErrorCode_")
    return HttpError(_ERRORS.get(name, "failed"), name)


class WitBackend:
    """The real host, through the generated bindings. A scope whose interface
    is not in the component's world (plugin.toml does not declare it) is a
    ``not_declared`` refusal, as the host would make it."""

    def module(self, scope: str):
        try:
            return _MODULES[scope]
        except KeyError:
            raise AccessError(
                scope,
                Reason.NOT_DECLARED,
                "declare it in plugin.toml and build again: `workbench plugin build`",
            ) from None

    def field(self, scope: str, convert: Callable[[Any], Any]) -> Any:
        module = self.module(scope)
        try:
            return convert(module.get())
        except Err as refused:
            raise AccessError(scope, Reason[refused.value.name]) from None

    def storage(self, operation: str, person: bool, *args: Any) -> Any:
        module = self.module("storage")
        bucket = module.Bucket.PERSON if person else module.Bucket.PLUGIN
        try:
            return getattr(module, operation)(bucket, *args)
        except Err as failed:
            error = failed.value
            kind = type(error).__name__.removeprefix("StorageError_")
            if kind == "Denied":
                raise AccessError("storage", Reason[error.value.name]) from None
            detail = error.value
            if kind == "QuotaExceeded":
                detail = (detail.limit_bytes, detail.used_bytes)
            raise StorageFailure(kind, detail) from None

    def send(self, method: str, url: str, target: tuple, headers: list, body: bytes):
        from .outgoing import HttpError, Reply

        if _outgoing_handler is None:
            raise HttpError("refused", "declare the destination in plugin.toml ([[egress]]) and build again")
        https, authority, path = target
        fields = _http.Fields.from_list([(k, v.encode()) for k, v in headers])
        request = _http.OutgoingRequest(fields)
        methods = {"GET": _http.Method_Get, "POST": _http.Method_Post, "PUT": _http.Method_Put,
                   "DELETE": _http.Method_Delete, "PATCH": _http.Method_Patch, "HEAD": _http.Method_Head}
        request.set_method(methods[method]() if method in methods else _http.Method_Other(method))
        request.set_scheme(_http.Scheme_Https() if https else _http.Scheme_Http())
        request.set_authority(authority)
        request.set_path_with_query(path)
        outgoing = request.body()
        try:
            future = _outgoing_handler.handle(request, None)
        except Err as refused:
            raise _http_error(refused.value) from None
        # A request the host refused takes no body; its reason is in the response.
        try:
            if body:
                with outgoing.write() as stream:
                    for at in range(0, len(body), 4096):
                        stream.blocking_write_and_flush(body[at:at + 4096])
            _http.OutgoingBody.finish(outgoing, None)
        except Err:
            pass
        while True:
            answer = future.get()
            if answer is None:
                with future.subscribe() as ready:
                    ready.block()
                continue
            if isinstance(answer, Err):
                raise HttpError("failed", "the response was taken twice")
            inner = answer.value
            if isinstance(inner, Err):
                raise _http_error(inner.value)
            response = inner.value
            break
        status = response.status()
        with response.headers() as fields:
            received_headers = [(k.lower(), v.decode("utf-8", "replace")) for k, v in fields.entries()]
        incoming = response.consume()
        received = bytearray()
        with incoming.stream() as stream:
            while True:
                try:
                    received += stream.blocking_read(65536)
                except Err as failed:
                    if isinstance(failed.value, _streams.StreamError_Closed):
                        break
                    detail = failed.value.value.to_debug_string()
                    raise HttpError("too_large" if "body size" in detail else "failed", detail) from None
        return Reply(status, received_headers, bytes(received))

    def config_get(self, key: str) -> str | None:
        if _config_store is None:
            return None  # no [[config]] in plugin.toml: no key has a value
        try:
            return _config_store.get(key)
        except Err:
            return None

    def config_all(self) -> list[tuple[str, str]]:
        if _config_store is None:
            return []
        try:
            return list(_config_store.get_all())
        except Err:
            return []

    def notify(self, title: str, text: str, route: str) -> str:
        from .notify import Invalid, RateLimited

        module = self.module("notify")
        try:
            return module.send(module.Notification(title, text, route))
        except Err as failed:
            error = failed.value
            kind = type(error).__name__.removeprefix("NotifyError_")
            if kind == "Denied":
                raise AccessError("notify", Reason[error.value.name]) from None
            if kind == "RateLimited":
                raise RateLimited(error.value) from None
            raise Invalid(error.value) from None

    def log(self, level: str, message: str) -> None:
        try:
            module = self.module("log")
        except AccessError:
            return  # without the log scope the host drops lines too
        module.write(getattr(module.Level, level.upper()), message)


_backend: Any = WitBackend()


def backend() -> Any:
    """The backend calls go to now."""
    return _backend


def use(backend: Any) -> Any:
    """Makes ``backend`` the one calls go to; returns the previous one."""
    global _backend
    previous, _backend = _backend, backend
    return previous
