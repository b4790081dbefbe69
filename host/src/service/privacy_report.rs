//! A member's privacy report: per plugin, which of their fields were read,
//! how many times and when last, and where data could have gone (each
//! destination with the fields its requests could have carried), with a
//! one-line answer at the top in the member's language. Counts come from
//! the audit statistics (the member's own rows); the fields each request
//! could carry from the member's own outbound-request records.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{ServiceError, ServiceResult, Workbench};
use crate::model::audit::{Action, AuditFilter, Outcome};
use crate::model::stats::HOUR_MS;
use crate::model::text::Languages;
use crate::scope::Scope;

/// The longest look back, days.
pub const MAX_REPORT_DAYS: u32 = 90;

/// The member's outbound-request records are read in pages of this many.
const REQUEST_PAGE: u32 = 1_000;

/// One of my fields a plugin read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct FieldRead {
    /// The field's scope.
    pub scope: String,
    /// Times it was handed over.
    pub reads: i64,
    /// The last time, ms.
    pub last: i64,
}

/// Where a plugin's requests went while it ran for me.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DataSent {
    /// The destination.
    pub destination: String,
    /// Requests sent there.
    pub requests: i64,
    /// The last one, ms.
    pub last: i64,
    /// My fields the plugin had read before those requests: what they
    /// could have carried.
    pub could_include: Vec<String>,
}

/// One plugin in my report.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PluginReport {
    /// The plugin.
    pub plugin: String,
    /// My fields it read.
    pub fields: Vec<FieldRead>,
    /// Its attempts on my fields the host refused.
    pub refused: i64,
    /// Where its requests went.
    pub sent: Vec<DataSent>,
}

/// What plugins did with my data in the last days.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PrivacyReport {
    /// The period, days.
    pub days: u32,
    /// Its start, ms (on an hour).
    pub since: i64,
    /// The answer in one line, in my language.
    pub summary: String,
    /// The language of `summary` (`zh` or `en`).
    pub lang: String,
    /// Plugins that read my fields or sent requests while running for me,
    /// the most reads first.
    pub plugins: Vec<PluginReport>,
}

impl Workbench {
    /// `member`'s privacy report over the last `days`, its summary in `languages`.
    pub async fn privacy_report(
        &self,
        tenant: &str,
        member: &str,
        days: u32,
        languages: &Languages,
    ) -> ServiceResult<PrivacyReport> {
        if days == 0 || days > MAX_REPORT_DAYS {
            return Err(ServiceError::BadRequest(format!("days must be 1 to {MAX_REPORT_DAYS}")));
        }
        let to = crate::now_ms().div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS;
        let since = to - i64::from(days) * 24 * HOUR_MS;
        let hours = self.store.audit_stats(tenant, member, None, None, since, to, Some(0)).await?;
        let personal = |scope: &str| scope.parse::<Scope>().is_ok_and(Scope::is_personal);
        let mut plugins: BTreeMap<String, PluginReport> = BTreeMap::new();
        let mut fields: BTreeMap<(String, String), FieldRead> = BTreeMap::new();
        let mut sent: BTreeMap<(String, String), DataSent> = BTreeMap::new();
        let request = Action::HttpRequest.as_str();
        for (key, count) in hours.iter().filter(|(k, _)| !k.plugin.is_empty()) {
            if personal(&key.scope) && key.outcome == Outcome::Allowed.as_str() {
                let read = fields.entry((key.plugin.clone(), key.scope.clone())).or_insert_with(|| FieldRead {
                    scope: key.scope.clone(),
                    reads: 0,
                    last: 0,
                });
                read.reads += count.records;
                read.last = read.last.max(count.last_ms);
            } else if personal(&key.scope) && key.outcome == Outcome::Denied.as_str() {
                entry(&mut plugins, &key.plugin).refused += count.records;
            } else if key.action == request && key.outcome != Outcome::Denied.as_str() {
                let to = sent.entry((key.plugin.clone(), key.destination.clone())).or_insert_with(|| DataSent {
                    destination: key.destination.clone(),
                    requests: 0,
                    last: 0,
                    could_include: Vec::new(),
                });
                to.requests += count.records;
                to.last = to.last.max(count.last_ms);
            }
        }
        if !sent.is_empty() {
            // What each destination's requests could have carried.
            let filter = AuditFilter {
                subject: Some(member.to_owned()),
                action: Some(Action::HttpRequest),
                from_ms: Some(since),
                ..AuditFilter::default()
            };
            let mut records = Vec::new();
            loop {
                let after = records.last().map_or(0, |r: &crate::model::audit::AuditRecord| r.seq);
                let page = self.store.audit_query(tenant, &filter, after, REQUEST_PAGE).await?;
                let full = page.len() == REQUEST_PAGE as usize;
                records.extend(page);
                if !full {
                    break;
                }
            }
            let mut carried: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
            for record in &records {
                let plugin = crate::model::stats::actor_plugin(&record.event.actor).to_owned();
                if let Some(egress) = &record.event.egress {
                    carried
                        .entry((plugin, egress.destination.clone()))
                        .or_default()
                        .extend(egress.could_include.iter().cloned());
                }
            }
            for (key, to) in &mut sent {
                to.could_include = carried.remove(key).unwrap_or_default().into_iter().collect();
            }
        }
        for ((plugin, _), read) in fields {
            entry(&mut plugins, &plugin).fields.push(read);
        }
        for ((plugin, _), to) in sent {
            entry(&mut plugins, &plugin).sent.push(to);
        }
        let mut plugins: Vec<PluginReport> = plugins.into_values().collect();
        plugins.sort_by_key(|p| std::cmp::Reverse(p.fields.iter().map(|f| f.reads).sum::<i64>()));
        let lang = languages.pick(&["zh", "en"]).unwrap_or("zh");
        Ok(PrivacyReport { days, since, summary: summary(lang, days, &plugins), lang: lang.to_owned(), plugins })
    }
}

