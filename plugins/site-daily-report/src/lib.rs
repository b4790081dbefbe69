//! # 工程日报 (site daily report)
//!
//! Site staff write today's construction report. The plugin reads the
//! person's open id and real name (`user.id`, `user.name`), keeps one report
//! per person per day in the person bucket, and renders today's report with
//! the list of earlier days.
//!
//! Routes: `GET /` (HTML page), `GET /report.json` (today's report as JSON),
//! `POST /` (form field `text`: save today's report). `?date=YYYY-MM-DD`
//! picks another day than today.

use workbench_sdk::html::{escape, form_decode};
use workbench_sdk::json::{quote as json_string, quote_opt};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{Plugin, PluginError, Request, Response, log, profile};

/// Reports longer than this are refused.
const MAX_REPORT_BYTES: usize = 16 * 1024;

struct SiteDailyReport;

impl Plugin for SiteDailyReport {
    fn handle(request: Request) -> Result<Response, PluginError> {
        let date = match request.query_param("date") {
            Some(date) => parse_date(&date)
                .ok_or_else(|| PluginError::BadRequest(format!("date must be YYYY-MM-DD, got {date:?}")))?,
            None => today(),
        };
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/") => page(&date),
            ("GET", "/report.json") => report_json(&date),
            ("POST", "/") => save(&date, &request),
            (method, path) => Err(PluginError::NotFound(format!("no route for {method} {path}"))),
        }
    }
}

workbench_sdk::export!(SiteDailyReport);

fn key(date: &str) -> String {
    format!("report/{date}")
}

fn storage_error(error: storage::StorageError) -> PluginError {
    log::error(&format!("storage failed: {error}"));
    PluginError::Internal(format!("storage failed: {error}"))
}

fn denied(field: &str, error: workbench_sdk::AccessError) -> PluginError {
    PluginError::Internal(format!("{field} unavailable: {error}"))
}

fn page(date: &str) -> Result<Response, PluginError> {
    let name = profile::name().map_err(|e| denied("name", e))?;
    let open_id = profile::user_id().map_err(|e| denied("user id", e))?;
    let report = storage::get_string(Bucket::Person, &key(date)).map_err(storage_error)?;
    let days = storage::list_keys(Bucket::Person, "report/").map_err(storage_error)?;
    let body = match report {
        Some(text) => format!("<article class=\"report\">{}</article>", escape(&text)),
        None => "<p class=\"empty\">今天还没有填写日报。</p>".to_owned(),
    };
    let history: String = days
        .iter()
        .rev()
        .filter_map(|k| k.strip_prefix("report/"))
        .map(|d| format!("<li><a href=\"?date={d}\">{d}</a></li>", d = escape(d)))
        .collect();
    Ok(Response::html(
        200,
        format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>工程日报</title>\
             <h1>工程日报 · {date}</h1><p class=\"reporter\" data-open-id=\"{open_id}\">填报人: {name}</p>{body}\
             <form method=\"post\"><label for=\"text\">今日施工内容</label>\
             <textarea id=\"text\" name=\"text\" maxlength=\"{MAX_REPORT_BYTES}\"></textarea>\
             <button type=\"submit\">提交</button></form><h2>历史日报</h2><ul>{history}</ul></html>",
            name = escape(&name),
            open_id = escape(&open_id),
        ),
    ))
}

fn report_json(date: &str) -> Result<Response, PluginError> {
    let name = profile::name().map_err(|e| denied("name", e))?;
    let open_id = profile::user_id().map_err(|e| denied("user id", e))?;
    let report = storage::get_string(Bucket::Person, &key(date)).map_err(storage_error)?;
    let json = format!(
        "{{\"date\":{},\"reporter\":{},\"open_id\":{},\"report\":{}}}",
        json_string(date),
        json_string(&name),
        json_string(&open_id),
        quote_opt(report.as_deref()),
    );
    Ok(Response::json(200, json))
}

