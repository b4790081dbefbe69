#!/usr/bin/env bash
# Benchmark (not a test): a Python plugin (tests/guests-py/notes-page, built with
# componentize-py) on the release server — publish, the first call, a restart with
# the compiled-code cache and one without it. Run from the repository after
# `cargo build --release --bin workbench` and `cargo xtask test` (or anything that
# built target/wasm/python/notes-page.wasm):
#   bash tests/bench/python_first_call.sh
# Times are curl's total for one invocation through the HTTP API.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=target/tmp/python-first-call; rm -rf $D; mkdir -p $D
start() { (RUST_LOG=warn ./target/release/workbench --data-dir $D serve --demo --listen 127.0.0.1:8090 > $D/server.log 2>&1 &); for i in $(seq 1 100); do curl -s localhost:8090/healthz >/dev/null && break; sleep 0.1; done; }
stop() { pkill -f "workbench --data-dir $D" || true; sleep 1; }
tok() { curl -s -X POST localhost:8090/api/v1/demo/session -H 'content-type: application/json' -d "{\"member\":\"$1\"}" | python3 -c "import json,sys;print(json.load(sys.stdin)['token'])"; }
call() { curl -s -o /dev/null -w '%{time_total}' -X POST -H "Authorization: Bearer $Z" -H 'content-type: application/json' -d '{"path":"/count.json"}' localhost:8090/api/v1/me/plugins/py-notes/invoke; }
start
DEV=$(tok acme); ADM=$(tok admin); Z=$(tok zhang.wei)
t0=$(date +%s.%N)
curl -s -o /dev/null -w 'publish %{http_code} %{time_total}s\n' -H "Authorization: Bearer $DEV" -F manifest=@tests/guests-py/notes-page/plugin.toml -F component=@target/wasm/python/notes-page.wasm localhost:8090/api/v1/plugins
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $ADM" -H 'content-type: application/json' -d '{"version":"0.1.0","granted_scopes":["user.id","storage"]}' localhost:8090/api/v1/workbench/plugins/py-notes
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $Z" -H 'content-type: application/json' -d '{"scopes":["user.id","storage"]}' localhost:8090/api/v1/me/plugins/py-notes/consent
echo "first call after publish: $(call)s; publish-to-first-call: $(python3 -c "import time;print(round(time.time()-$t0,3))")s"
echo "second: $(call)s third: $(call)s"
stop; start; Z=$(tok zhang.wei)
echo "first call after a restart (compiled cache): $(call)s; then $(call)s"
stop; rm -rf $D/cache; start; Z=$(tok zhang.wei)
echo "first call after a restart without the cache: $(call)s; then $(call)s"
stop
