//! A hostile plugin for the security tests: each path is one attack.
//!
//! | path | attack |
//! |---|---|
//! | `/loop` | spins forever (must hit the epoch deadline) |
//! | `/memory` | grows memory without end (must hit the memory limit) |
//! | `/recurse` | recurses without end (must hit the stack limit) |
//! | `/huge-response` | returns a 16 MB body, 16 times the default cap (must hit the response cap) |
//! | `/probe` | calls every import; reports what it got as JSON |
//! | `/hostcalls` | calls an import in a loop (must hit the hostcall limit) |
//! | `/storage-flood` | writes until the quota refuses |
//! | `/bad-keys` | empty, huge, control-character keys and a huge value |
//! | `/log-flood?n=N` | writes N (default 10 000) log lines of 10 KB |
//! | `/trap-after-write` | stores a value, then traps |
//! | `/read-key?key=K&bucket=plugin` | reads one key |
//! | `/panic` | panics |
//! | `/residue/leave?seed=N` | leaves a 64-byte pattern (from `N`) in its memory, on the heap and in a static |
//! | `/residue/scan?seed=N` | counts where its whole linear memory holds that pattern (another call's leftovers) |
//! | `/residue/check?seed=N` | leaves the pattern, then scans: must find it (the scan works) |
//! | `/sleep?ms=N` | sleeps N ms (default 30 000) through WASI clocks: no wasm runs while it waits |
//! | `/block` | blocks on a pollable that never becomes ready |
//! | `/write-budget` | overwrites two 60 KiB values until storage refuses (the per-call write budget) |
//! | `/wait-loop` | sleeps 20 ms, reads its id and writes a key (`wait/N`), forever |
//! | `/write-loop?tag=T&ms=N&bucket=person` | forever: sleeps N ms (default 0), reads its id, writes a new key `T/i` (plugin bucket unless `person`), whatever storage answers |
//! | `/fail?message=M` | returns its own error with the message M |
//! | `/sdk-fetch?url=U` | POSTs `{}` to U through the SDK's client; answers `STATUS BODY` or the error's code |
//! | `/fetch?url=U&read=name&method=M&body=N&late=name&follow=N&times=N&sleep=N` | reads the name first if asked, then sends `times` requests (default 1) through `wasi:http` (method `M`, default GET, a body of N bytes; with `late=name` the name is read only after the request started and its body begins `by=NAME`), following up to `follow` redirects itself, then sleeps `sleep` ms if asked; answers what each got as JSON |

use std::fmt::Write as _;

use workbench_sdk::storage::{self, Bucket, StorageError};
use workbench_sdk::{Plugin, PluginError, Request, Response, log, permissions, profile};

struct Hostile;

