//! Told of events, it keeps what each delivery saw in its plugin bucket, so
//! a test can read it back with a request: how many times each event id
//! came (`count:ID`), whom it was about and what reading `user.name` gave
//! (`name:ID`), and what sending a notification gave (`notify:ID`). The
//! configuration key `mode` makes it fail (`fail`: a plugin error, with the
//! key `error` added to its message; `trap`:
//! a panic) every event, (`slow`) sleep past the host's deadline, or
//! (`pause`) wait 700 ms, within the deadline, before going on.
//! `GET /` lists the bucket as `key=value` lines.

use workbench_sdk::events::{Event, Subject};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{Plugin, PluginError, Request, Response, config, notify, profile};

struct EventProbe;

fn keep(key: &str, value: &str) -> Result<(), PluginError> {
    storage::set(Bucket::Plugin, key, value.as_bytes()).map_err(|e| PluginError::Internal(e.to_string()))
}

impl Plugin for EventProbe {
    fn handle(_request: Request) -> Result<Response, PluginError> {
        let keys = storage::list_keys(Bucket::Plugin, "").map_err(|e| PluginError::Internal(e.to_string()))?;
        let mut lines = Vec::new();
        for key in keys {
            let value = storage::get(Bucket::Plugin, &key).map_err(|e| PluginError::Internal(e.to_string()))?;
            lines.push(format!("{key}={}", String::from_utf8_lossy(&value.unwrap_or_default())));
        }
        Ok(Response::text(200, lines.join("\n")))
    }

    fn on_event(event: Event) -> Result<(), PluginError> {
        let count_key = format!("count:{}", event.id);
        let seen: u32 = storage::get(Bucket::Plugin, &count_key)
            .ok()
            .flatten()
            .and_then(|v| String::from_utf8(v).ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        keep(&count_key, &(seen + 1).to_string())?;
        match config::get("mode").as_deref() {
            Some("fail") => {
                // `error`, when configured, is added to the message: what an
                // admin's page must show as text, whatever it holds.
                let extra = config::get("error").unwrap_or_default();
                return Err(PluginError::Internal(format!("told to fail {}{extra}", event.id)));
            }
            Some("trap") => panic!("told to trap {}", event.id),
            Some("slow") => std::thread::sleep(std::time::Duration::from_secs(30)),
            Some("pause") => std::thread::sleep(std::time::Duration::from_millis(700)),
            _ => {}
        }
        let about = match event.subject {
            Subject::Person => "person",
            Subject::Nobody => "nobody",
        };
        let name = match profile::name() {
            Ok(name) => name,
            Err(denied) => format!("denied {denied:?}"),
        };
        keep(&format!("name:{}", event.id), &format!("{about} {} {name}", event.kind))?;
        let sent = match notify::send(&format!("{} 到了", event.kind), &event.payload, &format!("/events/{}", event.id)) {
            Ok(_) => "sent".to_owned(),
            Err(error) => format!("{error:?}"),
        };
        keep(&format!("notify:{}", event.id), &sent)
    }
}

workbench_sdk::export!(EventProbe);
