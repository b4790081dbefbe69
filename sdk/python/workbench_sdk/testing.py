"""A mock host for pytest, so a plugin's logic is tested natively.

Fields are refused (``not_consented``) until given; ``deny`` refuses any
scope with a chosen reason, as the real host does after a withdrawal or a
missing grant; built :meth:`MockHost.from_manifest`, a scope plugin.toml does
not declare is ``not_declared``. Storage and log follow the host's limits.
:meth:`MockHost.deliver` runs an event handler as the host would; an event
about nobody reads no field, notifies nobody and has no person bucket.

.. code-block:: python

    from workbench_sdk import Event, Reason, Request, Subject
    from workbench_sdk.testing import MockHost
    import app

    def test_greets_by_name():
        host = MockHost(name="张伟")
        assert host.call(app.handle, Request.get("/")).body_text == "你好, 张伟"
        assert host.accesses == [("user.name", "allowed")]

    def test_tells_the_approver():
        host = MockHost(notify=True)
        host.deliver(app.on_event, Event.of("approval.submitted", {"title": "差旅报销"}, subject=Subject.PERSON))
        assert host.notifications == [("审批待办", "差旅报销", "/approvals")]
"""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable

from . import _host, handle_event, handle_request
from .errors import AccessError, Reason
from .events import Event, Subject
from .http import Request, Response

FIELDS = {
    "user_id": "user.id",
    "avatar": "user.avatar",
    "nickname": "user.nickname",
    "name": "user.name",
    "gender": "user.gender",
    "birthday": "user.birthday",
    "region": "user.region",
    "email": "user.email",
    "phone": "user.phone",
    "department": "org.department",
    "customers": "perm.customer",
    "approvals": "perm.approval",
}
"""Keyword of :class:`MockHost` -> scope."""

KEY_BYTES = 256
VALUE_BYTES = 64 << 10
BUCKET_BYTES = 1 << 20
LOG_LINES = 100
LOG_LINE_BYTES = 4 << 10
TITLE_CHARS = 100
TEXT_CHARS = 1000
ROUTE_CHARS = 500


def _notification_problem(title: str, text: str, route: str) -> str | None:
    """Why the host would not send a notification, as it says it; None when it would."""
    if not title.strip() or len(title) > TITLE_CHARS:
        return f"the title must be 1 to {TITLE_CHARS} characters"
    if len(text) > TEXT_CHARS:
        return f"the text must be at most {TEXT_CHARS} characters"
    if any(unicodedata.category(c) == "Cc" and c != "\n" for c in title + text):
        return "the title and text may not hold control characters (a newline in the text is fine)"
    printable = all(0x21 <= ord(c) < 0x7F and c != "\\" for c in route)
    if not route.startswith("/") or route.startswith("//") or len(route) > ROUTE_CHARS or not printable:
        return (f"the route {route!r} must be a path inside the plugin: '/' and at most {ROUTE_CHARS} printable "
                "characters, no spaces or backslashes, not starting with '//'")
    return None


