//! # 客户拜访 (customer visit)
//!
//! Plan visits to the customers the person is responsible for. Reads the
//! person's nickname and avatar for the visit card, their customer
//! permissions (`perm.customer`) to know whom they may visit, and — only if
//! they consented to the optional, sensitive `user.phone` — their mobile
//! number to print on the card. Planned visits live in the person bucket.
//!
//! Each planned visit is also sent to Acme's visit service (the destination
//! `https://visits.acme.example` its manifest declares, once the admin
//! approves it; the base URL is the `visits_url` configuration key) with the
//! customer, the day, the note, the planner's nickname and — only with
//! consent — their phone. The service's number for the visit is kept; a
//! visit the service did not take stays planned, marked "not sent", and can
//! be sent again.
//!
//! Routes: `GET /` (the app's page: the card, a form to plan a visit for a
//! customer you may edit, the planned visits with "mark done"),
//! `GET /visits.json`, `POST /visits` (form: `customer`, `date`, `note`),
//! `POST /visits/done` and `POST /visits/send` (form: `visit`, the key of a
//! planned visit: mark it done, send it again). From the
//! page a post answers `303` back to the page; otherwise JSON.

use workbench_sdk::date::{self, today};
use workbench_sdk::http::Outgoing;
use workbench_sdk::html::{self, Field, Form, Html, Table, Tone, escape};
use workbench_sdk::json::{quote, quote_opt};
use workbench_sdk::permissions::{self, CustomerAccess, CustomerPermission};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{Plugin, PluginError, Request, Response, config, profile};

/// The service's answer to a visit it took, for the tests.
#[cfg(test)]
const TAKEN: &str = r#"{"id":"V-0001"}"#;

struct CustomerVisit;

impl Plugin for CustomerVisit {
    fn handle(request: Request) -> Result<Response, PluginError> {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => {
                // Only a well-formed number and a known reason are shown: a
                // link cannot put words of its own into the notice.
                let sent = request.query_param("sent").filter(|n| valid_number(n));
                let notice = if let Some(number) = sent {
                    Some((Tone::Ok, format!("已加入拜访计划，并已发送到拜访服务（编号 {number}）。")))
                } else if let Some(reason) = request.query_param("unsent") {
                    Some((Tone::Warn, format!("已加入拜访计划，但没有发送到拜访服务：{}。", unsent_text(&reason))))
                } else if request.query_param("planned").is_some() {
                    Some((Tone::Ok, "已加入拜访计划。".to_owned()))
                } else if request.query_param("done").is_some() {
                    Some((Tone::Ok, "已标记为完成。".to_owned()))
                } else {
                    None
                };
                page(notice.as_ref().map(|(tone, text)| (*tone, text.as_str())), &Draft::default())
            }
            ("GET", "/visits.json") => visits_json(),
            ("POST", "/visits") => plan(&request),
            ("POST", "/visits/done") => mark_done(&request),
            ("POST", "/visits/send") => send_again(&request),
            (method, path) => Err(PluginError::NotFound(format!("no route for {method} {path}"))),
        }
    }
}

workbench_sdk::export!(CustomerVisit);

fn unavailable(what: &str) -> impl FnOnce(workbench_sdk::AccessError) -> PluginError + '_ {
    move |denied| PluginError::Internal(format!("{what} unavailable: {denied}"))
}

fn storage_failed(error: storage::StorageError) -> PluginError {
    PluginError::Internal(format!("storage failed: {error}"))
}

/// A planned visit as stored: `customer_id \t date \t note \t done \t
/// sent` (`done` or empty; the service's number, or empty when not sent).
struct Visit {
    customer_id: String,
    date: String,
    note: String,
    done: bool,
    /// The visit service's number for it, once it took it.
    sent: Option<String>,
}

impl Visit {
    fn key(&self) -> String {
        format!("visit/{}/{}", self.date, self.customer_id)
    }

