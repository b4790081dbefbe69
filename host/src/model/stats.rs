//! Audit statistics: what the audit log's records count under ([`StatsKey`])
//! in the rollup the audit writer keeps beside them, and the questions asked
//! of it ([`StatsQuery`]) with their answers ([`StatsRow`]).
//!
//! Each record counts once in its tenant's row for everyone (subject `""`)
//! and, when it is about a member, once more in that member's row, under
//! the UTC hour it happened in, the plugin of its actor, its action, scope,
//! outcome, reason code and destination. Answers fold hours into days in
//! the time zone asked for.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use serde::Serialize;

use super::audit::{AuditEvent, Outcome};

/// One hour, ms.
pub const HOUR_MS: i64 = 3_600_000;

/// The longest range one question may cover with hourly buckets, days.
pub const MAX_HOURLY_DAYS: i64 = 31;

/// The longest range one question may cover with daily buckets, days.
pub const MAX_DAILY_DAYS: i64 = 366;

/// What a record counts under in the rollup (`""` where the record has nothing).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StatsKey {
    /// Tenant.
    pub tenant: String,
    /// `""` for the tenant's row for everyone, else the member the record is about.
    pub subject: String,
    /// The start of the UTC hour, ms since the epoch.
    pub hour_ms: i64,
    /// The plugin id of a `plugin:ID@VERSION` actor; `""` for people.
    pub plugin: String,
    /// The action's name.
    pub action: String,
    /// The scope.
    pub scope: String,
    /// The outcome's name.
    pub outcome: String,
    /// The reason's code ([`reason_code`]).
    pub reason: String,
    /// An outbound request's destination.
    pub destination: String,
}

/// What the records under one key add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatsCount {
    /// Records.
    pub records: i64,
    /// Request body bytes the outbound requests sent.
    pub bytes_out: i64,
    /// Response body bytes they received.
    pub bytes_in: i64,
    /// The newest record's time, ms (kept as it was when older records go).
    pub last_ms: i64,
}

impl StatsCount {
    /// Adds `other` (counts, and the later of the two times).
    pub fn add(&mut self, other: StatsCount) {
        self.records += other.records;
        self.bytes_out += other.bytes_out;
        self.bytes_in += other.bytes_in;
        self.last_ms = self.last_ms.max(other.last_ms);
    }

    /// The same counts taken away (for records that are deleted).
    pub fn negated(self) -> StatsCount {
        StatsCount { records: -self.records, bytes_out: -self.bytes_out, bytes_in: -self.bytes_in, ..self }
    }
}

/// The plugin id of an actor `plugin:ID@VERSION`; `""` for anyone else.
pub fn actor_plugin(actor: &str) -> &str {
    actor.strip_prefix("plugin:").and_then(|rest| rest.split_once('@')).map_or("", |(id, _)| id)
}

/// A refusal's or failure's reason as counted: the code it starts with
/// (`not_consented`, `quota_exceeded`, `deadline`, `plugin_error`, …), never
/// its free text; `"other"` when it starts with none; `""` when allowed.
pub fn reason_code(outcome: Outcome, reason: Option<&str>) -> String {
    if outcome == Outcome::Allowed {
        return String::new();
    }
    let Some(reason) = reason else { return String::new() };
    let code = reason.split([':', ';', ' ']).next().unwrap_or_default();
    let is_code = !code.is_empty()
        && code.len() <= 40
        && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
    if is_code { code.to_owned() } else { "other".to_owned() }
}

/// The rollup of `events`: each counted in its tenant's row and, when it is
/// about a member, in that member's.
pub fn rollup<'a>(events: impl IntoIterator<Item = &'a AuditEvent>) -> BTreeMap<StatsKey, StatsCount> {
    let mut rows: BTreeMap<StatsKey, StatsCount> = BTreeMap::new();
    for event in events {
        let key = StatsKey {
            tenant: event.tenant.clone(),
            subject: String::new(),
            hour_ms: event.ts_ms.div_euclid(HOUR_MS) * HOUR_MS,
            plugin: actor_plugin(&event.actor).to_owned(),
            action: event.action.clone(),
            scope: event.scope.clone().unwrap_or_default(),
            outcome: event.outcome.as_str().to_owned(),
            reason: reason_code(event.outcome, event.reason.as_deref()),
            destination: event.egress.as_ref().map(|e| e.destination.clone()).unwrap_or_default(),
        };
        let bytes = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let count = StatsCount {
            records: 1,
            bytes_out: event.egress.as_ref().map_or(0, |e| bytes(e.bytes_out)),
            bytes_in: event.egress.as_ref().map_or(0, |e| bytes(e.bytes_in)),
            last_ms: event.ts_ms,
        };
        if let Some(subject) = event.subject.as_deref().filter(|s| !s.is_empty()) {
            rows.entry(StatsKey { subject: subject.to_owned(), ..key.clone() }).or_default().add(count);
        }
        rows.entry(key).or_default().add(count);
    }
    rows
}

