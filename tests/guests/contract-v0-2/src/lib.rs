//! A plugin as it was built against `workbench:plugin@0.2.0` (`wit/v0.2.0/`),
//! straight on wit-bindgen: one interface per scope. It reads every field it
//! can, counts its calls in both buckets and logs, and answers with what it
//! got as the same JSON lines as the `0.1.0` guest, so a test can compare the
//! two contracts field by field on the current host.

wit_bindgen::generate!({ world: "plugin", path: "../../../wit/v0.2.0" });

use exports::workbench::plugin::handler::{Guest, PluginError, Request, Response};
use workbench::plugin::storage::{self, Bucket, StorageError};
use workbench::plugin::types::AccessError;
use workbench::plugin::{log, org_department, perm_customer, user_birthday, user_gender, user_id, user_name, user_phone};

struct ContractV02;

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

impl Guest for ContractV02 {
    fn handle(request: Request) -> Result<Response, PluginError> {
        if request.path != "/" {
            return Err(PluginError::NotFound(request.path));
        }
        log::write(log::Level::Info, "contract 0.2.0 guest called");
        let mut out = String::new();
        line(&mut out, "user.id", user_id::get(), |id| id.len().to_string());
        line(&mut out, "user.name", user_name::get(), |name| name);
        line(&mut out, "user.gender", user_gender::get(), |g| format!("{g:?}"));
        line(&mut out, "user.birthday", user_birthday::get(), |d| format!("{d:?}"));
        line(&mut out, "user.phone", user_phone::get(), |p| format!("{p:?}"));
        line(&mut out, "org.department", org_department::get(), |d| format!("{:?}", d.map(|d| (d.name, d.title))));
        line(&mut out, "perm.customer", perm_customer::get(), |c| {
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

export!(ContractV02);