class MockHost:
    """What the mock host knows and has seen (see the module's example).

    Keywords: one per field (``user_id``, ``name``, ``phone``,
    ``department``, ``customers`` …, see :data:`FIELDS`), ``storage`` (True
    grants it), ``log`` (True grants it), ``notify`` (True grants and
    consents to it; else it is ``not_consented``), ``declared`` (the scopes
    plugin.toml declares; None declares everything)."""

    def __init__(self, *, declared: Iterable[str] | None = None, storage: bool = False, log: bool = False,
                 notify: bool = False, **fields: Any) -> None:
        unknown = set(fields) - set(FIELDS)
        if unknown:
            raise TypeError(f"MockHost has no field {', '.join(sorted(unknown))}; fields are {', '.join(FIELDS)}")
        self.values = {FIELDS[k]: v for k, v in fields.items()}
        self.declared = None if declared is None else set(declared)
        self.denials: dict[str, Reason] = {}
        self.storage_granted = storage
        self.log_granted = log
        self.buckets: dict[bool, dict[str, bytes]] = {False: {}, True: {}}
        self.accesses: list[tuple[str, str]] = []
        """Each access attempt: (scope, "allowed" or the refusal's code), as the audit log has them."""
        self.logs: list[tuple[str, str]] = []
        """Each kept log line: (level, message)."""
        self.dropped_logs = 0
        self.destinations: list[tuple[str, Any]] = []
        self.requests: list[tuple[str, str, list[tuple[str, str]], bytes]] = []
        """Each outgoing request: (method, url, headers, body)."""
        self.config: dict[str, str] = {}
        """Configuration values by key, as the admin set them."""
        self.notify_granted = notify
        self.notifications: list[tuple[str, str, str]] = []
        """Each notification sent: (title, text, route)."""
        self.nobody = False
        """Whether the running call is about nobody (an event's subject)."""

    def with_destination(self, destination: str, status: int = 200, body: bytes = b"",
                         headers: list[tuple[str, str]] | None = None) -> MockHost:
        """Answers requests to ``destination`` (``https://visits.acme.example``,
        or a longer prefix) with ``status``, ``headers`` and ``body``; a
        request no stub covers is refused, as the host refuses a destination
        that is not declared and approved."""
        from .outgoing import Reply

        self.destinations.append((destination.rstrip("/"), Reply(status, list(headers or []), body)))
        return self

    def with_config(self, key: str, value: str) -> MockHost:
        """Sets configuration ``key`` to ``value``, as the admin would (or as
        the manifest's default would)."""
        self.config[key] = value
        return self

    def with_failing_destination(self, destination: str, code: str) -> MockHost:
        """Makes requests to ``destination`` fail with :class:`HttpError` ``code``
        (``timeout``, ``address_prohibited``, …)."""
        self.destinations.append((destination.rstrip("/"), code))
        return self

    @classmethod
    def from_manifest(cls, path: str | Path = "plugin.toml", **keywords: Any) -> MockHost:
        """A host that declares exactly the scopes of ``path``'s plugin.toml."""
        manifest = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        declared = [entry["scope"] for entry in manifest.get("scopes", [])]
        return cls(declared=declared, **keywords)

    def deny(self, scope: str, reason: Reason) -> MockHost:
        """Refuses ``scope`` with ``reason`` from now on."""
        self.denials[scope] = reason
        return self

    def call(self, handle: Callable[[Request], Response], request: Request) -> Response:
        """Runs ``handle`` on ``request`` against this host, as the real host
        would: raises :class:`~workbench_sdk.PluginError` for a failure."""
        previous = _host.use(self)
        try:
            return handle_request(handle, request)
        finally:
            _host.use(previous)

    def deliver(self, on_event: Callable[[Event], None], event: Event) -> None:
        """Runs ``on_event`` on ``event`` against this host, as the real host
        would: raises :class:`~workbench_sdk.PluginError` for a failure (the
        host would retry). Storage persists between calls and events. An
        event about :attr:`~workbench_sdk.Subject.NOBODY` runs with no
        person's consents: fields, notifications and the person bucket are
        ``not_consented``."""
        previous, was_nobody = _host.use(self), self.nobody
        self.nobody = event.subject is Subject.NOBODY
        try:
            handle_event(on_event, event)
        finally:
            self.nobody = was_nobody
            _host.use(previous)

    def stored(self, key: str, person: bool = False) -> bytes | None:
        """What a bucket holds at ``key``."""
        return self.buckets[person].get(key)

    # The backend interface (see _host.WitBackend).

    def _refusal(self, scope: str, granted: bool = True) -> Reason | None:
        if self.declared is not None and scope not in self.declared:
            return Reason.NOT_DECLARED
        if scope in self.denials:
            return self.denials[scope]
        if not granted:
            return Reason.NOT_GRANTED
        return None

    def field(self, scope: str, convert: Callable[[Any], Any]) -> Any:
        refusal = self._refusal(scope)
        if refusal is None and (scope not in self.values or self.nobody):
            refusal = Reason.NOT_CONSENTED
        self.accesses.append((scope, "allowed" if refusal is None else refusal.value))
        if refusal is not None:
            raise AccessError(scope, refusal)
        return convert(self.values[scope])

    def storage(self, operation: str, person: bool, *args: Any) -> Any:
        refusal = self._refusal("storage", self.storage_granted)
        if refusal is not None:
            self.accesses.append(("storage", refusal.value))
            raise AccessError("storage", refusal)
        if person and self.nobody:  # no person whose bucket it could be
            self.accesses.append(("storage", Reason.NOT_CONSENTED.value))
            raise AccessError("storage", Reason.NOT_CONSENTED)
        bucket = self.buckets[person]
        key = args[0]
        problem = None
        if operation != "list_keys":
            if not key:
                problem = "keys may not be empty"
            elif len(key.encode()) > KEY_BYTES:
                problem = f"keys are at most {KEY_BYTES} bytes, this one is {len(key.encode())}"
            elif any(ord(c) < 32 or 127 <= ord(c) < 160 for c in key):
                problem = "keys may not contain control characters"
        if problem:
            self.accesses.append(("storage", "invalid_key"))
            raise _host.StorageFailure("InvalidKey", problem)
        if operation == "set":
            value = args[1]
            if len(value) > VALUE_BYTES:
                self.accesses.append(("storage", "value_too_large"))
                raise _host.StorageFailure("ValueTooLarge", VALUE_BYTES)
            used = sum(len(k.encode()) + len(v) for k, v in bucket.items() if k != key)
            if used + len(key.encode()) + len(value) > BUCKET_BYTES:
                self.accesses.append(("storage", "quota_exceeded"))
                raise _host.StorageFailure("QuotaExceeded", (BUCKET_BYTES, used))
            bucket[key] = bytes(value)
            result = None
        elif operation == "get":
            result = bucket.get(key)
        elif operation == "delete":
            result = bucket.pop(key, None) is not None
        else:
            result = sorted(k for k in bucket if k.startswith(key))[:1000]
        self.accesses.append(("storage", "allowed"))
        return result

    def notify(self, title: str, text: str, route: str) -> str:
        from .notify import Invalid

        refusal = self._refusal("notify")
        if refusal is None and (not self.notify_granted or self.nobody):
            refusal = Reason.NOT_CONSENTED
        if refusal is not None:
            self.accesses.append(("notify", refusal.value))
            raise AccessError("notify", refusal)
        problem = _notification_problem(title, text, route)
        if problem:
            self.accesses.append(("notify", "invalid"))
            raise Invalid(problem)
        self.accesses.append(("notify", "allowed"))
        self.notifications.append((title, text, route))
        return f"mock-{len(self.notifications)}"

    def config_get(self, key: str) -> str | None:
        return self.config.get(key)

    def config_all(self) -> list[tuple[str, str]]:
        return list(self.config.items())

    def log(self, level: str, message: str) -> None:
        if self._refusal("log", self.log_granted) is not None:
            return
        if len(self.logs) >= LOG_LINES:
            self.dropped_logs += 1
            return
        data = message.encode()[:LOG_LINE_BYTES]
        self.logs.append((level, data.decode("utf-8", "ignore")))

    def send(self, method: str, url: str, target: tuple, headers: list, body: bytes):
        from .outgoing import HttpError

        self.requests.append((method, url, list(headers), body))
        for prefix, answer in self.destinations:
            rest = url[len(prefix):] if url.startswith(prefix) else None
            if rest is not None and (rest == "" or rest[0] in "/?"):
                if isinstance(answer, str):
                    raise HttpError(answer, "stubbed")
                return answer
        raise HttpError("refused", f"no destination stubbed for {url}")
