"""The visitor log on the SDK's mock host (`workbench plugin test`)."""

import json

import pytest

import app
from workbench_sdk import BadRequest, Internal, NotFound, Reason, Request
from workbench_sdk.profile import Department
from workbench_sdk.testing import MockHost


def host(**fields):
    fields.setdefault("user_id", "ou_zhang")
    fields.setdefault("name", "张伟")
    return MockHost.from_manifest("plugin.toml", storage=True, log=True, **fields)


def test_a_registered_visitor_is_listed_with_whom_they_visit():
    mock = host(department=Department("工程部", "项目经理"))
    posted = mock.call(app.handle, Request.post_form("/visitors", visitor="王总", company="上海建工", date="2026-12-02"))
    assert (posted.status, posted.header("location")) == (303, "/?date=2026-12-02&saved=1")
    listed = json.loads(mock.call(app.handle, Request.get("/visitors.json?date=2026-12-02")).body)
    assert listed["visitors"] == [{"visitor": "王总", "company": "上海建工", "host": "张伟", "department": "工程部"}]
    page = mock.call(app.handle, Request.get("/?date=2026-12-02&saved=1")).body_text
    assert "王总（上海建工）→ 张伟 · 工程部（我登记的）" in page and "已登记" in page
    assert mock.logs == [("info", "visitor registered for 2026-12-02")]


def test_the_department_is_optional_and_the_name_is_not():
    mock = host().deny("org.department", Reason.NOT_CONSENTED)
    posted = mock.call(app.handle, Request("POST", "/visitors", "", [], json.dumps({"visitor": "李工", "date": "2026-12-03"}).encode()))
    assert posted.status == 201 and json.loads(posted.body)["registered"]["department"] is None
    refused = host().deny("user.name", Reason.CONSENT_WITHDRAWN)
    with pytest.raises(Internal, match="user.name: consent_withdrawn"):
        refused.call(app.handle, Request.post_form("/visitors", visitor="李工"))


def test_bad_input_is_a_precise_error():
    with pytest.raises(BadRequest, match="1 to 60"):
        host().call(app.handle, Request.post_form("/visitors", visitor=" "))
    with pytest.raises(BadRequest, match="YYYY-MM-DD"):
        host().call(app.handle, Request.get("/visitors.json?date=tomorrow"))
    with pytest.raises(NotFound):
        host().call(app.handle, Request.get("/nowhere"))


def test_it_reads_only_what_plugin_toml_declares():
    mock = host(phone="13800000000")
    mock.call(app.handle, Request.post_form("/visitors", visitor="王总", date="2026-12-02"))
    assert {scope for scope, _ in mock.accesses} <= {"user.id", "user.name", "org.department", "storage"}
