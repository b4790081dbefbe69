"""The probe on the mock host keeps what the Rust probe keeps, in its words."""

import pytest

import app
from workbench_sdk import Event, Internal, Request, Subject
from workbench_sdk.testing import MockHost

PAYLOAD = {"approval_id": "e-1", "process_id": "expense", "title": "差旅报销", "amount_cents": 120000}


def kept(host: MockHost) -> dict[str, str]:
    listing = host.call(app.handle, Request.get("/")).body_text
    return dict(line.split("=", 1) for line in listing.splitlines())


def test_an_event_about_a_consenting_person_reads_their_name_and_notifies_them():
    host = MockHost.from_manifest(name="张伟", storage=True, notify=True).with_config("mode", "ok")
    host.deliver(app.on_event, Event.of("approval.submitted", PAYLOAD, subject=Subject.PERSON, id="e-1"))
    host.deliver(app.on_event, Event.of("member.joined", id="e-2"))
    assert kept(host) == {
        "count:e-1": "1", "name:e-1": "person approval.submitted 张伟", "notify:e-1": "sent",
        "count:e-2": "1", "name:e-2": "nobody member.joined denied NotConsented", "notify:e-2": "Denied(NotConsented)",
    }
    [(title, text, route)] = host.notifications
    assert (title, route) == ("approval.submitted 到了", "/events/e-1") and "差旅报销" in text


def test_told_to_fail_it_counts_the_attempt_and_fails():
    host = MockHost.from_manifest(storage=True).with_config("mode", "fail")
    for _ in range(3):
        with pytest.raises(Internal, match="told to fail f-1"):
            host.deliver(app.on_event, Event.of("approval.submitted", PAYLOAD, id="f-1"))
    assert kept(host) == {"count:f-1": "3"}