impl Plugin for Hostile {
    fn handle(request: Request) -> Result<Response, PluginError> {
        match request.path.as_str() {
            "/loop" => spin(),
            "/memory" => grow(),
            "/recurse" => Ok(Response::text(200, recurse(1).to_string())),
            "/huge-response" => Ok(Response { status: 200, headers: vec![], body: vec![b'x'; 16 << 20] }),
            "/probe" => Ok(Response::json(200, probe())),
            "/hostcalls" => {
                let mut answered = 0u64;
                loop {
                    let _ = profile::user_id();
                    answered += 1;
                    if answered == u64::MAX {
                        return Ok(Response::text(200, answered.to_string()));
                    }
                }
            }
            "/storage-flood" => {
                let value = vec![7u8; 60 * 1024];
                for i in 0.. {
                    match storage::set(Bucket::Plugin, &format!("flood/{i}"), &value) {
                        Ok(()) => {}
                        Err(e @ StorageError::QuotaExceeded { .. }) => {
                            return Ok(Response::text(507, format!("{i} {e}")));
                        }
                        Err(e) => return Ok(Response::text(500, e.to_string())),
                    }
                }
                unreachable!("the loop only ends by returning")
            }
            "/bad-keys" => {
                let mut out = String::new();
                for key in [String::new(), "k".repeat(100_000), "a\u{0}b".to_owned(), "../../other-tenant".to_owned()] {
                    let _ = writeln!(out, "{:?}", storage::set(Bucket::Plugin, &key, b"v"));
                }
                let _ = writeln!(out, "{:?}", storage::set(Bucket::Plugin, "big", &vec![0u8; 8 << 20]));
                Ok(Response::text(200, out))
            }
            "/log-flood" => {
                let lines: u32 = request.query_param("n").and_then(|n| n.parse().ok()).unwrap_or(10_000);
                for i in 0..lines {
                    log::info(&format!("line {i} {}", "z".repeat(10_000)));
                }
                Ok(Response::text(200, "logged"))
            }
            "/trap-after-write" => {
                storage::set(Bucket::Person, "half-done", b"1").map_err(|e| PluginError::Internal(e.to_string()))?;
                std::process::abort()
            }
            "/read-key" => {
                let key = request.query_param("key").unwrap_or_default();
                let bucket = if request.query_param("bucket").as_deref() == Some("person") {
                    Bucket::Person
                } else {
                    Bucket::Plugin
                };
                let value = storage::get_string(bucket, &key).map_err(|e| PluginError::Internal(e.to_string()))?;
                Ok(Response::text(200, format!("{value:?}")))
            }
            "/panic" => panic!("hostile plugin panicked on purpose"),
            "/residue/leave" | "/residue/scan" | "/residue/check" => {
                let seed: u64 = request.query_param("seed").and_then(|n| n.parse().ok()).unwrap_or(1);
                if request.path != "/residue/scan" {
                    leave_pattern(seed);
                }
                Ok(Response::text(200, scan_for_pattern(seed).to_string()))
            }
            "/write-budget" => {
                let value = vec![1u8; 60 * 1024];
                for i in 0u32.. {
                    if let Err(e) = storage::set(Bucket::Plugin, &format!("budget/{}", i % 2), &value) {
                        return Ok(Response::text(200, format!("{i} {e:?}")));
                    }
                }
                unreachable!("the loop only ends by returning")
            }
            "/sleep" => {
                let ms: u64 = request.query_param("ms").and_then(|n| n.parse().ok()).unwrap_or(30_000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(Response::text(200, format!("slept {ms} ms")))
            }
            "/block" => {
                block_forever();
                Ok(Response::text(200, "the pollable became ready"))
            }
            "/wait-loop" => {
                for i in 0u64.. {
                    wait_ms(20);
                    let _ = profile::user_id();
                    storage::set(Bucket::Plugin, &format!("wait/{i}"), b"1")
                        .map_err(|e| PluginError::Internal(e.to_string()))?;
                }
                unreachable!("the loop only ends at the deadline")
            }
            "/write-loop" => {
                let tag = request.query_param("tag").unwrap_or_default();
                let ms: u64 = request.query_param("ms").and_then(|n| n.parse().ok()).unwrap_or(0);
                let bucket = if request.query_param("bucket").as_deref() == Some("person") {
                    Bucket::Person
                } else {
                    Bucket::Plugin
                };
                for i in 0u64.. {
                    if ms > 0 {
                        wait_ms(ms);
                    }
                    let _ = profile::user_id();
                    let _ = storage::set(bucket, &format!("{tag}/{i}"), b"1");
                }
                unreachable!("the loop only ends at the deadline")
            }
            "/fail" => Err(PluginError::Internal(request.query_param("message").unwrap_or_default())),
            "/sdk-fetch" => {
                let url = request.query_param("url").unwrap_or_default();
                let sent = workbench_sdk::http::Outgoing::post(url, "{}").header("content-type", "application/json").send();
                Ok(match sent {
                    Ok(reply) => Response::text(200, format!("{} {}", reply.status, reply.text())),
                    Err(error) => Response::text(200, error.code()),
                })
            }
            "/fetch" => {
                if request.query_param("read").as_deref() == Some("name") {
                    let _ = profile::name();
                }
                let url = request.query_param("url").unwrap_or_default();
                let method = request.query_param("method").unwrap_or_else(|| "GET".to_owned());
                // `late=name`: the name is read after the request has started, and streamed in its body.
                let late = request.query_param("late").as_deref() == Some("name");
                let body: usize = request.query_param("body").and_then(|n| n.parse().ok()).unwrap_or(0);
                let follow: u32 = request.query_param("follow").and_then(|n| n.parse().ok()).unwrap_or(0);
                let times: u32 = request.query_param("times").and_then(|n| n.parse().ok()).unwrap_or(1);
                let mut results = Vec::new();
                for _ in 0..times {
                    results.push(http::fetch(&url, &method, body, follow, late));
                }
                // `sleep=N`: the call goes on N ms after its requests ended.
                if let Some(ms) = request.query_param("sleep").and_then(|n| n.parse::<u64>().ok()) {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
                let mut json = String::from("[");
                for (i, result) in results.iter().enumerate() {
                    if i > 0 {
                        json.push(',');
                    }
                    json.push_str(result);
                }
                json.push(']');
                Ok(Response::json(200, json))
            }
            path => Err(PluginError::NotFound(path.to_owned())),
        }
    }
}

/// A plain `wasi:http` client, as a plugin written without the SDK's would be.
mod http {
    #[cfg(target_arch = "wasm32")]
    use wasi::http::types::{ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme};
    #[cfg(target_arch = "wasm32")]
    use wasi::io::streams::StreamError;

    /// One hop: the status, a redirect's location and the body's size, or the error.
    #[cfg(target_arch = "wasm32")]
    fn once(url: &str, method: &str, body: usize, late: bool) -> Result<(u16, Option<String>, usize), String> {
        let (scheme, rest) = url.split_once("://").ok_or("the url has no scheme")?;
        let (authority, path) = match rest.find('/') {
            Some(at) => (&rest[..at], &rest[at..]),
            None => (rest, "/"),
        };
        let request = OutgoingRequest::new(Fields::new());
        let method = match method {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "CONNECT" => Method::Connect,
            other => Method::Other(other.to_owned()),
        };
        request.set_method(&method).map_err(|()| "method")?;
        let scheme = if scheme == "https" { Scheme::Https } else if scheme == "http" { Scheme::Http } else { Scheme::Other(scheme.into()) };
        request.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
        request.set_authority(Some(authority)).map_err(|()| "authority")?;
        request.set_path_with_query(Some(path)).map_err(|()| "path")?;
        let outgoing = request.body().map_err(|()| "body")?;
        let future = wasi::http::outgoing_handler::handle(request, None).map_err(|e| code(&e))?;
        if late || body > 0 {
            let stream = outgoing.write().map_err(|()| "write")?;
            if late {
                // Read only now, after the request left: its body still carries it.
                let name = crate::profile::name().unwrap_or_default();
                let _ = stream.blocking_write_and_flush(format!("by={name}").as_bytes());
            }
            let chunk = vec![b'a'; 4096];
            let mut left = body;
            while left > 0 {
                let n = left.min(chunk.len());
                if stream.blocking_write_and_flush(&chunk[..n]).is_err() {
                    break;
                }
                left -= n;
            }
        }
        let _ = OutgoingBody::finish(outgoing, None);
        let response = loop {
            match future.get() {
                Some(result) => break result.map_err(|()| "taken twice")?.map_err(|e| code(&e))?,
                None => future.subscribe().block(),
            }
        };
        let status = response.status();
        let location = response
            .headers()
            .get("location")
            .first()
            .map(|v| String::from_utf8_lossy(v).into_owned());
        let incoming = response.consume().map_err(|()| "consume")?;
        let stream = incoming.stream().map_err(|()| "stream")?;
        let mut size = 0;
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => size += chunk.len(),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(error)) => {
                    let typed = wasi::http::types::http_error_code(&error);
                    return Err(typed.map_or_else(|| error.to_debug_string(), |e| code(&e)));
                }
            }
        }
        drop(stream);
        let _ = IncomingBody::finish(incoming);
        Ok((status, location, size))
    }

    #[cfg(target_arch = "wasm32")]
    fn code(error: &ErrorCode) -> String {
        format!("{error:?}")
    }

    /// Fetches `url`, following up to `follow` redirects; one JSON object.
    pub fn fetch(url: &str, method: &str, body: usize, follow: u32, late: bool) -> String {
        #[cfg(target_arch = "wasm32")]
        {
            let mut url = url.to_owned();
            let mut hops = 0;
            loop {
                match once(&url, method, body, late) {
                    Ok((status, Some(location), _)) if (300..400).contains(&status) && hops < follow => {
                        hops += 1;
                        url = location;
                    }
                    Ok((status, _, size)) => {
                        return format!(r#"{{"status":{status},"bytes":{size},"hops":{hops}}}"#);
                    }
                    Err(error) => {
                        let error = error.replace('\\', "\\\\").replace('"', "\\\"");
                        return format!(r#"{{"error":"{error}","hops":{hops}}}"#);
                    }
                }
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let _ = (url, method, body, follow, late);
            String::from(r#"{"error":"not on wasm"}"#)
        }
    }
}

workbench_sdk::export!(Hostile);

/// Waits on a pollable for an instant that never comes.
fn block_forever() {
    #[cfg(target_arch = "wasm32")]
    wasi::clocks::monotonic_clock::subscribe_instant(u64::MAX).block();
}

/// Sleeps through `wasi:clocks` directly (a pollable and `poll`).
fn wait_ms(ms: u64) {
    #[cfg(target_arch = "wasm32")]
    wasi::clocks::monotonic_clock::subscribe_duration(ms * 1_000_000).block();
    #[cfg(not(target_arch = "wasm32"))]
    std::thread::sleep(std::time::Duration::from_millis(ms));
}

fn spin() -> ! {
    let mut x: u64 = 0;
    loop {
        x = std::hint::black_box(x.wrapping_add(1));
    }
}

fn grow() -> Result<Response, PluginError> {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 16 << 20];
        chunk[0] = 1;
        hoard.push(std::hint::black_box(chunk));
        if hoard.len() == usize::MAX {
            return Ok(Response::text(200, "impossible"));
        }
    }
}

/// Recurses on the wasm stack itself (no locals in linear memory), twice per
/// frame so the compiler cannot turn it into a loop.
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    recurse(depth.wrapping_add(1)).rotate_left(3) ^ recurse(depth.wrapping_mul(3))
}