/// How wide one bucket of an answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// An hour.
    Hour,
    /// A day in the zone asked for.
    Day,
}

impl Bucket {
    /// Parses `hour` or `day`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "hour" => Some(Bucket::Hour),
            "day" => Some(Bucket::Day),
            _ => None,
        }
    }

    /// The longest range, days.
    pub fn max_days(self) -> i64 {
        match self {
            Bucket::Hour => MAX_HOURLY_DAYS,
            Bucket::Day => MAX_DAILY_DAYS,
        }
    }

    /// The start of the bucket holding `ms` in `zone`, ms, and its label
    /// (`2026-12-07` for a day, `2026-12-07T14:00+08:00` for an hour).
    pub fn start(self, zone: Tz, ms: i64) -> (i64, String) {
        let Some(at) = DateTime::from_timestamp_millis(ms) else { return (ms, ms.to_string()) };
        let local = at.with_timezone(&zone);
        match self {
            Bucket::Hour => {
                let start = ms.div_euclid(HOUR_MS) * HOUR_MS;
                let label = DateTime::from_timestamp_millis(start)
                    .map(|s| s.with_timezone(&zone).format("%Y-%m-%dT%H:%M%:z").to_string())
                    .unwrap_or_default();
                (start, label)
            }
            Bucket::Day => {
                let date = local.date_naive();
                (
                    day_start(zone, date).unwrap_or(ms - i64::from(local.num_seconds_from_midnight()) * 1000),
                    day_label(date),
                )
            }
        }
    }
}

/// The first instant of `date` in `zone`, ms (a zone whose day starts in a
/// gap starts it at the gap's end).
fn day_start(zone: Tz, date: NaiveDate) -> Option<i64> {
    let midnight = date.and_hms_opt(0, 0, 0)?;
    (0..=2)
        .find_map(|hour| zone.from_local_datetime(&(midnight + chrono::Duration::hours(hour))).earliest())
        .map(|start| start.timestamp_millis())
}

fn day_label(date: NaiveDate) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), date.month(), date.day())
}

/// The spans of `[from_ms, to_ms)` (whole hours) over which `zone`'s UTC
/// offset stays the same: `(from, to, offset ms)`. Within one, an hour's
/// local day is `(hour + offset) / 24 h`, which a database computes.
pub fn offset_spans(zone: Tz, from_ms: i64, to_ms: i64) -> Vec<(i64, i64, i64)> {
    let offset_at = |ms: i64| {
        DateTime::from_timestamp_millis(ms)
            .map_or(0, |t| i64::from(zone.offset_from_utc_datetime(&t.naive_utc()).fix().local_minus_utc()) * 1000)
    };
    let mut spans = Vec::new();
    let (mut start, mut offset) = (from_ms, offset_at(from_ms));
    let mut hour = from_ms + HOUR_MS;
    while hour < to_ms {
        let now = offset_at(hour);
        if now != offset {
            spans.push((start, hour, offset));
            (start, offset) = (hour, now);
        }
        hour += HOUR_MS;
    }
    spans.push((start, to_ms, offset));
    spans
}

/// A question for the rollup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsQuery {
    /// From (inclusive), ms, on an hour.
    pub from_ms: i64,
    /// To (exclusive), ms, on an hour.
    pub to_ms: i64,
    /// Bucket width.
    pub bucket: Bucket,
    /// The zone days are counted in.
    pub zone: Tz,
    /// Only this plugin (its id).
    pub plugin: Option<String>,
    /// Only records about this member.
    pub member: Option<String>,
    /// Only this action.
    pub action: Option<String>,
}