    fn encode(&self) -> String {
        let done = if self.done { "done" } else { "" };
        let sent = self.sent.as_deref().unwrap_or_default();
        format!("{}\t{}\t{}\t{done}\t{sent}", self.customer_id, self.date, self.note)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(5, '\t');
        Some(Self {
            customer_id: parts.next()?.into(),
            date: parts.next()?.into(),
            note: parts.next()?.into(),
            done: parts.next() == Some("done"),
            sent: parts.next().filter(|n| !n.is_empty()).map(str::to_owned),
        })
    }
}

fn planned_visits() -> Result<Vec<Visit>, PluginError> {
    let keys = storage::list_keys(Bucket::Person, "visit/").map_err(storage_failed)?;
    let mut visits = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(text) = storage::get_string(Bucket::Person, &key).map_err(storage_failed)? {
            visits.extend(Visit::decode(&text));
        }
    }
    Ok(visits)
}

/// What was typed into the plan form when it was refused.
#[derive(Default)]
struct Draft {
    customer: String,
    date: String,
    note: String,
}

fn page(notice: Option<(Tone, &str)>, draft: &Draft) -> Result<Response, PluginError> {
    let nickname = profile::nickname().map_err(unavailable("nickname"))?.unwrap_or_else(|| "—".into());
    let avatar = profile::avatar().map_err(unavailable("avatar"))?;
    let customers = permissions::customers().map_err(unavailable("customer permissions"))?;
    // Optional and sensitive: without consent the card simply has no number.
    let phone = profile::phone().ok().flatten();
    let visits = planned_visits()?;
    let avatar_html =
        avatar.map(|url| format!("<img class=\"avatar\" alt=\"avatar\" src=\"{}\">", escape(&url))).unwrap_or_default();
    let phone_html = phone.map(|p| format!("<p class=\"phone\">{}</p>", escape(&p))).unwrap_or_default();
    let mut body = vec![Html::trusted(format!(
        "<section class=\"card\">{avatar_html}<h1>{}</h1>{phone_html}</section>",
        escape(&nickname)
    ))];
    if let Some((tone, text)) = notice {
        body.push(html::notice(tone, text));
    }
    let editable: Vec<&CustomerPermission> = customers.iter().filter(|c| c.access >= CustomerAccess::Edit).collect();
    body.push(html::heading(2, "计划拜访"));
    if editable.is_empty() {
        body.push(html::empty("你没有可以编辑的客户，不能计划拜访。"));
    } else {
        let date = if draft.date.is_empty() { today() } else { draft.date.clone() };
        body.push(
            Form::post("/visits", "计划拜访")
                .field(
                    Field::select(
                        "customer",
                        "客户",
                        editable.iter().map(|c| (c.customer_id.clone(), c.customer_name.clone())),
                    )
                    .value(&draft.customer)
                    .required(),
                )
                .field(Field::date("date", "拜访日期").value(&date).required())
                .field(
                    Field::textarea("note", "备注")
                        .value(&draft.note)
                        .max_length(1000)
                        .hint("拜访目的、要带的资料等（可选）。"),
                )
                .submit("加入计划"),
        );
    }
    let name_of = |id: &str| customers.iter().find(|c| c.customer_id == id).map_or("?", |c| c.customer_name.as_str());
    let mut table = Table::new("拜访计划", ["日期", "客户", "备注", "拜访服务", "状态"]);
    for visit in &visits {
        let sent = match &visit.sent {
            Some(number) => Html::text(number),
            None => Form::post("/visits/send", &format!("发送 {} {}", visit.date, name_of(&visit.customer_id)))
                .inline()
                .hidden("visit", &visit.key())
                .submit("未发送，重新发送"),
        };
        let state = if visit.done {
            Html::trusted("<span class=\"badge ok\">已完成</span>")
        } else {
            Form::post("/visits/done", &format!("完成 {} {}", visit.date, name_of(&visit.customer_id)))
                .inline()
                .hidden("visit", &visit.key())
                .submit("标记完成")
        };
        table = table.row([
            Html::text(&visit.date),
            Html::text(name_of(&visit.customer_id)),
            Html::text(&visit.note),
            sent,
            state,
        ]);
    }
    body.push(html::heading(2, "拜访计划"));
    body.push(table.render("还没有计划的拜访。"));
    body.push(html::heading(2, "我的客户"));
    body.push(html::list(customers.iter().map(|c| {
        Html::trusted(format!(
            "<span data-id=\"{}\">{} ({})</span>",
            escape(&c.customer_id),
            escape(&c.customer_name),
            access_label(c.access)
        ))
    })));
    let status = if notice.is_some_and(|(tone, _)| tone == Tone::Error) { 400 } else { 200 };
    Ok(Response::html(status, html::document("zh-CN", "客户拜访", body)))
}