/// `plugin`'s part of the report, made when first needed.
fn entry<'a>(plugins: &'a mut BTreeMap<String, PluginReport>, plugin: &str) -> &'a mut PluginReport {
    plugins.entry(plugin.to_owned()).or_insert_with(|| PluginReport {
        plugin: plugin.to_owned(),
        fields: Vec::new(),
        refused: 0,
        sent: Vec::new(),
    })
}

/// The one-line answer: how many plugins read how many of my fields, and
/// which plugins sent data where.
fn summary(lang: &str, days: u32, plugins: &[PluginReport]) -> String {
    let readers = plugins.iter().filter(|p| !p.fields.is_empty()).count();
    let fields: BTreeSet<&str> = plugins.iter().flat_map(|p| p.fields.iter().map(|f| f.scope.as_str())).collect();
    let senders = plugins.iter().filter(|p| !p.sent.is_empty()).count();
    let hosts: BTreeSet<&str> = plugins
        .iter()
        .flat_map(|p| p.sent.iter().map(|s| s.destination.split_once("://").map_or(s.destination.as_str(), |(_, h)| h)))
        .collect();
    let hosts = hosts.into_iter().collect::<Vec<_>>();
    match lang {
        "en" => {
            let period = if days == 1 { "day".to_owned() } else { format!("{days} days") };
            let read = match readers {
                0 => format!("in the last {period} no plugin read any of your fields"),
                n => format!(
                    "in the last {period} {n} plugin{} read {} of your fields",
                    if n == 1 { "" } else { "s" },
                    fields.len()
                ),
            };
            let out = match senders {
                0 => "none sent data out".to_owned(),
                n => format!("{n} sent data to {}", hosts.join(", ")),
            };
            let mut line = format!("{read}; {out}.");
            line[..1].make_ascii_uppercase();
            line
        }
        _ => {
            let read = match readers {
                0 => format!("过去 {days} 天，没有应用读取你的信息"),
                n => format!("过去 {days} 天，{n} 个应用读取了你的 {} 项信息", fields.len()),
            };
            let out = match senders {
                0 => "没有应用向外发送数据".to_owned(),
                n => format!("{n} 个应用向 {} 发送了数据", hosts.join("、")),
            };
            format!("{read}；{out}。")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(name: &str, scopes: &[&str], to: &[&str]) -> PluginReport {
        PluginReport {
            plugin: name.into(),
            fields: scopes.iter().map(|s| FieldRead { scope: (*s).into(), reads: 1, last: 0 }).collect(),
            refused: 0,
            sent: to
                .iter()
                .map(|d| DataSent { destination: (*d).into(), requests: 1, last: 0, could_include: vec![] })
                .collect(),
        }
    }

    #[test]
    fn the_summary_counts_plugins_distinct_fields_and_names_the_hosts() {
        let plugins = [
            plugin("a", &["user.name", "user.phone"], &["https://visits.acme.example"]),
            plugin("b", &["user.name", "user.id", "user.email"], &[]),
            plugin("c", &["user.avatar"], &[]),
        ];
        assert_eq!(
            summary("en", 7, &plugins),
            "In the last 7 days 3 plugins read 5 of your fields; 1 sent data to visits.acme.example."
        );
        assert_eq!(
            summary("zh", 7, &plugins),
            "过去 7 天，3 个应用读取了你的 5 项信息；1 个应用向 visits.acme.example 发送了数据。"
        );
        assert_eq!(
            summary("en", 30, &[]),
            "In the last 30 days no plugin read any of your fields; none sent data out."
        );
        assert_eq!(
            summary("en", 1, &plugins[2..]),
            "In the last day 1 plugin read 1 of your fields; none sent data out."
        );
    }
}
