//! # 工程日报 (site daily report)
//!
//! Site staff write today's construction report. The plugin reads the
//! person's open id and real name (`user.id`, `user.name`), keeps one report
//! per person per day in the person bucket, and renders today's report with
//! the list of earlier days.
//!
//! Routes: `GET /` (the app's page: today's report, a form to write or edit
//! it, the list of earlier days), `GET /report.json` (the day's report as
//! JSON), `POST /` (form field `text`: save the day's report; from the page
//! it answers `303` back to the page, otherwise `201` JSON). `?date=YYYY-MM-DD`
//! picks another day than today.
//!
//! At 18:00 (Asia/Shanghai) its schedule ticks once for each member in its
//! range; for a person who consented and has no report for the day it puts
//! a reminder in their inbox that opens the day's page, once a day however
//! often the tick is delivered.

use workbench_sdk::date::{from_days, parse as parse_date, today};
use workbench_sdk::events::{Event, Subject};
use workbench_sdk::html::{self, Field, Form, Html, Tone, escape};
use workbench_sdk::json::{quote as json_string, quote_opt};
use workbench_sdk::storage::{self, Bucket};
use workbench_sdk::{Plugin, PluginError, Request, Response, log, notify, profile};

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
            ("GET", "/") => {
                let saved = request.query_param("saved").is_some();
                page(&date, saved.then_some((Tone::Ok, "日报已保存。")), None)
            }
            ("GET", "/report.json") => report_json(&date),
            ("POST", "/") => save(&date, &request),
            (method, path) => Err(PluginError::NotFound(format!("no route for {method} {path}"))),
        }
    }

    fn on_event(event: Event) -> Result<(), PluginError> {
        remind(&event)
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

/// The page of one day: its report, the form to write or edit it (`draft`
/// keeps what was typed when saving failed), and the days written before.
fn page(date: &str, notice: Option<(Tone, &str)>, draft: Option<&str>) -> Result<Response, PluginError> {
    let name = profile::name().map_err(|e| denied("name", e))?;
    let open_id = profile::user_id().map_err(|e| denied("user id", e))?;
    let report = storage::get_string(Bucket::Person, &key(date)).map_err(storage_error)?;
    let days = storage::list_keys(Bucket::Person, "report/").map_err(storage_error)?;
    let today = today();
    let mut body = vec![
        html::heading(1, &format!("工程日报 · {date}")),
        Html::trusted(format!(
            "<p class=\"reporter\" data-open-id=\"{}\">填报人: {}</p>",
            escape(&open_id),
            escape(&name)
        )),
    ];
    if let Some((tone, text)) = notice {
        body.push(html::notice(tone, text));
    }
    body.push(match &report {
        Some(text) => Html::trusted(format!("<article class=\"report card\">{}</article>", escape(text))),
        None if date == today => html::empty("今天还没有填写日报。"),
        None => html::empty("这一天没有日报。"),
    });
    let label = if report.is_some() { "修改日报" } else { "今日施工内容" };
    let action = if date == today { "/".to_owned() } else { format!("/?date={date}") };
    body.push(
        Form::post(&action, "日报")
            .field(
                Field::textarea("text", label)
                    .value(draft.or(report.as_deref()).unwrap_or_default())
                    .max_length(MAX_REPORT_BYTES)
                    .hint("写下今天的施工内容、进度和问题。")
                    .required(),
            )
            .submit(if report.is_some() { "保存修改" } else { "提交" }),
    );
    body.push(html::heading(2, "历史日报"));
    let mut links: Vec<Html> = Vec::new();
    if date != today {
        links.push(html::link("/", "回到今天"));
    }
    for day in days.iter().rev().filter_map(|k| k.strip_prefix("report/")) {
        let href = format!("?date={day}");
        links.push(if day == date { html::current_link(&href, day) } else { html::link(&href, day) });
    }
    if links.is_empty() {
        body.push(html::empty("还没有日报。"));
    } else {
        body.push(Html::trusted(format!("<nav aria-label=\"历史日报\">{}</nav>", html::list(links))));
    }
    let status = if notice.is_some_and(|(tone, _)| tone == Tone::Error) { 400 } else { 200 };
    Ok(Response::html(status, html::document("zh-CN", "工程日报", body)))
}

/// The evening tick about one person: a reminder when the slot's day (in
/// China Standard Time) has no report, at most one per day.
fn remind(event: &Event) -> Result<(), PluginError> {
    if event.kind != "schedule" || event.subject != Subject::Person {
        return Ok(());
    }
    let date = from_days((event.time_ms / 1000 + 8 * 3600) / 86_400);
    if storage::get(Bucket::Person, &key(&date)).map_err(storage_error)?.is_some() {
        return Ok(());
    }
    let reminded = format!("reminded/{date}");
    if storage::get(Bucket::Person, &reminded).map_err(storage_error)?.is_some() {
        return Ok(());
    }
    let text = format!("{date} 的日报还没有填写，请在下班前补上。");
    match notify::send("工程日报：今天还没有填写", &text, &format!("/?date={date}")) {
        Ok(_) => storage::set(Bucket::Person, &reminded, b"1").map_err(storage_error),
        // Not consented, or too many for now: nothing to retry.
        Err(notify::NotifyError::Denied(_) | notify::NotifyError::RateLimited(_)) => Ok(()),
        Err(error) => Err(PluginError::Internal(error.to_string())),
    }
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
    let from_page = request.wants_html();
    let refuse = |message: &str, draft: &str| {
        if from_page {
            page(date, Some((Tone::Error, message)), Some(draft))
        } else {
            Err(PluginError::BadRequest(message.into()))
        }
    };
    let Some(text) = request.form_field("text") else {
        return refuse("form field `text` is missing", "");
    };
    let text = text.trim();
    if text.is_empty() {
        return refuse("日报是空的：请写下今天的施工内容。", "");
    }
    if text.len() > MAX_REPORT_BYTES {
        return refuse(&format!("日报超过 {MAX_REPORT_BYTES} 字节，请删减。"), text);
    }
    let name = profile::name().map_err(|e| denied("name", e))?;
    storage::set(Bucket::Person, &key(date), text.as_bytes()).map_err(storage_error)?;
    if from_page {
        return Ok(Response::see_other(&format!("/?date={date}&saved=1")));
    }
    Ok(Response::json(201, format!("{{\"saved\":{},\"reporter\":{}}}", json_string(date), json_string(&name))))
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

    /// The 18:00 tick of `date` (China Standard Time) about the person.
    fn evening(date_days: u64) -> Event {
        Event {
            id: format!("d-{date_days}"),
            kind: "schedule".into(),
            time_ms: (date_days * 86_400 + 10 * 3600) * 1000,
            subject: Subject::Person,
            payload: "{\"schedule\":\"evening-reminder\"}".into(),
        }
    }

    #[test]
    fn the_evening_tick_reminds_once_those_without_the_days_report() {
        let host = host().with_notify();
        let day = 20_513; // 2026-03-01, 18:00 in Shanghai
        host.deliver::<SiteDailyReport>(evening(day)).expect("handled");
        host.deliver::<SiteDailyReport>(evening(day)).expect("handled again");
        let sent = host.notifications();
        assert_eq!(sent.len(), 1, "one reminder however often the tick comes: {sent:?}");
        assert_eq!(sent[0].2, "/?date=2026-03-01");
        assert!(sent[0].1.contains("2026-03-01"), "{sent:?}");
    }

    #[test]
    fn the_evening_tick_leaves_alone_those_who_reported_and_nobody() {
        let host = host().with_notify();
        let mut request = Request::post("/", "text=done");
        request.query = "date=2026-03-01".into();
        host.call::<SiteDailyReport>(request).expect("saved");
        host.deliver::<SiteDailyReport>(evening(20_513)).expect("handled");
        let mut about_nobody = evening(20_514);
        about_nobody.subject = Subject::Nobody;
        host.deliver::<SiteDailyReport>(about_nobody).expect("handled");
        assert!(host.notifications().is_empty(), "{:?}", host.notifications());
    }

    #[test]
    fn a_person_who_did_not_consent_to_notifications_gets_none_and_the_tick_succeeds() {
        let host = host().deny("notify", AccessError::NotConsented);
        host.deliver::<SiteDailyReport>(evening(20_513)).expect("nothing to retry");
        assert!(host.notifications().is_empty());
    }

    fn from_page(request: Request) -> Request {
        request.with_header("accept", "text/html")
    }

    #[test]
    fn the_page_form_saves_then_goes_back_to_the_day() {
        let host = host();
        let mut post = from_page(Request::post("/", "text=%E6%8A%B9%E7%81%B0"));
        post.query = "date=2026-01-05".into();
        let answer = host.call::<SiteDailyReport>(post).expect("saved");
        assert_eq!(answer.status, 303);
        assert_eq!(answer.headers, vec![("location".to_owned(), "/?date=2026-01-05&saved=1".to_owned())]);
        let mut back = from_page(Request::get("/"));
        back.query = "date=2026-01-05&saved=1".into();
        let page = host.call::<SiteDailyReport>(back).expect("page").body_text();
        assert!(page.contains("role=\"status\">日报已保存。"), "{page}");
        assert!(page.contains(">抹灰</textarea>"), "the form holds the report to edit: {page}");
        assert!(page.contains("<a href=\"?date=2026-01-05\" aria-current=\"page\">2026-01-05</a>"), "{page}");
        assert!(page.contains("<label for=\"日报-text\">修改日报</label>"), "{page}");
    }

    #[test]
    fn an_empty_report_from_the_page_is_shown_again_with_the_error() {
        let host = host();
        let answer = host.call::<SiteDailyReport>(from_page(Request::post("/", "text=+"))).expect("a page");
        assert_eq!(answer.status, 400);
        assert!(answer.body_text().contains("role=\"alert\">日报是空的"), "{}", answer.body_text());
        assert_eq!(host.stored(Bucket::Person, &key(&today())), None);
    }
}