/// Calls every import once and reports each outcome.
fn probe() -> String {
    let mut fields: Vec<(&str, String)> = Vec::new();
    let show = |r: Result<String, workbench_sdk::AccessError>| match r {
        Ok(v) => format!("{{\"ok\":{}}}", workbench_sdk::json::quote(&v)),
        Err(e) => format!("{{\"denied\":\"{e}\"}}"),
    };
    fields.push(("user.id", show(profile::user_id())));
    fields.push(("user.avatar", show(profile::avatar().map(|v| format!("{v:?}")))));
    fields.push(("user.nickname", show(profile::nickname().map(|v| format!("{v:?}")))));
    fields.push(("user.name", show(profile::name())));
    fields.push(("user.gender", show(profile::gender().map(|v| format!("{v:?}")))));
    fields.push(("user.birthday", show(profile::birthday().map(|v| format!("{v:?}")))));
    fields.push(("user.region", show(profile::region().map(|v| format!("{v:?}")))));
    fields.push(("user.email", show(profile::email().map(|v| format!("{v:?}")))));
    fields.push(("user.phone", show(profile::phone().map(|v| format!("{v:?}")))));
    fields.push(("org.department", show(profile::department().map(|v| format!("{v:?}")))));
    fields.push(("perm.customer", show(permissions::customers().map(|v| format!("{v:?}")))));
    fields.push(("perm.approval", show(permissions::approvals().map(|v| format!("{v:?}")))));
    let storage = match storage::list_keys(Bucket::Plugin, "") {
        Ok(keys) => format!("{{\"ok\":{}}}", workbench_sdk::json::quote(&format!("{keys:?}"))),
        Err(StorageError::Denied(e)) => format!("{{\"denied\":\"{e}\"}}"),
        Err(e) => format!("{{\"error\":{}}}", workbench_sdk::json::quote(&e.to_string())),
    };
    fields.push(("storage", storage));
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

const PATTERN_LEN: usize = 64;

/// Byte `i` of the pattern for `seed` (splitmix64), computed where it is
/// compared, so the scanning call never holds the pattern in its memory.
fn pattern_byte(seed: u64, i: usize) -> u8 {
    let mut z = seed.wrapping_add((i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u8
}

static mut LEFT: [u8; PATTERN_LEN] = [0; PATTERN_LEN];

fn leave_pattern(seed: u64) {
    let pattern: Vec<u8> = (0..PATTERN_LEN).map(|i| pattern_byte(seed, i)).collect();
    // Volatile, so that the store to a static nothing reads stays: the
    // static lies among the module's data, the heap copy above it.
    let left = std::ptr::addr_of_mut!(LEFT).cast::<u8>();
    for (i, byte) in pattern.iter().enumerate() {
        // SAFETY: `i` is within the static; one call runs at a time in an instance.
        unsafe { std::ptr::write_volatile(left.add(i), *byte) };
    }
    std::hint::black_box(Box::leak(pattern.into_boxed_slice()));
}

/// Where the whole linear memory holds the pattern.
fn scan_for_pattern(seed: u64) -> usize {
    #[cfg(target_arch = "wasm32")]
    let size = core::arch::wasm32::memory_size::<0>() * 65536;
    #[cfg(not(target_arch = "wasm32"))]
    let size = 0;
    let first = pattern_byte(seed, 0);
    let mut found = 0;
    // Address 0 is never handed out; start past it.
    for start in 1..size.saturating_sub(PATTERN_LEN) {
        // SAFETY: every address below the memory size is readable in wasm.
        let at = |offset: usize| unsafe { std::ptr::read_volatile((start + offset) as *const u8) };
        if at(0) == first && (1..PATTERN_LEN).all(|i| at(i) == pattern_byte(seed, i)) {
            found += 1;
        }
    }
    found
}