fn access_label(access: CustomerAccess) -> &'static str {
    match access {
        CustomerAccess::View => "查看",
        CustomerAccess::Edit => "编辑",
        CustomerAccess::Manage => "管理",
    }
}

fn visits_json() -> Result<Response, PluginError> {
    let visits = planned_visits()?;
    let items: Vec<String> = visits
        .iter()
        .map(|v| {
            format!(
                "{{\"customer_id\":{},\"date\":{},\"note\":{},\"done\":{},\"sent\":{}}}",
                quote(&v.customer_id),
                quote(&v.date),
                quote(&v.note),
                v.done,
                quote_opt(v.sent.as_deref())
            )
        })
        .collect();
    let phone = profile::phone().ok().flatten();
    Ok(Response::json(200, format!("{{\"phone\":{},\"visits\":[{}]}}", quote_opt(phone.as_deref()), items.join(","))))
}

/// A refusal: from the page, the page again with the message and what was
/// typed; otherwise a 400.
fn refuse(request: &Request, message: String, draft: Draft) -> Result<Response, PluginError> {
    if request.wants_html() {
        page(Some((Tone::Error, &message)), &draft)
    } else {
        Err(PluginError::BadRequest(message))
    }
}

fn plan(request: &Request) -> Result<Response, PluginError> {
    let field = |name: &str| request.form_field(name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let draft = Draft { customer: field("customer"), date: field("date"), note: field("note") };
    if draft.customer.is_empty() {
        return refuse(request, "form field `customer` is missing: choose a customer".into(), draft);
    }
    if date::parse(&draft.date).as_deref() != Some(draft.date.as_str()) {
        return refuse(request, "form field `date` must be YYYY-MM-DD".into(), draft);
    }
    if draft.note.len() > 1000 || draft.note.contains('\t') {
        return refuse(request, "`note` must be at most 1000 bytes without tabs".into(), draft);
    }
    let customers = permissions::customers().map_err(unavailable("customer permissions"))?;
    match customers.iter().find(|c| c.customer_id == draft.customer) {
        None => {
            let message = format!("you have no access to customer {}", draft.customer);
            return refuse(request, message, draft);
        }
        Some(c) if c.access < CustomerAccess::Edit => {
            let message = format!("you may only view customer {}, not plan visits", draft.customer);
            return refuse(request, message, draft);
        }
        Some(_) => {}
    }
    let customer_name = customers.iter().find(|c| c.customer_id == draft.customer).map(|c| c.customer_name.clone());
    let mut visit = Visit { customer_id: draft.customer, date: draft.date, note: draft.note, done: false, sent: None };
    let key = visit.key();
    // Kept first: a visit the service does not take is still planned.
    storage::set(Bucket::Person, &key, visit.encode().as_bytes()).map_err(storage_failed)?;
    let sent = send(&mut visit, customer_name.as_deref().unwrap_or_default(), &key)?;
    if request.wants_html() {
        return Ok(Response::see_other(&after_sending("planned=1", &sent)));
    }
    let (number, unsent) = match &sent {
        Ok(number) => (Some(number.as_str()), None),
        Err(reason) => (None, Some(*reason)),
    };
    Ok(Response::json(
        201,
        format!("{{\"planned\":{},\"sent\":{},\"unsent\":{}}}", quote(&key), quote_opt(number), quote_opt(unsent)),
    ))
}

/// Why a visit was not sent, for the person, from the reason's code.
fn unsent_text(code: &str) -> &'static str {
    match code {
        "not_configured" => "插件没有配置拜访服务的地址，请联系管理员",
        "refused" => "工作台拒绝了这个请求（目的地未声明或未经管理员批准）",
        "address_prohibited" => "拜访服务的地址不允许访问",
        "timeout" => "拜访服务没有及时响应",
        "too_large" => "请求或响应超出了大小限制",
        "bad_url" => "拜访服务的地址无效",
        "rejected" => "拜访服务没有接受这次拜访",
        _ => "发送失败",
    }
}

