//! # 审批助手 (approval helper)
//!
//! Summarises the approval processes the person may approve or start, and up
//! to which amount. Reads `perm.approval` (required) and greets the person by
//! nickname when they consented to the optional `user.nickname`.
//!
//! Routes: `GET /` (HTML summary), `GET /summary.json` (the same as JSON).

use workbench_sdk::html::escape;
use workbench_sdk::json::{quote, quote_opt};
use workbench_sdk::permissions::{self, ApprovalPermission};
use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct ApprovalHelper;

impl Plugin for ApprovalHelper {
    fn handle(request: Request) -> Result<Response, PluginError> {
        if request.method != "GET" {
            return Err(PluginError::BadRequest(format!("{} is not supported; use GET", request.method)));
        }
        match request.path.as_str() {
            "/" => Ok(Response::html(200, render_html(&Summary::read()?))),
            "/summary.json" => Ok(Response::json(200, render_json(&Summary::read()?))),
            path => Err(PluginError::NotFound(format!("no page at {path}"))),
        }
    }
}

workbench_sdk::export!(ApprovalHelper);

/// What the person can do, split the way the page shows it.
struct Summary {
    /// The nickname, when the person consented to share it.
    nickname: Option<String>,
    can_approve: Vec<ApprovalPermission>,
    can_initiate_only: Vec<ApprovalPermission>,
}

impl Summary {
    fn read() -> Result<Self, PluginError> {
        let approvals = permissions::approvals()
            .map_err(|denied| PluginError::Internal(format!("approval permissions unavailable: {denied}")))?;
        // Optional scope: a denial only means no personal greeting.
        let nickname = profile::nickname().ok().flatten();
        let (can_approve, rest): (Vec<_>, Vec<_>) = approvals.into_iter().partition(|a| a.can_approve);
        let can_initiate_only = rest.into_iter().filter(|a| a.can_initiate).collect();
        Ok(Self { nickname, can_approve, can_initiate_only })
    }
}

/// `¥1,234.50`, or `不限` when there is no limit.
fn amount(cents: Option<u64>) -> String {
    let Some(cents) = cents else { return "不限".to_owned() };
    let yuan = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, digit) in yuan.chars().enumerate() {
        if i > 0 && (yuan.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    format!("¥{grouped}.{:02}", cents % 100)
}

fn render_html(summary: &Summary) -> String {
    let greeting = match &summary.nickname {
        Some(nick) => format!("{}，你好", escape(nick)),
        None => "你好".to_owned(),
    };
    let rows: String = summary
        .can_approve
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&a.process_name),
                amount(a.max_amount_cents),
                if a.can_initiate { "可发起" } else { "—" }
            )
        })
        .collect();
    let initiate: String =
        summary.can_initiate_only.iter().map(|a| format!("<li>{}</li>", escape(&a.process_name))).collect();
    format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>审批助手</title>\
         <h1>{greeting}</h1><p>你可以审批 {n} 类流程。</p>\
         <table><thead><tr><th>流程</th><th>审批上限</th><th>发起</th></tr></thead><tbody>{rows}</tbody></table>\
         <h2>仅可发起</h2><ul>{initiate}</ul></html>",
        n = summary.can_approve.len()
    )
}

fn render_json(summary: &Summary) -> String {
    let item = |a: &ApprovalPermission| {
        format!(
            "{{\"process_id\":{},\"process_name\":{},\"can_initiate\":{},\"max_amount_cents\":{}}}",
            quote(&a.process_id),
            quote(&a.process_name),
            a.can_initiate,
            a.max_amount_cents.map_or_else(|| "null".to_owned(), |c| c.to_string())
        )
    };
    let approve: Vec<String> = summary.can_approve.iter().map(item).collect();
    let initiate: Vec<String> = summary.can_initiate_only.iter().map(item).collect();
    format!(
        "{{\"nickname\":{},\"can_approve\":[{}],\"can_initiate_only\":[{}]}}",
        quote_opt(summary.nickname.as_deref()),
        approve.join(","),
        initiate.join(",")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use workbench_sdk::AccessError;
    use workbench_sdk::testing::MockHost;

    fn process(id: &str, approve: bool, initiate: bool, max: Option<u64>) -> ApprovalPermission {
        ApprovalPermission {
            process_id: id.into(),
            process_name: format!("流程 {id}"),
            can_approve: approve,
            can_initiate: initiate,
            max_amount_cents: max,
        }
    }

    fn host() -> MockHost {
        MockHost::new().with_approvals(vec![
            process("expense", true, true, Some(5_000_000)),
            process("leave", true, false, None),
            process("purchase", false, true, None),
            process("audit", false, false, None),
        ])
    }

    #[test]
    fn splits_approvable_from_initiate_only() {
        let body = host().call::<ApprovalHelper>(Request::get("/summary.json")).expect("json").body_text();
        assert!(body.starts_with("{\"nickname\":null,\"can_approve\":[{\"process_id\":\"expense\""), "{body}");
        assert!(body.contains("\"can_initiate_only\":[{\"process_id\":\"purchase\""), "{body}");
        assert!(!body.contains("audit"));
    }

    #[test]
    fn greets_by_nickname_only_when_consented() {
        let page = host().with_nickname("小张").call::<ApprovalHelper>(Request::get("/")).expect("page");
        assert!(page.body_text().contains("小张，你好"));
        assert!(page.body_text().contains("¥50,000.00"));
        let page = host().deny("user.nickname", AccessError::NotConsented).call::<ApprovalHelper>(Request::get("/"));
        assert!(page.expect("page").body_text().contains("<h1>你好</h1>"));
    }

    #[test]
    fn without_approval_permissions_it_fails_cleanly() {
        let error = MockHost::new().call::<ApprovalHelper>(Request::get("/")).expect_err("denied");
        assert_eq!(error, PluginError::Internal("approval permissions unavailable: not_consented".into()));
    }

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(amount(Some(123_456_789)), "¥1,234,567.89");
        assert_eq!(amount(Some(5)), "¥0.05");
        assert_eq!(amount(None), "不限");
    }
}
