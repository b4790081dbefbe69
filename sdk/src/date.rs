//! Calendar dates as `YYYY-MM-DD`, for pages that show or pick a day.

/// Today's date in China Standard Time (UTC+8), where the workbench's tenants are.
pub fn today() -> String {
    let seconds = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    from_days((seconds + 8 * 3600) / 86_400)
}

/// The proleptic Gregorian date of day `days` since 1970-01-01.
///
/// ```
/// assert_eq!(workbench_sdk::date::from_days(0), "1970-01-01");
/// assert_eq!(workbench_sdk::date::from_days(20_513), "2026-03-01");
/// ```
pub fn from_days(days: u64) -> String {
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

/// `text` as `YYYY-MM-DD` if it is a valid calendar date in that form.
///
/// ```
/// use workbench_sdk::date::parse;
/// assert_eq!(parse("2024-02-29").as_deref(), Some("2024-02-29"));
/// assert_eq!(parse("2023-02-29"), None);
/// assert_eq!(parse("2026-1-05"), None);
/// ```
pub fn parse(text: &str) -> Option<String> {
    let mut parts = text.splitn(3, '-');
    let year: u32 = parts.next().filter(|p| p.len() == 4)?.parse().ok()?;
    let month: u32 = parts.next().filter(|p| p.len() == 2)?.parse().ok()?;
    let day: u32 = parts.next().filter(|p| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit()))?.parse().ok()?;
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days_in_month = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let valid = (1..=12).contains(&month) && day >= 1 && day <= days_in_month[month as usize - 1];
    valid.then(|| format!("{year:04}-{month:02}-{day:02}"))
}
