"""Events: the workbench events and schedule ticks a plugin subscribes to in
plugin.toml (``[[events]]``, ``[[schedules]]``), handled by the function the
app module exports with :func:`~workbench_sdk.export_events`.

.. code-block:: python

    from workbench_sdk import Event, Subject, export_events, notify, storage

    def on_event(event: Event) -> None:
        if storage.plugin.get(f"done/{event.id}") is not None:
            return  # delivered before: act on an id once
        if event.kind == "approval.submitted" and event.subject is Subject.PERSON:
            notify.send("审批待办", event.json()["title"], f"/approvals/{event.json()['approval_id']}")
        storage.plugin.set(f"done/{event.id}", "1")

    Events = export_events(on_event)

Delivery is at least once: the same event may come again with the same
:attr:`Event.id` (after a failure, or when a host stopped mid-delivery).
Keep what an id did in :mod:`~workbench_sdk.storage` and do it once. An
exception is retried on the host's schedule, then kept as a dead letter the
admin can replay.
"""

from __future__ import annotations

import datetime
import json as _json
from dataclasses import dataclass
from enum import Enum
from typing import Any


class Subject(Enum):
    """Whom an event is about."""

    NOBODY = "nobody"
    """Nobody: only capabilities (storage, log) answer."""
    PERSON = "person"
    """A person: the call runs with their consents, as if they had opened the
    plugin; read :func:`~workbench_sdk.profile.user_id` to learn who."""


@dataclass(frozen=True)
class Event:
    """One event."""

    id: str
    """The event's id at this plugin, the same on every delivery of it."""
    kind: str
    """What happened: ``approval.submitted``, ``approval.decided``,
    ``customer.assigned``, ``member.joined``, ``member.left``,
    ``plugin.installed``, ``plugin.upgraded``, or ``schedule`` for a tick."""
    time_ms: int
    """When it happened, milliseconds since the Unix epoch."""
    subject: Subject
    """Whom it is about."""
    payload: str
    """Its details, a JSON object as text (see the API documentation for each
    kind); :meth:`json` parses it. A tick:
    ``{"schedule": name, "slot": "2026-12-07T18:00:00+08:00"}``."""

    @classmethod
    def of(cls, kind: str, payload: Any = None, *, subject: Subject = Subject.NOBODY, id: str = "event-1",
           time_ms: int = 0) -> Event:
        """An event for tests: ``payload`` is JSON text or a value to encode
        (None is ``{}``)."""
        if payload is None:
            payload = {}
        if not isinstance(payload, str):
            payload = _json.dumps(payload, ensure_ascii=False)
        return cls(id, kind, time_ms, subject, payload)

    @property
    def time(self) -> datetime.datetime:
        """When it happened, in UTC."""
        return datetime.datetime.fromtimestamp(self.time_ms / 1000, tz=datetime.timezone.utc)

    @property
    def about_person(self) -> bool:
        """Whether the event is about a person (:attr:`Subject.PERSON`)."""
        return self.subject is Subject.PERSON

    def json(self) -> Any:
        """The payload parsed (a dict for every kind the host sends)."""
        return _json.loads(self.payload or "{}")


def from_wit(event: Any) -> Event:
    """The SDK's event of the WIT ``event`` the host passed."""
    subject = event.subject
    if not isinstance(subject, Subject):
        subject = Subject[subject.name]
    return Event(event.id, event.kind, int(event.time_ms), subject, event.payload)


__all__ = ["Event", "Subject"]
