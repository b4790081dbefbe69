"""__ID__: a workbench plugin.

- ``GET /``: a page that greets the person by name and says how often they
  opened it (kept in their own storage bucket).
- ``GET /visits.json``: the same as JSON.

Every read goes through the host: the name only if the person consented to
``user.name``, storage only if the admin granted it.
"""

from workbench_sdk import NotFound, Request, Response, export, html, profile, storage


def visit() -> tuple[str, int]:
    """The person's name and how often they came, this visit counted."""
    name = profile.name()
    visits = int(storage.person.get_text("visits") or 0) + 1
    storage.person.set("visits", str(visits))
    return name, visits


def handle(request: Request) -> Response:
    if request.method == "GET" and request.path == "/":
        name, visits = visit()
        return Response.html(html.document(
            "__ID__", html.heading(f"你好，{name}"), html.paragraph(f"这是你第 {visits} 次打开。"),
        ))
    if request.method == "GET" and request.path == "/visits.json":
        name, visits = visit()
        return Response.json({"name": name, "visits": visits})
    raise NotFound(f"no route for {request.method} {request.path}")


# The class componentize-py exports as the plugin's handler.
Handler = export(handle)
