"""A plugin written in Python with componentize-py that sends a planned
visit to its developer's service through wasi:http, as a third-party
developer would write one: with the raw bindings, and with the SDK.

| path | what |
|---|---|
| `/send?url=http://host:port/path&read=name` | reads the name if asked, POSTs `{"by": NAME}` there with the raw bindings; answers `STATUS BODY` or the host's error code; with `late=name` the name is read only after the request has started, and streamed in its body |
| `/sdk-send?url=…` | the same POST through `workbench_sdk.outgoing`; answers `STATUS BODY` or the `HttpError` code; without `url`, to `SERVICE_URL/visits`, the configured base |
| `/config?key=K` | `wasi:config/store` with the raw bindings: `get(K)` and `get-all()`, as `VALUE|k=v,k=v` (`-` for none) |
| `/sdk-config?key=K` | the same through `workbench_sdk.config` |
"""

from urllib.parse import parse_qs, urlsplit

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports.handler import Request, Response
from wit_world.imports import outgoing_handler, store, streams, user_name
from wit_world.imports import wasi_http_types as http
from workbench_sdk import config, outgoing


class Handler(exports.Handler):
    def handle(self, request: Request) -> Response:
        query = parse_qs(request.query)
        name = ""
        if query.get("read", [""])[0] == "name":
            try:
                name = user_name.get()
            except Err:
                name = ""
        if request.path in ("/config", "/sdk-config"):
            key = query.get("key", [""])[0]
            if request.path == "/config":
                value, every = store.get(key), store.get_all()
            else:
                value, every = config.get(key), config.all()
            listed = ",".join(f"{k}={v}" for k, v in every)
            return text(200, f"{'-' if value is None else value}|{listed}")
        url = query.get("url", [""])[0]
        body = ('{"by": "%s"}' % name).encode()
        if request.path == "/sdk-send":
            if not url:
                url = config.require("service_url").rstrip("/") + "/visits"
            try:
                reply = outgoing.post(url, body, headers=[("content-type", "application/json")])
            except outgoing.HttpError as error:
                return text(200, error.code)
            return text(200, f"{reply.status} {reply.text}")
        if query.get("late", [""])[0] == "name":
            body = late_name
        try:
            status, answer = post(url, body)
        except Err as error:
            return text(200, type(error.value).__name__.removeprefix("ErrorCode_"))
        return text(200, f"{status} {answer.decode(errors='replace')}")


def late_name() -> bytes:
    """The body, made once the request has started: the name read only then."""
    try:
        name = user_name.get()
    except Err:
        name = ""
    return ('{"by": "%s"}' % name).encode()


def post(url: str, body):
    """POSTs `body` (bytes, or a function that makes them once the request has started)."""
    parts = urlsplit(url)
    headers = [("content-type", b"application/json")]
    if not callable(body):
        headers.append(("content-length", str(len(body)).encode()))
    fields = http.Fields.from_list(headers)
    request = http.OutgoingRequest(fields)
    request.set_method(http.Method_Post())
    request.set_scheme(http.Scheme_Https() if parts.scheme == "https" else http.Scheme_Http())
    request.set_authority(parts.netloc)
    request.set_path_with_query(parts.path or "/")
    outgoing = request.body()
    future = outgoing_handler.handle(request, None)
    if callable(body):
        body = body()
    # A request the host refused takes no body; its reason is in the response.
    try:
        with outgoing.write() as stream:
            stream.blocking_write_and_flush(body)
        http.OutgoingBody.finish(outgoing, None)
    except Err:
        pass
    while True:
        answer = future.get()
        if answer is None:
            with future.subscribe() as ready:
                ready.block()
            continue
        if isinstance(answer, Err):
            raise answer
        inner = answer.value
        if isinstance(inner, Err):
            raise inner
        response = inner.value
        break
    status = response.status()
    incoming = response.consume()
    received = b""
    with incoming.stream() as stream:
        while True:
            try:
                received += stream.blocking_read(65536)
            except Err as error:
                if isinstance(error.value, streams.StreamError_Closed):
                    break
                raise
    return status, received


def text(status: int, body: str) -> Response:
    return Response(status=status, headers=[("content-type", "text/plain; charset=utf-8")], body=body.encode())
