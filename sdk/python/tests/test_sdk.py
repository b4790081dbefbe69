"""The SDK on its mock host: the same answers and refusals the real host gives."""

import datetime

import pytest

from workbench_sdk import AccessError, BadRequest, Internal, Reason, Request, Response, html, log, permissions, profile, storage
from workbench_sdk.testing import MockHost


def greet(request: Request) -> Response:
    try:
        return Response.text(f"你好, {profile.name()}")
    except AccessError as refused:
        return Response.text(refused.code, status=403)


def test_a_given_field_is_read_and_recorded():
    host = MockHost(name="张伟")
    assert host.call(greet, Request.get("/")).body_text == "你好, 张伟"
    assert host.accesses == [("user.name", "allowed")]


def test_fields_not_given_are_not_consented_and_denials_win():
    host = MockHost()
    assert host.call(greet, Request.get("/")).body_text == "not_consented"
    host = MockHost(name="张伟").deny("user.name", Reason.CONSENT_WITHDRAWN)
    reply = host.call(greet, Request.get("/"))
    assert (reply.status, reply.body_text) == (403, "consent_withdrawn")
    assert host.accesses == [("user.name", "consent_withdrawn")]


def test_a_manifest_declares_exactly_its_scopes(tmp_path):
    manifest = tmp_path / "plugin.toml"
    manifest.write_text('id = "x"\n[[scopes]]\nscope = "user.id"\npurpose = "tell you apart"\n', encoding="utf-8")
    host = MockHost.from_manifest(manifest, user_id="ou_1", name="张伟")
    assert host.call(lambda r: Response.text(profile.user_id()), Request.get("/")).body_text == "ou_1"
    assert host.call(greet, Request.get("/")).body_text == "not_declared"


def test_typed_fields_convert():
    host = MockHost(
        gender=profile.Gender.FEMALE,
        birthday=datetime.date(1990, 5, 1),
        department=profile.Department("工程部", "项目经理"),
        customers=[permissions.CustomerPermission("c1", "上海建工", permissions.CustomerAccess.EDIT)],
        approvals=[permissions.ApprovalPermission("expense", "费用报销", True, False, 500_000)],
    )

    def show(request):
        return Response.json({
            "gender": profile.gender().value,
            "birthday": profile.birthday().isoformat(),
            "department": profile.department().title,
            "customers": [c.access.value for c in permissions.customers()],
            "approvals": [a.max_amount_cents for a in permissions.approvals()],
        })

    import json
    assert json.loads(host.call(show, Request.get("/")).body) == {
        "gender": "female", "birthday": "1990-05-01", "department": "项目经理",
        "customers": ["edit"], "approvals": [500000],
    }


def test_storage_needs_the_grant_and_checks_keys_values_and_quota():
    host = MockHost()
    with pytest.raises(Internal, match="storage: not_granted"):
        host.call(lambda r: storage.plugin.set("k", "v"), Request.get("/"))
    host = MockHost(storage=True)

    def use(request):
        storage.person.set("note/1", "第一条")
        storage.plugin.set("count", b"1")
        for bad in ["", "x" * 257, "a\nb"]:
            with pytest.raises(storage.InvalidKey):
                storage.plugin.set(bad, "v")
        with pytest.raises(storage.ValueTooLarge):
            storage.plugin.set("big", b"x" * ((64 << 10) + 1))
        return Response.json({"notes": storage.person.keys("note/"), "text": storage.person.get_text("note/1"),
                              "plugin": storage.plugin.keys(), "gone": storage.person.delete("note/1")})

    import json
    assert json.loads(host.call(use, Request.get("/")).body) == {
        "notes": ["note/1"], "text": "第一条", "plugin": ["count"], "gone": True,
    }
    assert host.stored("count") == b"1" and host.stored("note/1", person=True) is None
    assert ("storage", "invalid_key") in host.accesses and ("storage", "value_too_large") in host.accesses


def test_the_bucket_quota_is_the_hosts():
    host = MockHost(storage=True)

    def fill(request):
        for i in range(16):
            storage.plugin.set(f"k{i}", b"x" * (64 << 10))
        return Response.text("no")

    with pytest.raises(Internal, match="QuotaExceeded"):
        host.call(fill, Request.get("/"))
    assert host.accesses[-1] == ("storage", "quota_exceeded")


def test_logs_need_the_grant_and_are_capped():
    host = MockHost(log=True)
    host.call(lambda r: [log.info("x" * 5000) for _ in range(120)] and Response.text(""), Request.get("/"))
    assert len(host.logs) == 100 and host.dropped_logs == 20 and len(host.logs[0][1]) == 4096
    silent = MockHost()
    silent.call(lambda r: log.info("dropped") or Response.text(""), Request.get("/"))
    assert silent.logs == []


