//! A plugin as it was built against `workbench:plugin@0.1.0` (`wit/v0.1.0/`),
//! straight on wit-bindgen: the profile and permissions interfaces with a
//! function per scope. It reads every field it can, counts its calls in both
//! buckets and logs, and answers with what it got as JSON lines, so a test
//! can compare it field by field with a `0.2.0` plugin's answers.

wit_bindgen::generate!({ world: "plugin", path: "../../../wit/v0.1.0" });

use exports::workbench::plugin::handler::{Guest, PluginError, Request, Response};
use workbench::plugin::storage::{self, Bucket, StorageError};
use workbench::plugin::types::AccessError;
use workbench::plugin::{log, permissions, profile};

struct ContractV01;

fn code(error: AccessError) -> &'static str {
    match error {
        AccessError::NotDeclared => "not_declared",
        AccessError::NotGranted => "not_granted",
        AccessError::NotConsented => "not_consented",
        AccessError::ConsentWithdrawn => "consent_withdrawn",
        AccessError::ConsentExpired => "consent_expired",
        AccessError::PurposeChanged => "purpose_changed",
        AccessError::QuotaExceeded => "quota_exceeded",
    }
}

fn line<T>(out: &mut String, field: &str, value: Result<T, AccessError>, show: impl FnOnce(T) -> String) {
    let text = match value {
        Ok(value) => format!("ok {}", show(value)),
        Err(error) => format!("denied {}", code(error)),
    };
    out.push_str(&format!("{field}: {text}\n"));
}

fn count(bucket: Bucket) -> Result<u64, StorageError> {
    let seen = storage::get(bucket, "count")?.and_then(|v| String::from_utf8(v).ok()?.parse().ok()).unwrap_or(0);
    storage::set(bucket, "count", (seen + 1).to_string().as_bytes())?;
    Ok(seen + 1)
}

impl Guest for ContractV01 {
    fn handle(request: Request) -> Result<Response, PluginError> {
        if request.path != "/" {
            return Err(PluginError::NotFound(request.path));
        }
        log::write(log::Level::Info, "contract 0.1.0 guest called");
        let mut out = String::new();
        line(&mut out, "user.id", profile::user_id(), |id| id.len().to_string());
        line(&mut out, "user.name", profile::name(), |name| name);
        line(&mut out, "user.gender", profile::gender(), |g| format!("{g:?}"));
        line(&mut out, "user.birthday", profile::birthday(), |d| format!("{d:?}"));
        line(&mut out, "user.phone", profile::phone(), |p| format!("{p:?}"));
        line(&mut out, "org.department", profile::department(), |d| format!("{:?}", d.map(|d| (d.name, d.title))));
        line(&mut out, "perm.customer", permissions::customers(), |c| {
            c.iter().map(|c| format!("{}={:?}", c.customer_id, c.access)).collect::<Vec<_>>().join(",")
        });
        let plugin = count(Bucket::Plugin).map_err(|e| PluginError::Internal(format!("{e:?}")))?;
        let person = count(Bucket::Person).map_err(|e| PluginError::Internal(format!("{e:?}")))?;
        out.push_str(&format!("count: {plugin} {person}\n"));
        match storage::set(Bucket::Plugin, "", b"x") {
            Err(StorageError::InvalidKey(why)) => out.push_str(&format!("empty key: {why}\n")),
            other => return Err(PluginError::Internal(format!("an empty key was not refused: {other:?}"))),
        }
        Ok(Response {
            status: 200,
            headers: vec![("content-type".into(), "text/plain; charset=utf-8".into())],
            body: out.into_bytes(),
        })
    }
}

export!(ContractV01);
