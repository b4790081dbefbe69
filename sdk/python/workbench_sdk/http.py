"""Requests the host forwards and the responses a plugin returns."""

from __future__ import annotations

import json as _json
from dataclasses import dataclass, field
from urllib.parse import parse_qs, parse_qsl, urlencode

from .errors import BadRequest


@dataclass
class Request:
    """A request from the workbench page: method (upper case), path inside the
    plugin (starting with ``/``), raw query without ``?``, headers (names
    lower case) and body."""

    method: str = "GET"
    path: str = "/"
    query: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def get(cls, path: str, **query: str) -> Request:
        """A GET of ``path`` (which may carry ``?query``), for tests."""
        path, _, raw = path.partition("?")
        extra = urlencode(query)
        return cls("GET", path, "&".join(q for q in (raw, extra) if q))

    @classmethod
    def post_form(cls, path: str, **fields: str) -> Request:
        """A form POST as a page sends it, for tests."""
        headers = [("content-type", "application/x-www-form-urlencoded"), ("accept", "text/html")]
        return cls("POST", path, "", headers, urlencode(fields).encode())

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    def param(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        return parse_qs(self.query).get(name, [default])[0]

    @property
    def text(self) -> str:
        """The body as UTF-8 text (invalid bytes replaced)."""
        return self.body.decode("utf-8", "replace")

    def json(self):
        """The body parsed as JSON; :class:`BadRequest` when it is not."""
        try:
            return _json.loads(self.body or b"null")
        except ValueError as error:
            raise BadRequest(f"the body is not JSON: {error}") from None

    def form(self) -> dict[str, str]:
        """The fields of an urlencoded form body (the last value of each)."""
        return dict(parse_qsl(self.text, keep_blank_values=True))

    @property
    def wants_html(self) -> bool:
        """The page asked for a document (``accept: text/html``), not data."""
        return "text/html" in (self.header("accept") or "")


@dataclass
class Response:
    """A plugin's answer."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def text(cls, body: str, status: int = 200) -> Response:
        """Plain UTF-8 text."""
        return cls(status, [("content-type", "text/plain; charset=utf-8")], body.encode())

    @classmethod
    def html(cls, body: str, status: int = 200) -> Response:
        """An HTML document (the workbench shows it in the plugin's frame)."""
        return cls(status, [("content-type", "text/html; charset=utf-8")], body.encode())

    @classmethod
    def json(cls, value, status: int = 200) -> Response:
        """``value`` as JSON (non-ASCII kept as is)."""
        body = _json.dumps(value, ensure_ascii=False).encode()
        return cls(status, [("content-type", "application/json")], body)

    @classmethod
    def see_other(cls, location: str) -> Response:
        """303 to ``location`` inside the plugin (after a form POST)."""
        return cls(303, [("location", location)], b"")

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k.lower() == name), None)

    @property
    def body_text(self) -> str:
        """The body as text."""
        return self.body.decode("utf-8", "replace")
