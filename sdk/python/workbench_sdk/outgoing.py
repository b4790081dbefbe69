"""Requests to the developer's own service, through ``wasi:http``.

Only destinations plugin.toml declares (``[[egress]]``) and the tenant's
admin approved are reached; the host refuses anything else before it
leaves, and audits every request with the fields the call had read before
it. Declare a destination and build with ``workbench plugin build``: the
plugin's world then imports ``wasi:http/outgoing-handler``.

.. code-block:: python

    from workbench_sdk import outgoing

    reply = outgoing.post("https://visits.acme.example/visits", b'{"customer": "上海建工"}',
                          headers=[("content-type", "application/json")])
    if reply.status == 201:
        ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from . import _host


class HttpError(Exception):
    """A request got no answer. ``code`` is ``refused`` (not declared, not
    approved, plain http, too many requests: the audit log says which),
    ``address_prohibited``, ``timeout``, ``too_large``, ``bad_url`` or
    ``failed``; ``detail`` is the host's description."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


@dataclass
class Reply:
    """What the service answered (headers' names lower case)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def text(self) -> str:
        """The body as UTF-8 text (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        """Whether the status is 2xx."""
        return 200 <= self.status < 300


def target(url: str) -> tuple[bool, str, str]:
    """(https, authority, path and query) of ``url``; :class:`HttpError`
    ``bad_url`` when it is not ``http(s)://host[:port][/path]``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc or parts.fragment:
        raise HttpError("bad_url", f"{url!r} is not http(s)://host[:port][/path]")
    path = parts.path or "/"
    if parts.query:
        path = f"{path}?{parts.query}"
    return parts.scheme == "https", parts.netloc, path


def send(method: str, url: str, body: bytes = b"", headers: list[tuple[str, str]] | None = None) -> Reply:
    """Sends a request and reads the whole answer. Redirects come back as
    they are (3xx with ``location``): follow one with another request, which
    the host checks like any other."""
    https, authority, path = target(url)
    headers = [(k.lower(), v) for k, v in (headers or [])]
    if body and not any(k == "content-length" for k, _ in headers):
        headers.append(("content-length", str(len(body))))
    return _host.backend().send(method.upper(), url, (https, authority, path), headers, bytes(body))


def get(url: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    """A GET of ``url``."""
    return send("GET", url, b"", headers)


def post(url: str, body: bytes, headers: list[tuple[str, str]] | None = None) -> Reply:
    """A POST of ``body`` to ``url``."""
    return send("POST", url, body, headers)
