"""A plugin page written in Python with componentize-py against the workbench
WIT, as a third-party developer would build one, that uses the frame bridge:
a form posts a note (the page answers 303 back to itself), the list links to
each note, and a button asks `workbench.invoke` for JSON.

| route | what |
|---|---|
| `GET /` | the page: the form, the notes (links `?note=N`), the count button |
| `POST /notes` | form field `text`: keep a note; from the page `303` to `/?saved=1`, else `201` JSON |
| `GET /count.json` | `{"count": N, "open_id": ...}` |
"""

import html
import json
from urllib.parse import parse_qs

from wit_world import exports
from wit_world.exports.handler import Request, Response
from wit_world.imports import storage, user_id

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>Python 笔记</title></head><body>
<h1>Python 笔记</h1>{notice}
<form method="post" action="/notes" aria-label="写笔记"><label for="text">笔记</label>
<textarea id="text" name="text" required maxlength="2000"></textarea><button type="submit">保存笔记</button></form>
<h2>我的笔记</h2>{notes}{shown}
<p><button type="button" id="count">数一数</button> <output id="count-out" aria-live="polite"></output></p>
<script>
// Runs in the page's script worker: it reaches the page through workbench.page.
workbench.page.on('#count', 'click', async () => {{
  try {{
    const r = await workbench.invoke({{ path: '/count.json' }});
    workbench.page.set('#count-out', {{ text: `共 ${{r.json.count}} 条` }});
  }} catch (e) {{
    workbench.page.set('#count-out', {{ text: `失败：${{e.code}}` }});
  }}
}});
</script></body></html>"""


def keys():
    return sorted(storage.list_keys(storage.Bucket.PERSON, "note/"))


class Handler(exports.Handler):
    def handle(self, request: Request) -> Response:
        user_id.get()  # who is asking: audited, and refused without consent
        query = parse_qs(request.query)
        wants_html = any(k == "accept" and "text/html" in v for k, v in request.headers)
        if request.method == "GET" and request.path == "/":
            notice = '<p class="notice ok" role="status">笔记已保存。</p>' if "saved" in query else ""
            items = keys()
            notes = "".join(
                f'<li><a href="?note={i}">笔记 {i + 1}</a></li>' for i in range(len(items))
            )
            notes = f"<ul>{notes}</ul>" if notes else '<p class="empty">还没有笔记。</p>'
            shown = ""
            if "note" in query:
                i = int(query["note"][0])
                text = storage.get(storage.Bucket.PERSON, items[i]) if 0 <= i < len(items) else None
                if text is not None:
                    shown = f'<article class="card" id="shown">{html.escape(text.decode())}</article>'
            return page(200, PAGE.format(notice=notice, notes=notes, shown=shown))
        if request.method == "POST" and request.path == "/notes":
            form = parse_qs(bytes(request.body).decode())
            text = form.get("text", [""])[0].strip()
            if not text:
                return Response(status=400, headers=[("content-type", "text/plain; charset=utf-8")], body="empty note".encode())
            key = f"note/{len(keys()):06d}"
            storage.set(storage.Bucket.PERSON, key, text.encode())
            if wants_html:
                return Response(status=303, headers=[("location", "/?saved=1")], body=b"")
            return Response(status=201, headers=[("content-type", "application/json")], body=json.dumps({"saved": key}).encode())
        if request.method == "GET" and request.path == "/count.json":
            body = json.dumps({"count": len(keys()), "open_id": user_id.get()})
            return Response(status=200, headers=[("content-type", "application/json")], body=body.encode())
        return Response(status=404, headers=[("content-type", "text/plain; charset=utf-8")], body=b"no such route")


def page(status: int, body: str) -> Response:
    return Response(status=status, headers=[("content-type", "text/html; charset=utf-8")], body=body.encode())