def test_failures_are_reported_as_the_host_reports_them():
    with pytest.raises(BadRequest, match="date"):
        MockHost().call(lambda r: (_ for _ in ()).throw(BadRequest("bad date")), Request.get("/"))
    with pytest.raises(Internal, match="ZeroDivisionError"):
        MockHost().call(lambda r: Response.text(str(1 / 0)), Request.get("/"))
    with pytest.raises(Internal, match="not a Response"):
        MockHost().call(lambda r: "text", Request.get("/"))
    with pytest.raises(TypeError, match="no field passport"):
        MockHost(passport="E123")


def test_requests_and_responses():
    request = Request.post_form("/notes", text="a & b", day="2026-12-02")
    assert request.form() == {"text": "a & b", "day": "2026-12-02"} and request.wants_html
    assert Request.get("/?a=1", b="2").param("b") == "2" and Request.get("/?a=1").param("a") == "1"
    assert Response.see_other("/?saved=1").header("Location") == "/?saved=1"
    assert Response.json({"名": "张"}).body == '{"名": "张"}'.encode()
    with pytest.raises(BadRequest):
        Request("POST", "/", "", [], b"{").json()


def test_html_escapes_everything_but_markup():
    page = html.document("<t>", html.heading("a<b"), html.paragraph("x", html.link("?d=1&e=2", "<next>")))
    assert "<title>&lt;t&gt;</title>" in page and "<h1>a&lt;b</h1>" in page
    assert '<a href="?d=1&amp;e=2">&lt;next&gt;</a>' in page
    assert html.items([], empty="none") == '<p class="empty">none</p>'
    assert 'required' in html.field("t", "Text", kind="textarea", required=True)


def test_outgoing_requests_reach_stubbed_destinations_only():
    from workbench_sdk import outgoing

    def handle(request: Request) -> Response:
        try:
            reply = outgoing.post(request.param("to"), b'{"visit": 1}', headers=[("Content-Type", "application/json")])
        except outgoing.HttpError as error:
            return Response.text(error.code, 502)
        return Response.text(f"{reply.status} {reply.text}")

    host = MockHost().with_destination("https://visits.acme.example/", 201, b"saved")
    host.with_failing_destination("https://slow.acme.example", "timeout")
    answer = lambda to: host.call(handle, Request.get("/", to=to)).body_text  # noqa: E731
    assert answer("https://visits.acme.example/visits") == "201 saved"
    assert answer("https://slow.acme.example/x") == "timeout"
    assert answer("https://visits.acme.example.evil.example/") == "refused"
    assert answer("ftp://visits.acme.example/") == "bad_url"
    assert [r[1] for r in host.requests] == [
        "https://visits.acme.example/visits", "https://slow.acme.example/x", "https://visits.acme.example.evil.example/",
    ]
    assert host.requests[0][2] == [("content-type", "application/json"), ("content-length", "12")]



def test_configuration_reads_the_admins_values():
    from workbench_sdk import config

    def handle(request: Request) -> Response:
        return Response.text(f"{config.require('visits_url')} {config.get('region')} {config.all()}")

    host = MockHost().with_config("visits_url", "https://visits.acme.example")
    assert host.call(handle, Request.get("/")).body_text == (
        "https://visits.acme.example None [('visits_url', 'https://visits.acme.example')]"
    )
    with pytest.raises(Internal, match="no value for visits_url"):
        MockHost().call(handle, Request.get("/"))


def test_events_run_with_the_subjects_consents_and_notify_them():
    from workbench_sdk import Event, Subject, notify

    def on_event(event: Event) -> None:
        count = int(storage.plugin.get_text(f"count:{event.id}") or 0) + 1
        storage.plugin.set(f"count:{event.id}", str(count))
        sent = notify.send(f"{event.kind} 到了", event.json()["title"], f"/events/{event.id}")
        storage.plugin.set(f"name:{event.id}", f"{event.subject.value} {profile.name()} {sent}")

    host = MockHost(name="张伟", storage=True, notify=True)
    event = Event.of("approval.submitted", {"title": "差旅报销"}, subject=Subject.PERSON, id="d-1",
                     time_ms=1_765_000_000_000)
    assert event.time == datetime.datetime(2025, 12, 6, 5, 46, 40, tzinfo=datetime.timezone.utc)
    assert event.about_person and event.json() == {"title": "差旅报销"}
    host.deliver(on_event, event)
    host.deliver(on_event, event)  # delivered again: storage persists between deliveries
    assert host.stored("count:d-1") == b"2" and host.stored("name:d-1") == "person 张伟 mock-2".encode()
    assert host.notifications == [("approval.submitted 到了", "差旅报销", "/events/d-1")] * 2
    assert ("notify", "allowed") in host.accesses


def test_an_event_about_nobody_reads_no_field_notifies_nobody_and_has_no_person_bucket():
    from workbench_sdk import Event, notify

    seen = []

    def on_event(event: Event) -> None:
        for attempt in (profile.name, lambda: notify.send("t", "x", "/"), lambda: storage.person.get("k")):
            try:
                attempt()
            except AccessError as refused:
                seen.append((refused.scope, refused.code))
        storage.plugin.set("last", event.kind)

    host = MockHost(name="张伟", storage=True, notify=True)
    host.deliver(on_event, Event.of("member.joined"))
    assert seen == [("user.name", "not_consented"), ("notify", "not_consented"), ("storage", "not_consented")]
    assert host.notifications == [] and host.stored("last") == b"member.joined"
    # A request afterwards is about its caller again.
    assert host.call(greet, Request.get("/")).body_text == "你好, 张伟"


