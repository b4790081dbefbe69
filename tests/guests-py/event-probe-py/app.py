"""The Python twin of tests/guests/event-probe, written with the SDK as a
third-party developer would: told of events, it keeps what each delivery
saw in its plugin bucket, so a test can read it back with a request, in the
same words as the Rust probe.

| key | what |
|---|---|
| `count:ID` | how many times event ID came |
| `name:ID` | `person`/`nobody`, the kind, and what reading `user.name` gave (`denied NotConsented` …) |
| `notify:ID` | what sending a notification gave: `sent`, `Denied(NotConsented)`, `RateLimited(N)` … |

The configuration key `mode` makes it fail (`fail`: a plugin error; `trap`:
an abort) every event, (`slow`) sleep past the host's deadline, or
(`pause`) wait 700 ms, within the deadline, before going on. Any request
lists the bucket as `key=value` lines.
"""

import json
import os
import sys
import time

from workbench_sdk import (
    AccessError, Event, Internal, Request, Response, Subject, config, export, export_events, notify, profile, storage,
)


def handle(request: Request) -> Response:
    lines = [f"{key}={storage.plugin.get_text(key) or ''}" for key in storage.plugin.keys()]
    return Response.text("\n".join(lines))


def on_event(event: Event) -> None:
    count_key = f"count:{event.id}"
    try:
        seen = int(storage.plugin.get_text(count_key) or 0)
    except (AccessError, storage.StorageError, ValueError):
        seen = 0
    storage.plugin.set(count_key, str(seen + 1))
    mode = config.get("mode")
    if mode == "fail":
        raise Internal(f"told to fail {event.id}")
    if mode == "trap":
        print(f"told to trap {event.id}", file=sys.stderr, flush=True)
        os.abort()
    if mode == "slow":
        time.sleep(30)
    elif mode == "pause":
        time.sleep(0.7)
    about = "person" if event.subject is Subject.PERSON else "nobody"
    try:
        name = profile.name()
    except AccessError as denied:
        name = f"denied {rust_name(denied)}"
    storage.plugin.set(f"name:{event.id}", f"{about} {event.kind} {name}")
    try:
        notify.send(f"{event.kind} 到了", event.payload, f"/events/{event.id}")
        sent = "sent"
    except AccessError as denied:
        sent = f"Denied({rust_name(denied)})"
    except notify.RateLimited as limited:
        sent = f"RateLimited({limited.retry_after_seconds})"
    except notify.Invalid as invalid:
        sent = f"Invalid({json.dumps(str(invalid), ensure_ascii=False)})"
    storage.plugin.set(f"notify:{event.id}", sent)


def rust_name(denied: AccessError) -> str:
    """The refusal as the Rust probe writes it: `not_consented` is `NotConsented`."""
    return "".join(part.capitalize() for part in denied.code.split("_"))


Handler = export(handle)
Events = export_events(on_event)
