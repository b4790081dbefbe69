//! # 客户拜访 (customer visit)
//!
//! Plan visits to the customers the person is responsible for. Reads the
//! person's nickname and avatar for the visit card, their customer
//! permissions (`perm.customer`) to know whom they may visit, and — only if
//! they consented to the optional, sensitive `user.phone` — their mobile
//! number to print on the card. Planned visits live in the person bucket.
//!
//! Routes: `GET /` (the app's page: the card, a form to plan a visit for a
//! customer you may edit, the planned visits with "mark done"),
//! `GET /visits.json`, `POST /visits` (form: `customer`, `date`, `note`),
//! `POST /visits/done` (form: `visit`, the key of a planned visit). From the
//! page a post answers `303` back to the page; otherwise JSON.

use workbench_sdk::date::{self, today};
use workbench_sdk::html::{self, Field, Form, Html, Table, Tone, escape};
use workbench_sdk::json::{quote, quote_opt};
use workbench_sdk::permissions::{self, CustomerAccess, CustomerPermission};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct CustomerVisit;

impl Plugin for CustomerVisit {
    fn handle(request: Request) -> Result<Response, PluginError> {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => {
                let notice = if request.query_param("planned").is_some() {
                    Some((Tone::Ok, "已加入拜访计划。"))
                } else if request.query_param("done").is_some() {
                    Some((Tone::Ok, "已标记为完成。"))
                } else {
                    None
                };
                page(notice, &Draft::default())
            }
            ("GET", "/visits.json") => visits_json(),
            ("POST", "/visits") => plan(&request),
            ("POST", "/visits/done") => mark_done(&request),
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

/// A planned visit as stored: `customer_id \t date \t note [\t done]`.
struct Visit {
    customer_id: String,
    date: String,
    note: String,
    done: bool,
}

impl Visit {
    fn key(&self) -> String {
        format!("visit/{}/{}", self.date, self.customer_id)
    }

    fn encode(&self) -> String {
        let done = if self.done { "\tdone" } else { "" };
        format!("{}\t{}\t{}{done}", self.customer_id, self.date, self.note)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(4, '\t');
        Some(Self {
            customer_id: parts.next()?.into(),
            date: parts.next()?.into(),
            note: parts.next()?.into(),
            done: parts.next() == Some("done"),
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
    let mut table = Table::new("拜访计划", ["日期", "客户", "备注", "状态"]);
    for visit in &visits {
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
                "{{\"customer_id\":{},\"date\":{},\"note\":{},\"done\":{}}}",
                quote(&v.customer_id),
                quote(&v.date),
                quote(&v.note),
                v.done
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
    let visit = Visit { customer_id: draft.customer, date: draft.date, note: draft.note, done: false };
    let key = visit.key();
    storage::set(Bucket::Person, &key, visit.encode().as_bytes()).map_err(storage_failed)?;
    if request.wants_html() {
        return Ok(Response::see_other("/?planned=1"));
    }
    Ok(Response::json(201, format!("{{\"planned\":{}}}", quote(&key))))
}

fn mark_done(request: &Request) -> Result<Response, PluginError> {
    let key = request.form_field("visit").unwrap_or_default();
    let found = if key.starts_with("visit/") {
        storage::get_string(Bucket::Person, &key).map_err(storage_failed)?.and_then(|text| Visit::decode(&text))
    } else {
        None
    };
    let Some(mut visit) = found else {
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
            "{\"phone\":null,\"visits\":[{\"customer_id\":\"c1\",\"date\":\"2026-12-01\",\"note\":\"签约\",\"done\":false}]}"
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
        assert_eq!((planned.status, planned.headers[0].1.as_str()), (303, "/?planned=1"));
        let page = host.call::<CustomerVisit>(Request::get("/")).expect("page").body_text();
        assert!(page.contains("<td>2026-12-03</td><td>客户c1</td><td>签约</td>"), "{page}");
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
}