/// Where the page goes after sending: `?sent=NUMBER`, or `?unsent=CODE`.
fn after_sending(base: &str, sent: &Result<String, &'static str>) -> String {
    match sent {
        Ok(number) => format!("/?{base}&sent={}", form_encode(number)),
        Err(reason) => format!("/?{base}&unsent={}", form_encode(reason)),
    }
}

fn form_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Sends `visit` to the visit service and, when it takes it, keeps its
/// number with the visit. `Err` is the code of why it was not sent
/// ([`unsent_text`] says it to the person).
fn send(visit: &mut Visit, customer_name: &str, key: &str) -> Result<Result<String, &'static str>, PluginError> {
    let Some(base) = config::get("visits_url") else {
        return Ok(Err("not_configured"));
    };
    let planner = profile::nickname().map_err(unavailable("nickname"))?.unwrap_or_default();
    // Optional and sensitive: sent only when the person consented.
    let phone = profile::phone().ok().flatten();
    let body = format!(
        "{{\"customer_id\":{},\"customer_name\":{},\"date\":{},\"planner\":{},\"phone\":{},\"note\":{}}}",
        quote(&visit.customer_id),
        quote(customer_name),
        quote(&visit.date),
        quote(&planner),
        quote_opt(phone.as_deref()),
        quote(&visit.note)
    );
    let url = format!("{}/visits", base.trim_end_matches('/'));
    let reply = match Outgoing::post(url, body).header("content-type", "application/json").send() {
        Ok(reply) => reply,
        Err(error) => return Ok(Err(error.code())),
    };
    let number = (reply.status == 201).then(|| service_number(&reply.text())).flatten();
    let Some(number) = number else {
        return Ok(Err("rejected"));
    };
    visit.sent = Some(number.clone());
    storage::set(Bucket::Person, key, visit.encode().as_bytes()).map_err(storage_failed)?;
    Ok(Ok(number))
}

