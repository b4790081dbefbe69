//! # 客户拜访 (customer visit)
//!
//! Plan visits to the customers the person is responsible for. Reads the
//! person's nickname and avatar for the visit card, their customer
//! permissions (`perm.customer`) to know whom they may visit, and — only if
//! they consented to the optional, sensitive `user.phone` — their mobile
//! number to print on the card. Planned visits live in the person bucket.
//!
//! Routes: `GET /` (HTML: card, customers, planned visits),
//! `GET /visits.json`, `POST /visits` (form: `customer`, `date`, `note`).

use workbench_sdk::html::{escape, form_decode};
use workbench_sdk::json::{quote, quote_opt};
use workbench_sdk::permissions::{self, CustomerAccess, CustomerPermission};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{Plugin, PluginError, Request, Response, profile};

struct CustomerVisit;

impl Plugin for CustomerVisit {
    fn handle(request: Request) -> Result<Response, PluginError> {
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => page(),
            ("GET", "/visits.json") => visits_json(),
            ("POST", "/visits") => plan(&request),
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

/// A planned visit as stored: `customer_id \t date \t note`.
struct Visit {
    customer_id: String,
    date: String,
    note: String,
}

impl Visit {
    fn encode(&self) -> String {
        format!("{}\t{}\t{}", self.customer_id, self.date, self.note)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.splitn(3, '\t');
        Some(Self { customer_id: parts.next()?.into(), date: parts.next()?.into(), note: parts.next()?.into() })
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

fn page() -> Result<Response, PluginError> {
    let nickname = profile::nickname().map_err(unavailable("nickname"))?.unwrap_or_else(|| "—".into());
    let avatar = profile::avatar().map_err(unavailable("avatar"))?;
    let customers = permissions::customers().map_err(unavailable("customer permissions"))?;
    // Optional and sensitive: without consent the card simply has no number.
    let phone = profile::phone().ok().flatten();
    let visits = planned_visits()?;
    let avatar_html =
        avatar.map(|url| format!("<img class=\"avatar\" alt=\"avatar\" src=\"{}\">", escape(&url))).unwrap_or_default();
    let phone_html = phone.map(|p| format!("<p class=\"phone\">{}</p>", escape(&p))).unwrap_or_default();
    let customer_rows: String = customers
        .iter()
        .map(|c| {
            format!(
                "<li data-id=\"{}\">{} ({})</li>",
                escape(&c.customer_id),
                escape(&c.customer_name),
                access_label(c.access)
            )
        })
        .collect();
    let visit_rows: String = visits
        .iter()
        .map(|v| {
            let name =
                customers.iter().find(|c| c.customer_id == v.customer_id).map_or("?", |c| c.customer_name.as_str());
            format!("<li>{} · {} · {}</li>", escape(&v.date), escape(name), escape(&v.note))
        })
        .collect();
    Ok(Response::html(
        200,
        format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>客户拜访</title>\
             <section class=\"card\">{avatar_html}<h1>{}</h1>{phone_html}</section>\
             <h2>我的客户</h2><ul>{customer_rows}</ul><h2>拜访计划</h2><ul>{visit_rows}</ul></html>",
            escape(&nickname)
        ),
    ))
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
                "{{\"customer_id\":{},\"date\":{},\"note\":{}}}",
                quote(&v.customer_id),
                quote(&v.date),
                quote(&v.note)
            )
        })
        .collect();
    let phone = profile::phone().ok().flatten();
    Ok(Response::json(200, format!("{{\"phone\":{},\"visits\":[{}]}}", quote_opt(phone.as_deref()), items.join(","))))
}

fn plan(request: &Request) -> Result<Response, PluginError> {
    let form = form_decode(&request.body_text());
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim().to_owned());
    let customer_id = field("customer")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| PluginError::BadRequest("form field `customer` is missing".into()))?;
    let date = field("date")
        .filter(|d| is_date(d))
        .ok_or_else(|| PluginError::BadRequest("form field `date` must be YYYY-MM-DD".into()))?;
    let note = field("note").unwrap_or_default();
    if note.len() > 1000 || note.contains('\t') {
        return Err(PluginError::BadRequest("`note` must be at most 1000 bytes without tabs".into()));
    }
    let customers = permissions::customers().map_err(unavailable("customer permissions"))?;
    match customers.iter().find(|c: &&CustomerPermission| c.customer_id == customer_id) {
        None => return Err(PluginError::BadRequest(format!("you have no access to customer {customer_id}"))),
        Some(c) if c.access < CustomerAccess::Edit => {
            return Err(PluginError::BadRequest(format!("you may only view customer {customer_id}, not plan visits")));
        }
        Some(_) => {}
    }
    let visit = Visit { customer_id, date, note };
    let key = format!("visit/{}/{}", visit.date, visit.customer_id);
    storage::set(Bucket::Person, &key, visit.encode().as_bytes()).map_err(storage_failed)?;
    Ok(Response::json(201, format!("{{\"planned\":{}}}", quote(&key))))
}

fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() })
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
            "{\"phone\":null,\"visits\":[{\"customer_id\":\"c1\",\"date\":\"2026-12-01\",\"note\":\"签约\"}]}"
        );
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