/// One bucket's count under one plugin, scope, action, outcome, reason and destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StatsRow {
    /// The bucket: `2026-12-07` (a day in the zone asked for) or
    /// `2026-12-07T14:00+08:00` (an hour).
    pub bucket: String,
    /// The bucket's start, ms since the epoch.
    pub start: i64,
    /// The plugin; absent for what people did.
    pub plugin: Option<String>,
    /// The scope.
    pub scope: Option<String>,
    /// The action, as in the log.
    pub action: String,
    /// allowed, denied, failed or trapped.
    pub outcome: String,
    /// Why it was refused or failed: the reason's code.
    pub reason: Option<String>,
    /// Outbound requests: where they went.
    pub destination: Option<String>,
    /// Records.
    pub count: i64,
    /// Request body bytes sent (outbound requests).
    pub bytes_out: i64,
    /// Response body bytes received (outbound requests).
    pub bytes_in: i64,
    /// The newest of them, ms.
    pub last: i64,
}

/// Folds the rollup's hourly rows into the answer's buckets, in order of
/// bucket, then plugin, action, scope, outcome, reason and destination.
pub fn fold(query: &StatsQuery, hours: impl IntoIterator<Item = (StatsKey, StatsCount)>) -> Vec<StatsRow> {
    type Folded = (i64, String, String, String, String, String, String);
    let mut folded: BTreeMap<Folded, (String, StatsCount)> = BTreeMap::new();
    for (key, count) in hours {
        let (start, label) = query.bucket.start(query.zone, key.hour_ms);
        let entry = folded
            .entry((start, key.plugin, key.action, key.scope, key.outcome, key.reason, key.destination))
            .or_insert_with(|| (label, StatsCount::default()));
        entry.1.add(count);
    }
    let some = |text: String| Some(text).filter(|t| !t.is_empty());
    folded
        .into_iter()
        .filter(|(_, (_, count))| count.records > 0)
        .map(|((start, plugin, action, scope, outcome, reason, destination), (bucket, count))| StatsRow {
            bucket,
            start,
            plugin: some(plugin),
            scope: some(scope),
            action,
            outcome,
            reason: some(reason),
            destination: some(destination),
            count: count.records,
            bytes_out: count.bytes_out,
            bytes_in: count.bytes_in,
            last: count.last_ms,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::egress::EgressDetail;

    fn event(ts_ms: i64, actor: &str, subject: Option<&str>, outcome: Outcome, reason: Option<&str>) -> AuditEvent {
        AuditEvent {
            tenant: "t".into(),
            ts_ms,
            actor: actor.into(),
            subject: subject.map(str::to_owned),
            action: "read".into(),
            scope: Some("user.name".into()),
            purpose: None,
            outcome,
            reason: reason.map(str::to_owned),
            invocation: None,
            egress: None,
        }
    }

    #[test]
    fn plugins_are_read_from_actors() {
        assert_eq!(actor_plugin("plugin:visitor-log@1.2.0"), "visitor-log");
        assert_eq!(actor_plugin("plugin:x"), "");
        assert_eq!(actor_plugin("admin:plugin:x@1"), "");
        assert_eq!(actor_plugin("member:zhang.wei"), "");
    }

    #[test]
    fn reasons_count_by_code_never_by_text() {
        assert_eq!(reason_code(Outcome::Denied, Some("not_consented")), "not_consented");
        assert_eq!(reason_code(Outcome::Denied, Some("rate_limited: 3 s")), "rate_limited");
        assert_eq!(reason_code(Outcome::Trapped, Some("deadline: over 50 ms")), "deadline");
        assert_eq!(reason_code(Outcome::Failed, Some("plugin_error: 张伟's phone is 138…")), "plugin_error");
        assert_eq!(reason_code(Outcome::Failed, Some("张伟 not found")), "other");
        assert_eq!(reason_code(Outcome::Failed, Some("Boom")), "other");
        assert_eq!(reason_code(Outcome::Denied, None), "");
        assert_eq!(reason_code(Outcome::Allowed, Some("whatever")), "");
    }

    #[test]
    fn a_record_counts_for_everyone_and_for_its_member() {
        let mut sent = event(HOUR_MS + 5, "plugin:p@1.0.0", Some("m1"), Outcome::Allowed, None);
        sent.action = "http.request".into();
        sent.scope = None;
        sent.egress = Some(EgressDetail {
            destination: "https://a.example".into(),
            method: "POST".into(),
            path: "/".into(),
            status: Some(200),
            bytes_out: 10,
            bytes_in: 20,
            duration_ms: 1,
            could_include: vec![],
        });
        let events = [
            event(5, "plugin:p@1.0.0", Some("m1"), Outcome::Allowed, None),
            event(HOUR_MS - 1, "plugin:p@2.0.0", Some("m2"), Outcome::Allowed, None),
            event(7, "admin:a", None, Outcome::Denied, Some("not_granted")),
            sent,
        ];
        let rows = rollup(&events);
        let everyone = StatsKey {
            tenant: "t".into(),
            subject: String::new(),
            hour_ms: 0,
            plugin: "p".into(),
            action: "read".into(),
            scope: "user.name".into(),
            outcome: "allowed".into(),
            reason: String::new(),
            destination: String::new(),
        };
        assert_eq!(rows[&everyone], StatsCount { records: 2, bytes_out: 0, bytes_in: 0, last_ms: HOUR_MS - 1 });
        let m1 = StatsKey { subject: "m1".into(), ..everyone.clone() };
        assert_eq!(rows[&m1].records, 1);
        let request = StatsKey {
            hour_ms: HOUR_MS,
            action: "http.request".into(),
            scope: String::new(),
            destination: "https://a.example".into(),
            ..everyone.clone()
        };
        assert_eq!(rows[&request], StatsCount { records: 1, bytes_out: 10, bytes_in: 20, last_ms: HOUR_MS + 5 });
        let admin =
            StatsKey { plugin: String::new(), outcome: "denied".into(), reason: "not_granted".into(), ..everyone };
        assert_eq!(rows[&admin].records, 1);
        // everyone: read (2 in one row), admin, request; m1: read, request; m2: read.
        assert_eq!(rows.len(), 6);
    }

    #[test]
    fn days_are_the_zones_days() {
        let shanghai: Tz = "Asia/Shanghai".parse().expect("zone");
        // 2026-12-06T16:00Z is midnight of the 7th in Shanghai.
        let midnight = 1_796_572_800_000;
        assert_eq!(Bucket::Day.start(shanghai, midnight), (midnight, "2026-12-07".to_owned()));
        assert_eq!(Bucket::Day.start(shanghai, midnight - 1).1, "2026-12-06");
        assert_eq!(Bucket::Day.start(chrono_tz::UTC, midnight).1, "2026-12-06");
        assert_eq!(Bucket::Hour.start(shanghai, midnight + 5).1, "2026-12-07T00:00+08:00");
        // A day with a DST change is 23 hours long, and starts at its midnight.
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let march_29 = Bucket::Day.start(berlin, 1_774_760_400_000 + 12 * HOUR_MS);
        assert_eq!(march_29, (1_774_738_800_000, "2026-03-29".to_owned()));
    }

    #[test]
    fn offsets_change_where_the_zone_changes_its_clocks() {
        let shanghai: Tz = "Asia/Shanghai".parse().expect("zone");
        assert_eq!(offset_spans(shanghai, 0, 48 * HOUR_MS), [(0, 48 * HOUR_MS, 8 * HOUR_MS)]);
        // Berlin goes to summer time at 2026-03-29T01:00Z.
        let berlin: Tz = "Europe/Berlin".parse().expect("zone");
        let change = 1_774_746_000_000;
        let spans = offset_spans(berlin, change - 5 * HOUR_MS, change + 5 * HOUR_MS);
        assert_eq!(spans, [(change - 5 * HOUR_MS, change, HOUR_MS), (change, change + 5 * HOUR_MS, 2 * HOUR_MS)]);
    }

    #[test]
    fn folding_sums_hours_into_days_and_drops_empty_rows() {
        let query = StatsQuery {
            from_ms: 0,
            to_ms: 48 * HOUR_MS,
            bucket: Bucket::Day,
            zone: chrono_tz::UTC,
            plugin: None,
            member: None,
            action: None,
        };
        let events = [
            event(5, "plugin:p@1.0.0", None, Outcome::Allowed, None),
            event(3 * HOUR_MS, "plugin:p@1.0.0", None, Outcome::Allowed, None),
            event(30 * HOUR_MS, "plugin:p@1.0.0", None, Outcome::Allowed, None),
        ];
        let mut hours: Vec<_> = rollup(&events).into_iter().collect();
        let mut emptied = hours[0].clone();
        emptied.0.plugin = "gone".into();
        emptied.1.records = 0;
        hours.push(emptied);
        let rows = fold(&query, hours);
        let counts: Vec<(&str, i64)> = rows.iter().map(|r| (r.bucket.as_str(), r.count)).collect();
        assert_eq!(counts, [("1970-01-01", 2), ("1970-01-02", 1)]);
        assert_eq!(rows[0].last, 3 * HOUR_MS);
        assert_eq!(rows[0].plugin.as_deref(), Some("p"));
        assert_eq!(rows[0].reason, None);
    }
}