/// The `id` of the service's answer, `{"id":"V-0001"}`.
fn service_number(answer: &str) -> Option<String> {
    let rest = &answer[answer.find("\"id\"")? + 4..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let number = &rest[..rest.find('"')?];
    valid_number(number).then(|| number.to_owned())
}

/// A service number: 1 to 64 letters, digits and `-`.
fn valid_number(number: &str) -> bool {
    !number.is_empty() && number.len() <= 64 && number.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The planned visit kept at `key` (a `visit/…` key of the person's bucket).
fn stored_visit(key: &str) -> Result<Option<Visit>, PluginError> {
    if !key.starts_with("visit/") {
        return Ok(None);
    }
    Ok(storage::get_string(Bucket::Person, key).map_err(storage_failed)?.and_then(|text| Visit::decode(&text)))
}

fn send_again(request: &Request) -> Result<Response, PluginError> {
    let key = request.form_field("visit").unwrap_or_default();
    let Some(mut visit) = stored_visit(&key)? else {
        return refuse(request, format!("no planned visit {key:?}"), Draft::default());
    };
    let sent = match &visit.sent {
        Some(number) => Ok(number.clone()),
        None => {
            // As when planning: only for a customer the person may still edit.
            let customers = permissions::customers().map_err(unavailable("customer permissions"))?;
            let Some(customer) =
                customers.iter().find(|c| c.customer_id == visit.customer_id && c.access >= CustomerAccess::Edit)
            else {
                let message = format!("you may no longer plan visits for customer {}", visit.customer_id);
                return refuse(request, message, Draft::default());
            };
            let name = customer.customer_name.clone();
            send(&mut visit, &name, &key)?
        }
    };
    if request.wants_html() {
        return Ok(Response::see_other(&after_sending("resent=1", &sent)));
    }
    match sent {
        Ok(number) => Ok(Response::json(200, format!("{{\"sent\":{}}}", quote(&number)))),
        Err(reason) => Ok(Response::json(502, format!("{{\"unsent\":{}}}", quote(reason)))),
    }
}

fn mark_done(request: &Request) -> Result<Response, PluginError> {
    let key = request.form_field("visit").unwrap_or_default();
    let Some(mut visit) = stored_visit(&key)? else {
        return refuse(request, format!("no planned visit {key:?}"), Draft::default());
    };
    visit.done = true;
    storage::set(Bucket::Person, &key, visit.encode().as_bytes()).map_err(storage_failed)?;
    if request.wants_html() {
        return Ok(Response::see_other("/?done=1"));
    }
    Ok(Response::json(200, format!("{{\"done\":{}}}", quote(&key))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use workbench_sdk::AccessError;
    use workbench_sdk::testing::MockHost;

    fn customer(id: &str, access: CustomerAccess) -> CustomerPermission {
        CustomerPermission { customer_id: id.into(), customer_name: format!("客户{id}"), access }
    }

    fn host() -> MockHost {
        MockHost::new()
            .with_nickname("小张")
            .with_avatar("https://avatars.example/zhang.png")
            .with_customers(vec![customer("c1", CustomerAccess::Manage), customer("c2", CustomerAccess::View)])
            .with_storage(1 << 16)
            .with_config("visits_url", "https://visits.acme.example")
            .with_destination("https://visits.acme.example", 201, TAKEN)
    }

    #[test]
    fn phone_is_shown_only_with_consent() {
        let without = host().call::<CustomerVisit>(Request::get("/")).expect("page").body_text();
        assert!(!without.contains("class=\"phone\""));
        let with = host().with_phone("13800000001").call::<CustomerVisit>(Request::get("/")).expect("page");
        assert!(with.body_text().contains("<p class=\"phone\">13800000001</p>"));
    }

    #[test]
    fn plans_visits_only_for_editable_customers() {
        let host = host();
        let ok =
            host.call::<CustomerVisit>(Request::post("/visits", "customer=c1&date=2026-12-01&note=%E7%AD%BE%E7%BA%A6"));
        assert_eq!(ok.map(|r| r.status), Ok(201));
        let view_only = host.call::<CustomerVisit>(Request::post("/visits", "customer=c2&date=2026-12-01"));
        assert!(matches!(view_only, Err(PluginError::BadRequest(m)) if m.contains("only view")));
        let unknown = host.call::<CustomerVisit>(Request::post("/visits", "customer=c9&date=2026-12-01"));
        assert!(matches!(unknown, Err(PluginError::BadRequest(m)) if m.contains("no access")));
        let json = host.call::<CustomerVisit>(Request::get("/visits.json")).expect("json").body_text();
        assert_eq!(
            json,
            "{\"phone\":null,\"visits\":[{\"customer_id\":\"c1\",\"date\":\"2026-12-01\",\"note\":\"签约\",\"done\":false,\"sent\":\"V-0001\"}]}"
        );
    }

    fn from_page(request: Request) -> Request {
        request.with_header("accept", "text/html")
    }

    #[test]
    fn the_page_plans_a_visit_and_marks_it_done() {
        let host = host();
        let page = host.call::<CustomerVisit>(Request::get("/")).expect("page").body_text();
        assert!(page.contains("<option value=\"c1\">客户c1</option>"), "an editable customer is offered: {page}");
        assert!(!page.contains("<option value=\"c2\""), "a view-only customer is not: {page}");
        let planned = host
            .call::<CustomerVisit>(from_page(Request::post(
                "/visits",
                "customer=c1&date=2026-12-03&note=%E7%AD%BE%E7%BA%A6",
            )))
            .expect("planned");
        assert_eq!((planned.status, planned.headers[0].1.as_str()), (303, "/?planned=1&sent=V-0001"));
        let page = host.call::<CustomerVisit>(Request::get("/")).expect("page").body_text();
        assert!(page.contains("<td>2026-12-03</td><td>客户c1</td><td>签约</td><td>V-0001</td>"), "{page}");
        assert!(page.contains("value=\"visit/2026-12-03/c1\""), "{page}");
        let done = host
            .call::<CustomerVisit>(from_page(Request::post("/visits/done", "visit=visit%2F2026-12-03%2Fc1")))
            .expect("done");
        assert_eq!((done.status, done.headers[0].1.as_str()), (303, "/?done=1"));
        let json = host.call::<CustomerVisit>(Request::get("/visits.json")).expect("json").body_text();
        assert!(json.contains("\"done\":true"), "{json}");
    }

    #[test]
    fn a_refused_plan_from_the_page_keeps_what_was_typed() {
        let host = host();
        let answer = host
            .call::<CustomerVisit>(from_page(Request::post("/visits", "customer=c2&date=2026-12-03&note=abc")))
            .expect("a page");
        assert_eq!(answer.status, 400);
        let page = answer.body_text();
        assert!(page.contains("role=\"alert\">you may only view customer c2"), "{page}");
        assert!(page.contains(">abc</textarea>"), "{page}");
        let unknown = host.call::<CustomerVisit>(from_page(Request::post("/visits/done", "visit=visit%2Fnope")));
        assert_eq!(unknown.map(|r| r.status), Ok(400));
    }

    #[test]
    fn required_fields_missing_fail_cleanly() {
        let host = host().deny("perm.customer", AccessError::NotGranted);
        let error = host.call::<CustomerVisit>(Request::get("/")).expect_err("denied");
        assert_eq!(error, PluginError::Internal("customer permissions unavailable: not_granted".into()));
    }

    #[test]
    fn malformed_forms_are_bad_requests() {
        let host = host();
        for body in ["", "customer=c1", "customer=c1&date=12/01/2026", "customer=&date=2026-12-01"] {
            assert!(
                matches!(host.call::<CustomerVisit>(Request::post("/visits", body)), Err(PluginError::BadRequest(_))),
                "{body}"
            );
        }
    }

    #[test]
    fn a_planned_visit_is_sent_with_the_phone_only_when_consented() {
        let host = host();
        host.call::<CustomerVisit>(Request::post("/visits", "customer=c1&date=2026-12-01&note=%E7%AD%BE%E7%BA%A6"))
            .expect("planned");
        let with_phone = host.clone().with_phone("13800000001");
        with_phone.call::<CustomerVisit>(Request::post("/visits", "customer=c1&date=2026-12-02")).expect("planned");
        let requests = host.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!((requests[0].method.as_str(), requests[0].url.as_str()), ("POST", "https://visits.acme.example/visits"));
        assert_eq!(
            String::from_utf8_lossy(&requests[0].body),
            r#"{"customer_id":"c1","customer_name":"客户c1","date":"2026-12-01","planner":"小张","phone":null,"note":"签约"}"#
        );
        assert!(String::from_utf8_lossy(&requests[1].body).contains(r#""phone":"13800000001""#));
    }

    #[test]
    fn the_configured_base_url_is_used() {
        let host = host()
            .with_config("visits_url", "https://eu.visits.acme.example/api/")
            .with_destination("https://eu.visits.acme.example/api", 201, TAKEN);
        host.call::<CustomerVisit>(Request::post("/visits", "customer=c1&date=2026-12-01")).expect("planned");
        assert_eq!(host.requests()[0].url, "https://eu.visits.acme.example/api/visits");
    }

    #[test]
    fn a_visit_the_service_did_not_take_stays_planned_and_is_sent_again() {
        let host = MockHost::new()
            .with_nickname("小张")
            .with_avatar("https://avatars.example/zhang.png")
            .with_customers(vec![customer("c1", CustomerAccess::Manage)])
            .with_storage(1 << 16)
            .with_config("visits_url", "https://visits.acme.example")
            .with_failing_destination("https://visits.acme.example", workbench_sdk::http::HttpError::Timeout);
        let planned = host
            .call::<CustomerVisit>(from_page(Request::post("/visits", "customer=c1&date=2026-12-03")))
            .expect("planned");
        let location = planned.headers[0].1.clone();
        assert_eq!(location, "/?planned=1&unsent=timeout");
        let (path, query) = location.split_once('?').expect("a query");
        let mut back = Request::get(path);
        back.query = query.to_owned();
        let page = host.call::<CustomerVisit>(back).expect("page").body_text();
        assert!(page.contains("已加入拜访计划，但没有发送到拜访服务：拜访服务没有及时响应。"), "{page}");
        assert!(page.contains("未发送，重新发送"), "{page}");
        let json = host.call::<CustomerVisit>(Request::get("/visits.json")).expect("json").body_text();
        assert!(json.contains(r#""done":false,"sent":null"#), "{json}");

        // The service is back: sending again keeps its number.
        let host = host.with_destination("https://visits.acme.example", 201, TAKEN);
        let again = host.call::<CustomerVisit>(Request::post("/visits/send", "visit=visit%2F2026-12-03%2Fc1"));
        assert_eq!(again.map(|r| (r.status, r.body_text())), Ok((200, r#"{"sent":"V-0001"}"#.to_owned())));
        let json = host.call::<CustomerVisit>(Request::get("/visits.json")).expect("json").body_text();
        assert!(json.contains(r#""sent":"V-0001""#), "{json}");
    }

    #[test]
    fn the_services_number_is_read_strictly() {
        assert_eq!(service_number(r#"{"id":"V-0001"}"#).as_deref(), Some("V-0001"));
        assert_eq!(service_number(r#"{ "id" : "A7" , "x": 1}"#).as_deref(), Some("A7"));
        for bad in ["", "{}", r#"{"id":""}"#, r#"{"id":"<script>"}"#, r#"{"id":7}"#, r#"{"id":"V-1"#] {
            assert_eq!(service_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_link_cannot_put_its_own_words_into_the_notice() {
        let host = host();
        let page = |query: &str| {
            let mut request = Request::get("/");
            request.query = query.to_owned();
            host.call::<CustomerVisit>(request).expect("page").body_text()
        };
        let spoofed = page("planned=1&unsent=%E8%AF%B7%E8%87%B4%E7%94%B5400");
        assert!(spoofed.contains("没有发送到拜访服务：发送失败。"), "{spoofed}");
        assert!(!spoofed.contains("请致电"), "{spoofed}");
        let spoofed = page("planned=1&sent=%E8%AF%B7%E8%87%B4%E7%94%B5");
        assert!(!spoofed.contains("请致电") && spoofed.contains("已加入拜访计划。"), "{spoofed}");
        assert!(page("planned=1&sent=V-0042").contains("（编号 V-0042）"));
    }

    #[test]
    fn a_visit_is_not_sent_again_for_a_customer_no_longer_editable() {
        let host = MockHost::new()
            .with_nickname("小张")
            .with_customers(vec![customer("c1", CustomerAccess::Manage)])
            .with_storage(1 << 16)
            .with_config("visits_url", "https://visits.acme.example")
            .with_failing_destination("https://visits.acme.example", workbench_sdk::http::HttpError::Refused);
        host.call::<CustomerVisit>(Request::post("/visits", "customer=c1&date=2026-12-03")).expect("planned");
        let host = host
            .with_customers(vec![customer("c1", CustomerAccess::View)])
            .with_destination("https://visits.acme.example", 201, TAKEN);
        let again = host.call::<CustomerVisit>(Request::post("/visits/send", "visit=visit%2F2026-12-03%2Fc1"));
        assert!(matches!(again, Err(PluginError::BadRequest(m)) if m.contains("no longer")), "refused");
        assert_eq!(host.requests().len(), 1, "only the first attempt went out");
    }
}
