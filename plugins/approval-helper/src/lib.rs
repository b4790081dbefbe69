//! # 审批助手 (approval helper)
//!
//! Summarises the approval processes the person may approve or start, and up
//! to which amount. Reads `perm.approval` (required) and greets the person by
//! nickname when they consented to the optional `user.nickname`.
//!
//! Routes: `GET /` (the app's page: the processes, filtered by a form:
//! `?q=` words of the name, `?can=approve|initiate|all`, `?limit=` an amount
//! in yuan the process must allow approving), `GET /summary.json` (the
//! unfiltered summary as JSON), `GET /approvals/{id}` (a request waiting for
//! the person, as its notification opens it).
//!
//! Events: `approval.submitted` about an approver notifies them when the
//! request is within their limit (see [`waiting`]).

mod waiting;

use workbench_sdk::html::{self, Field, Form, Html, Table};
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
            "/" => {
                let filter = Filter::from_request(&request);
                Ok(Response::html(
                    if filter.error.is_some() { 400 } else { 200 },
                    render_html(&Summary::read()?, &filter),
                ))
            }
            "/summary.json" => Ok(Response::json(200, render_json(&Summary::read()?))),
            path => match path.strip_prefix("/approvals/") {
                Some(id) if !id.is_empty() && !id.contains('/') => Ok(Response::html(200, waiting::page(id))),
                _ => Err(PluginError::NotFound(format!("no page at {path}"))),
            },
        }
    }

    fn on_event(event: workbench_sdk::events::Event) -> Result<(), PluginError> {
        waiting::on_event(event)
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

/// What the page's filter form asks for.
#[derive(Debug, Default)]
struct Filter {
    query: String,
    can: String,
    /// At least this many cents must be approvable.
    at_least_cents: Option<u64>,
    limit_text: String,
    error: Option<String>,
}

impl Filter {
    fn from_request(request: &Request) -> Self {
        let query = request.query_param("q").unwrap_or_default().trim().to_owned();
        let can = request.query_param("can").filter(|c| c == "approve" || c == "initiate").unwrap_or_default();
        let limit_text = request.query_param("limit").unwrap_or_default().trim().to_owned();
        let (at_least_cents, error) = if limit_text.is_empty() {
            (None, None)
        } else {
            match limit_text.parse::<u64>() {
                Ok(yuan) if yuan <= u64::MAX / 100 => (Some(yuan * 100), None),
                _ => (None, Some(format!("金额“{limit_text}”不是整数元，已忽略。"))),
            }
        };
        Self { query, can, at_least_cents, limit_text, error }
    }

    fn keeps(&self, process: &ApprovalPermission, approvable: bool) -> bool {
        let named = self.query.split_whitespace().all(|word| process.process_name.contains(word));
        let can = match self.can.as_str() {
            "approve" => approvable,
            "initiate" => process.can_initiate,
            _ => true,
        };
        let amount = match self.at_least_cents {
            Some(cents) => approvable && process.max_amount_cents.is_none_or(|max| max >= cents),
            None => true,
        };
        named && can && amount
    }
}

fn render_html(summary: &Summary, filter: &Filter) -> String {
    let greeting = match &summary.nickname {
        Some(nick) => format!("{nick}，你好"),
        None => "你好".to_owned(),
    };
    let mut body = vec![
        html::heading(1, &greeting),
        html::paragraph(&format!("你可以审批 {} 类流程。", summary.can_approve.len())),
        Form::get("/", "筛选流程")
            .field(Field::search("q", "流程名称").value(&filter.query))
            .field(
                Field::select("can", "我能", [("", "审批或发起"), ("approve", "审批"), ("initiate", "发起")])
                    .value(&filter.can),
            )
            .field(Field::number("limit", "审批金额至少（元）").value(&filter.limit_text))
            .submit("筛选"),
    ];
    if let Some(error) = &filter.error {
        body.push(html::notice(html::Tone::Error, error));
    }
    let mut table = Table::new("流程", ["流程", "审批上限", "发起"]);
    let rows =
        summary.can_approve.iter().map(|a| (a, true)).chain(summary.can_initiate_only.iter().map(|a| (a, false)));
    let mut shown = 0;
    for (a, approvable) in rows.filter(|(a, approvable)| filter.keeps(a, *approvable)) {
        shown += 1;
        table = table.row([
            Html::text(&a.process_name),
            Html::text(&if approvable { amount(a.max_amount_cents) } else { "不可审批".to_owned() }),
            Html::text(if a.can_initiate { "可发起" } else { "—" }),
        ]);
    }
    body.push(html::paragraph(&format!("显示 {shown} 个流程。")));
    body.push(table.render("没有符合条件的流程。"));
    if !filter.query.is_empty() || !filter.can.is_empty() || !filter.limit_text.is_empty() {
        body.push(html::link("/", "清除筛选"));
    }
    html::document("zh-CN", "审批助手", body).into()
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

    fn page(query: &str) -> (u16, String) {
        let mut request = Request::get("/");
        request.query = query.into();
        let response = host().call::<ApprovalHelper>(request).expect("page");
        (response.status, response.body_text())
    }

    #[test]
    fn the_page_filters_the_processes() {
        let (_, all) = page("");
        assert!(all.contains("显示 3 个流程。"), "{all}");
        let (_, named) = page("q=leave");
        assert!(named.contains("显示 1 个流程。") && named.contains("<td>流程 leave</td>"), "{named}");
        let (_, initiate) = page("can=initiate");
        assert!(initiate.contains("显示 2 个流程。") && !initiate.contains("<td>流程 leave</td>"), "{initiate}");
        let (_, rich) = page("can=approve&limit=60000");
        assert!(rich.contains("显示 1 个流程。") && rich.contains("<td>流程 leave</td>"), "{rich}");
        assert!(rich.contains("<option value=\"approve\" selected>审批</option>"), "the form keeps the filter: {rich}");
        let (status, bad) = page("limit=lots");
        assert_eq!(status, 400);
        assert!(bad.contains("role=\"alert\">金额“lots”不是整数元"), "{bad}");
        let (_, none) = page("q=nothing");
        assert!(none.contains("没有符合条件的流程。"), "{none}");
    }

    #[test]
    fn amounts_are_grouped() {
        assert_eq!(amount(Some(123_456_789)), "¥1,234,567.89");
        assert_eq!(amount(Some(5)), "¥0.05");
        assert_eq!(amount(None), "不限");
    }

    fn submitted(id: &str, process: &str, amount_cents: u64) -> workbench_sdk::events::Event {
        workbench_sdk::events::Event {
            id: format!("event-{id}"),
            kind: "approval.submitted".into(),
            time_ms: 0,
            subject: workbench_sdk::events::Subject::Person,
            payload: format!(
                "{{\"approval_id\":\"{id}\",\"process_id\":\"{process}\",\"title\":\"差旅报销\",\"amount_cents\":{amount_cents}}}"
            ),
        }
    }

    #[test]
    fn a_request_within_the_limit_is_notified_once_and_opens_its_page() {
        let host = host().with_notify().with_storage(1 << 20);
        // Within the limit of 费用报销 (¥50,000), twice: one notification.
        for _ in 0..2 {
            host.deliver::<ApprovalHelper>(submitted("4711", "expense", 120_000)).expect("handled");
        }
        // Over the limit, not approvable, and an unknown process: none.
        for (id, process, amount) in [("4712", "expense", 6_000_000), ("4713", "purchase", 100), ("4714", "nope", 1)] {
            host.deliver::<ApprovalHelper>(submitted(id, process, amount)).expect("handled");
        }
        let sent = host.notifications();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, "待审批：差旅报销");
        assert_eq!(sent[0].2, "/approvals/4711");
        assert!(sent[0].1.contains("¥1,200.00") && sent[0].1.contains("¥50,000.00"), "{sent:?}");
        let page = host.call::<ApprovalHelper>(Request::get("/approvals/4711")).expect("page");
        assert!(page.body_text().contains("流程 expense") && page.body_text().contains("¥1,200.00"), "{}", page.body_text());
    }

    #[test]
    fn without_consent_nothing_is_sent() {
        let host = host().with_notify().with_storage(1 << 20).deny("perm.approval", AccessError::NotConsented);
        host.deliver::<ApprovalHelper>(submitted("1", "expense", 100)).expect("handled");
        assert!(host.notifications().is_empty());
        let unconsented = self::host().with_storage(1 << 20);
        unconsented.deliver::<ApprovalHelper>(submitted("2", "expense", 100)).expect("handled");
        assert!(unconsented.notifications().is_empty());
    }
}
