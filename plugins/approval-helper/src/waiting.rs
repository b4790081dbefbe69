//! Requests waiting for the person: on `approval.submitted` (a request
//! routed to them), when the request's process is one they may approve and
//! its amount is within their limit, the helper keeps the request in their
//! person bucket and sends them a notification that opens
//! `/approvals/{id}`. The event may come more than once: a request is
//! notified once.

use serde::Deserialize;
use workbench_sdk::events::{Event, Subject};
use workbench_sdk::html::{self, Html};
use workbench_sdk::permissions::{self, ApprovalPermission};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{PluginError, notify};

/// `approval.submitted`'s payload (its schema is the host's).
#[derive(Debug, Deserialize)]
struct Submitted {
    approval_id: String,
    process_id: String,
    title: String,
    amount_cents: u64,
}

/// Whether `process` lets the person approve `amount_cents`.
pub fn within_limit(process: &ApprovalPermission, amount_cents: u64) -> bool {
    process.can_approve && process.max_amount_cents.is_none_or(|max| amount_cents <= max)
}

/// Handles one event.
pub fn on_event(event: Event) -> Result<(), PluginError> {
    if event.kind != "approval.submitted" || event.subject != Subject::Person {
        return Ok(());
    }
    let submitted: Submitted = serde_json::from_str(&event.payload)
        .map_err(|e| PluginError::BadRequest(format!("approval.submitted payload: {e}")))?;
    // Without the person's consent there is nothing to compare with: the
    // host has recorded the denial, and the request is someone else's to flag.
    let Ok(approvals) = permissions::approvals() else { return Ok(()) };
    let Some(process) = approvals.iter().find(|a| a.process_id == submitted.process_id) else { return Ok(()) };
    if !within_limit(process, submitted.amount_cents) {
        return Ok(());
    }
    let done = format!("notified:{}", submitted.approval_id);
    if storage::get(Bucket::Person, &done).ok().flatten().is_some() {
        return Ok(());
    }
    // The page of the request reads this back; without storage the
    // notification still goes, and the page says the details are gone.
    let kept = format!("{}\t{}\t{}", submitted.title, process.process_name, submitted.amount_cents);
    let _ = storage::set(Bucket::Person, &format!("approval:{}", submitted.approval_id), kept.as_bytes());
    let text = format!(
        "{}，{}，在你的审批额度（{}）内。",
        process.process_name,
        crate::amount(Some(submitted.amount_cents)),
        crate::amount(process.max_amount_cents)
    );
    match notify::send(&format!("待审批：{}", submitted.title), &text, &format!("/approvals/{}", submitted.approval_id)) {
        Ok(_) => {
            let _ = storage::set(Bucket::Person, &done, b"1");
            Ok(())
        }
        // Not consented or too many for now: nothing to retry.
        Err(notify::NotifyError::Denied(_) | notify::NotifyError::RateLimited(_)) => Ok(()),
        Err(error) => Err(PluginError::Internal(error.to_string())),
    }
}

/// `GET /approvals/{id}`: the request the notification was about.
pub fn page(id: &str) -> String {
    let kept = storage::get_string(Bucket::Person, &format!("approval:{id}")).ok().flatten();
    let body: Vec<Html> = match kept.as_deref().map(|k| k.splitn(3, '\t').collect::<Vec<_>>()) {
        Some(parts) if parts.len() == 3 => vec![
            html::heading(1, &format!("待审批：{}", parts[0])),
            html::paragraph(&format!("流程：{}", parts[1])),
            html::paragraph(&format!("金额：{}", crate::amount(parts[2].parse().ok()))),
            html::paragraph(&format!("申请编号：{id}")),
            html::link("/", "返回流程列表"),
        ],
        _ => vec![
            html::heading(1, "待审批"),
            html::notice(html::Tone::Info, &format!("申请 {id} 的详情不在这里了。")),
            html::link("/", "返回流程列表"),
        ],
    };
    html::document("zh-CN", "审批助手", body).into()
}
