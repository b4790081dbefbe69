//! Schedules: a `[[schedules]]` entry's cron expression read in its time
//! zone, and the slots it fires at. A slot is a minute (ms since the epoch,
//! UTC) and fires once per installation, whichever replica gets there first.

use std::str::FromStr;

use chrono::{TimeZone, Utc};

/// A parsed schedule.
#[derive(Debug, Clone)]
pub struct Cron {
    cron: croner::Cron,
    zone: chrono_tz::Tz,
}

impl Cron {
    /// Parses a five-field expression (minute hour day-of-month month
    /// day-of-week, e.g. `0 18 * * 1-5`) in the IANA zone `timezone`.
    pub fn parse(expression: &str, timezone: &str) -> Result<Self, String> {
        let zone = chrono_tz::Tz::from_str(timezone)
            .map_err(|_| format!("time zone {timezone:?} is not an IANA time zone (e.g. Asia/Shanghai)"))?;
        if expression.split_whitespace().count() != 5 {
            return Err(format!(
                "cron {expression:?} must have five fields: minute hour day-of-month month day-of-week"
            ));
        }
        let cron = croner::Cron::from_str(expression)
            .map_err(|e| format!("cron {expression:?} is not a cron expression: {e}"))?;
        Ok(Self { cron, zone })
    }

    /// The first slot after `after_ms`, ms since the epoch.
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = Utc.timestamp_millis_opt(after_ms).single()?.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&after, false).ok()?;
        Some(next.timestamp_millis())
    }

    /// The slot as the plugin is told it: local time with its offset.
    pub fn label(&self, slot_ms: i64) -> String {
        Utc.timestamp_millis_opt(slot_ms)
            .single()
            .map(|t| t.with_timezone(&self.zone).to_rfc3339_opts(chrono::SecondsFormat::Secs, false))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn six_pm_on_weekdays_in_shanghai() {
        let cron = Cron::parse("0 18 * * 1-5", "Asia/Shanghai").expect("parses");
        // Friday 2026-12-04 10:00 UTC is 18:00 in Shanghai: the next slot
        // after 09:59 UTC is then; after it, Monday's.
        let friday = Utc.with_ymd_and_hms(2026, 12, 4, 9, 59, 0).single().expect("a time").timestamp_millis();
        let slot = cron.next_after(friday).expect("a slot");
        assert_eq!(cron.label(slot), "2026-12-04T18:00:00+08:00");
        assert_eq!(cron.label(cron.next_after(slot).expect("the next")), "2026-12-07T18:00:00+08:00");
    }

    #[test]
    fn bad_expressions_and_zones_are_named() {
        assert!(Cron::parse("0 18 * *", "Asia/Shanghai").expect_err("refused").contains("five fields"));
        assert!(Cron::parse("0 25 * * *", "Asia/Shanghai").expect_err("refused").contains("not a cron expression"));
        assert!(Cron::parse("0 18 * * *", "Mars/Olympus").expect_err("refused").contains("IANA"));
    }
}
