"""A hostile plugin written in Python with componentize-py against the
workbench WIT, as a third-party developer would build one.

| path | what |
|---|---|
| `/sleep?s=N` | `time.sleep(N)` (default 30): WASI clocks and poll, no wasm runs while it waits |
| `/wait-loop` | sleeps 20 ms and writes a key (`py-wait/N`) to the plugin bucket, forever |
| anything else | says hello (the plugin works at all) |
"""

import time
from urllib.parse import parse_qs

from wit_world import exports
from wit_world.exports.handler import Request, Response
from wit_world.imports import storage


class Handler(exports.Handler):
    def handle(self, request: Request) -> Response:
        query = parse_qs(request.query)
        if request.path == "/sleep":
            seconds = float(query.get("s", ["30"])[0])
            time.sleep(seconds)
            return text(200, f"slept {seconds} s")
        if request.path == "/wait-loop":
            i = 0
            while True:
                time.sleep(0.02)
                storage.set(storage.Bucket.PLUGIN, f"py-wait/{i}", b"1")
                i += 1
        return text(200, "hello from Python")


def text(status: int, body: str) -> Response:
    return Response(status=status, headers=[("content-type", "text/plain; charset=utf-8")], body=body.encode())
