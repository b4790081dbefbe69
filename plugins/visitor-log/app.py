"""访客登记 (visitor log): people register the visitors they expect; the
plugin keeps each day's list in the shared bucket, so reception sees who is
coming and whom they visit.

| route | what |
|---|---|
| `GET /` (`?date=YYYY-MM-DD`) | the page: today's visitors and the form |
| `POST /visitors` | form fields `visitor`, `company`, `date`: register one; from the page 303 to `/?date=D&saved=1`, else 201 JSON |
| `GET /visitors.json` (`?date=`) | that day's visitors as JSON |
"""

import datetime
import json

from workbench_sdk import AccessError, BadRequest, NotFound, Request, Response, export, html, log, profile, storage


def day(request: Request, value: str | None = None) -> str:
    text = value if value is not None else request.param("date")
    if not text:
        return datetime.date.today().isoformat()
    try:
        return datetime.date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadRequest(f"date {text!r} is not YYYY-MM-DD") from None


def visitors(date: str) -> list[dict]:
    stored = storage.plugin.get_text(f"day/{date}")
    return json.loads(stored) if stored else []


def host_of_visit() -> dict:
    """Who is registering: name (required) and department (optional)."""
    try:
        department = profile.department()
        unit = department.name if department else None
    except AccessError:
        unit = None  # optional: the person may not have consented
    return {"host": profile.name(), "host_id": profile.user_id(), "department": unit}


def register(request: Request) -> Response:
    form = request.form() if request.body and not request.body.startswith(b"{") else request.json()
    visitor = (form.get("visitor") or "").strip()
    if not 1 <= len(visitor) <= 60:
        raise BadRequest("visitor must be 1 to 60 characters")
    company = (form.get("company") or "").strip()[:80]
    date = day(request, form.get("date"))
    entry = {"visitor": visitor, "company": company, **host_of_visit()}
    listed = visitors(date)
    if len(listed) >= 200:
        raise BadRequest(f"{date} already has 200 visitors")
    listed.append(entry)
    storage.plugin.set(f"day/{date}", json.dumps(listed, ensure_ascii=False))
    log.info(f"visitor registered for {date}")
    if request.wants_html:
        return Response.see_other(f"/?date={date}&saved=1")
    public = {k: v for k, v in entry.items() if k != "host_id"}
    return Response.json({"date": date, "registered": public, "count": len(listed)}, status=201)


def page(request: Request) -> Response:
    date = day(request)
    me = profile.user_id()
    rows = [
        f"{v['visitor']}（{v['company'] or '个人'}）→ {v['host']}" + (f" · {v['department']}" if v["department"] else "")
        + ("（我登记的）" if v["host_id"] == me else "")
        for v in visitors(date)
    ]
    saved = [html.notice("已登记。")] if request.param("saved") else []
    form = html.form("/visitors", "登记访客", [
        html.field("visitor", "访客姓名", required=True, max_length=60),
        html.field("company", "单位", max_length=80),
        html.field("date", "日期", value=date, kind="date", required=True),
    ], "登记")
    return Response.html(html.document(
        "访客登记", html.heading("访客登记"), *saved, html.heading(f"{date} 的访客", 2),
        html.items(rows, empty="这一天还没有访客。"), form,
    ))


def handle(request: Request) -> Response:
    if request.method == "GET" and request.path == "/":
        return page(request)
    if request.method == "GET" and request.path == "/visitors.json":
        date = day(request)
        listed = [{k: v for k, v in entry.items() if k != "host_id"} for entry in visitors(date)]
        return Response.json({"date": date, "visitors": listed})
    if request.method == "POST" and request.path == "/visitors":
        return register(request)
    raise NotFound(f"{request.method} {request.path}")


Handler = export(handle)