fn save(date: &str, request: &Request) -> Result<Response, PluginError> {
    let form = form_decode(&request.body_text());
    let text = form
        .into_iter()
        .find_map(|(k, v)| (k == "text").then_some(v))
        .ok_or_else(|| PluginError::BadRequest("form field `text` is missing".into()))?;
    let text = text.trim();
    if text.is_empty() {
        return Err(PluginError::BadRequest("the report is empty".into()));
    }
    if text.len() > MAX_REPORT_BYTES {
        return Err(PluginError::BadRequest(format!("the report is longer than {MAX_REPORT_BYTES} bytes")));
    }
    let name = profile::name().map_err(|e| denied("name", e))?;
    storage::set(Bucket::Person, &key(date), text.as_bytes()).map_err(storage_error)?;
    Ok(Response::json(201, format!("{{\"saved\":{},\"reporter\":{}}}", json_string(date), json_string(&name))))
}

/// `YYYY-MM-DD` if `text` is a valid calendar date in that form.
fn parse_date(text: &str) -> Option<String> {
    let mut parts = text.splitn(3, '-');
    let year: u32 = parts.next().filter(|p| p.len() == 4)?.parse().ok()?;
    let month: u32 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let day: u32 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month[month as usize - 1];
    valid.then(|| format!("{year:04}-{month:02}-{day:02}"))
}

/// Today's date in China Standard Time (UTC+8), where the workbench's tenants are.
fn today() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    civil_date((seconds + 8 * 3600) / 86_400)
}

/// The proleptic Gregorian date of day `days` since 1970-01-01.
fn civil_date(days: u64) -> String {
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use workbench_sdk::AccessError;
    use workbench_sdk::testing::MockHost;

    fn host() -> MockHost {
        MockHost::new().with_user_id("ou_1").with_name("张伟").with_storage(1 << 16)
    }

    #[test]
    fn saves_and_renders_the_report_of_the_day() {
        let host = host();
        let saved =
            host.call::<SiteDailyReport>(Request::post("/", "text=%E6%B5%87%E7%AD%91+3%E5%B1%82")).map(|r| r.status);
        assert_eq!(saved, Ok(201));
        let page = host.call::<SiteDailyReport>(Request::get("/")).expect("page renders");
        assert!(page.body_text().contains("浇筑 3层"), "{}", page.body_text());
        assert!(page.body_text().contains("填报人: 张伟"));
    }

    #[test]
    fn reports_are_kept_per_day() {
        let host = host();
        let mut request = Request::post("/", "text=a");
        request.query = "date=2026-01-02".into();
        host.call::<SiteDailyReport>(request).expect("saved");
        assert_eq!(host.stored(Bucket::Person, "report/2026-01-02"), Some(b"a".to_vec()));
        let mut json = Request::get("/report.json");
        json.query = "date=2026-01-03".into();
        let body = host.call::<SiteDailyReport>(json).expect("json").body_text();
        assert!(body.contains("\"report\":null"), "{body}");
    }

    #[test]
    fn html_in_a_report_is_escaped() {
        let host = host();
        host.call::<SiteDailyReport>(Request::post("/", "text=%3Cscript%3Ex%3C%2Fscript%3E")).expect("saved");
        let page = host.call::<SiteDailyReport>(Request::get("/")).expect("page").body_text();
        assert!(!page.contains("<script>"));
        assert!(page.contains("&lt;script&gt;"));
    }

    #[test]
    fn bad_input_is_a_bad_request() {
        let host = host();
        assert!(matches!(host.call::<SiteDailyReport>(Request::post("/", "")), Err(PluginError::BadRequest(_))));
        let mut bad_date = Request::get("/");
        bad_date.query = "date=2026-02-30".into();
        assert!(matches!(host.call::<SiteDailyReport>(bad_date), Err(PluginError::BadRequest(_))));
        assert!(matches!(host.call::<SiteDailyReport>(Request::get("/nope")), Err(PluginError::NotFound(_))));
    }

    #[test]
    fn without_consent_to_the_name_the_page_fails_cleanly() {
        let host = host().deny("user.name", AccessError::ConsentWithdrawn);
        let error = host.call::<SiteDailyReport>(Request::get("/")).expect_err("denied");
        assert_eq!(error, PluginError::Internal("name unavailable: consent_withdrawn".into()));
        assert_eq!(host.accesses()[0], ("user.name".to_owned(), Err(AccessError::ConsentWithdrawn)));
    }

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(20_513), "2026-03-01");
        assert_eq!(parse_date("2024-02-29").as_deref(), Some("2024-02-29"));
        assert_eq!(parse_date("2023-02-29"), None);
    }
}