def test_notifications_need_the_scope_and_a_well_formed_notification():
    from workbench_sdk import notify

    def send(request: Request) -> Response:
        try:
            return Response.text(notify.send(request.param("title"), request.param("text", ""), request.param("route")))
        except AccessError as refused:
            return Response.text(refused.code, 403)
        except notify.Invalid as invalid:
            return Response.text(f"invalid: {invalid}", 400)

    ask = lambda host, title="审批", route="/a?b=1", text="": host.call(  # noqa: E731
        send, Request.get("/", title=title, text=text, route=route)).body_text
    assert ask(MockHost()) == "not_consented"
    assert ask(MockHost(notify=True).deny("notify", Reason.CONSENT_WITHDRAWN)) == "consent_withdrawn"
    assert ask(MockHost(notify=True, declared=["user.name"])) == "not_declared"
    host = MockHost(notify=True)
    assert ask(host) == "mock-1"
    assert ask(host, title=" ").startswith("invalid: the title")
    assert ask(host, title="x" * 101).startswith("invalid: the title")
    assert ask(host, text="x" * 1001).startswith("invalid: the text")
    assert ask(host, text="a\nb") == "mock-2"
    assert ask(host, text="a\x07b").startswith("invalid: the title and text")
    for route in ["a", "//evil.example/", "/a b", "/a\\b", "/" + "x" * 500]:
        assert ask(host, route=route).startswith("invalid: the route"), route
    assert host.notifications == [("审批", "", "/a?b=1"), ("审批", "a\nb", "/a?b=1")]
    assert host.accesses.count(("notify", "invalid")) == 9
    assert isinstance(notify.RateLimited(30), notify.NotifyError) and notify.RateLimited(30).retry_after_seconds == 30


def test_event_failures_are_reported_as_the_host_reports_them():
    from workbench_sdk import Event, NotFound

    def fails(error):
        def on_event(event):
            raise error
        return on_event

    with pytest.raises(NotFound, match="no such approval"):
        MockHost().deliver(fails(NotFound("no such approval")), Event.of("approval.decided"))
    with pytest.raises(Internal, match="KeyError"):
        MockHost().deliver(lambda e: e.json()["missing"], Event.of("approval.decided"))
    with pytest.raises(Internal, match="unhandled refusal: user.name: not_consented"):
        MockHost().deliver(lambda e: profile.name(), Event.of("member.joined"))
    MockHost().deliver(lambda e: None, Event.of("schedule", '{"schedule": "daily", "slot": "2026-12-07T18:00:00+08:00"}'))


def test_the_exported_events_class_converts_the_hosts_event_and_errors(monkeypatch):
    import enum
    import types

    from workbench_sdk import BadRequest, Event, Subject, _host, export_events

    class Err(Exception):
        def __init__(self, value):
            self.value = value

    wit = types.SimpleNamespace(**{
        f"PluginError_{kind}": type(f"PluginError_{kind}", (), {"__init__": lambda self, v: setattr(self, "value", v)})
        for kind in ("BadRequest", "NotFound", "Internal")
    })
    monkeypatch.setattr(_host, "Err", Err)
    monkeypatch.setattr(_host, "wit_handler", wit)
    WitSubject = enum.Enum("Subject", ["NOBODY", "PERSON"])
    wit_event = types.SimpleNamespace(id="d-7", kind="member.joined", time_ms=5, subject=WitSubject.PERSON,
                                      payload='{"member": "x"}')
    received = []
    Events = export_events(received.append)
    Events().on_event(wit_event)
    assert received == [Event("d-7", "member.joined", 5, Subject.PERSON, '{"member": "x"}')]

    def refuse(event):
        raise BadRequest(f"cannot handle {event.kind}")

    with pytest.raises(Err) as raised:
        export_events(refuse)().on_event(wit_event)
    assert type(raised.value.value).__name__ == "PluginError_BadRequest"
    assert raised.value.value.value == "cannot handle member.joined"
    with pytest.raises(Err) as raised:
        export_events(lambda e: 1 / 0)().on_event(wit_event)
    assert type(raised.value.value).__name__ == "PluginError_Internal"
    assert raised.value.value.value.startswith("ZeroDivisionError")

    # The handler of requests reports its failures the same way.
    from workbench_sdk import NotFound, export

    wit.Response = lambda status, headers, body: (status, headers, body)
    wit_request = types.SimpleNamespace(method="GET", path="/x", query="", headers=[], body=b"")
    assert export(lambda r: Response.text(r.path))().handle(wit_request)[2] == b"/x"
    with pytest.raises(Err) as raised:
        export(lambda r: (_ for _ in ()).throw(NotFound("nothing at /x")))().handle(wit_request)
    assert type(raised.value.value).__name__ == "PluginError_NotFound"
