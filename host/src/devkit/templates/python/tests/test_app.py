"""__ID__ on the SDK's mock host (`workbench plugin test`)."""

import json

import pytest

import app
from workbench_sdk import Internal, NotFound, Request
from workbench_sdk.testing import MockHost


def host(**fields):
    # Only the scopes plugin.toml declares; the others answer not_declared.
    return MockHost.from_manifest("plugin.toml", storage=True, **fields)


def test_it_greets_by_name_and_counts_visits():
    mock = host(name="张伟")
    first = mock.call(app.handle, Request.get("/visits.json"))
    assert json.loads(first.body) == {"name": "张伟", "visits": 1}
    page = mock.call(app.handle, Request.get("/")).body_text
    assert "你好，张伟" in page and "第 2 次" in page


def test_without_consent_to_the_name_it_says_why():
    with pytest.raises(Internal, match="user.name: not_consented"):
        host().call(app.handle, Request.get("/"))


def test_an_unknown_route_is_not_found():
    with pytest.raises(NotFound):
        host(name="张伟").call(app.handle, Request.get("/nowhere"))
