//! Durations (`250ms`, `10s`, `5m`, `7d`) and points in time (a duration
//! ago, an RFC 3339 time, or epoch milliseconds) as the command line
//! writes them.

/// Milliseconds in a duration such as `250ms`, `10s`, `5m`, `2h` or `7d`.
pub fn parse_duration_ms(text: &str) -> Result<i64, String> {
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 =
        number.parse().map_err(|_| format!("{text:?} is not a duration (like 250ms, 10s, 5m, 7d)"))?;
    let scale = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(format!("{text:?} is not a duration: give a unit, one of ms, s, m, h, d")),
    };
    n.checked_mul(scale).ok_or_else(|| format!("{text:?} is too long a duration"))
}

/// A duration for people: `250ms`, `1.5s`, `30s`, `2.5m`, `3h`, `7d`
/// (at most one decimal).
pub fn format_duration_ms(ms: i64) -> String {
    let units = [(86_400_000, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")];
    for (scale, unit) in units {
        if ms.abs() >= scale {
            let tenths = (ms as f64 / scale as f64 * 10.0).round() / 10.0;
            return format!("{tenths}{unit}");
        }
    }
    format!("{ms}ms")
}

/// The system clock's epoch milliseconds.
pub fn now_ms() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The UTC time of day of epoch milliseconds `ms`: `HH:MM:SS`.
pub fn format_clock(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Epoch milliseconds of `text`: a duration ago (`10m`), an RFC 3339 time
/// (`2026-12-01T10:00:00Z`, `2026-12-01T11:00:00.5+01:00`), or epoch
/// milliseconds (`1764583200000`).
pub fn parse_time_ms(text: &str, now_ms: i64) -> Result<i64, String> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| format!("{text:?} is too large for epoch milliseconds"));
    }
    if text.contains('T') || text.contains('t') {
        return parse_rfc3339(text);
    }
    Ok(now_ms.saturating_sub(parse_duration_ms(text)?))
}

fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not an RFC 3339 time (like 2026-12-01T10:00:00Z)");
    let b = text.as_bytes();
    let num = |from: usize, len: usize| -> Result<i64, String> {
        let part = text.get(from..from + len).ok_or_else(bad)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        part.parse::<i64>().map_err(|_| bad())
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(bad());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return Err(bad());
    }
    let mut at = 19;
    let mut millis = 0;
    if b.get(at) == Some(&b'.') {
        let digits = b[at + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return Err(bad());
        }
        let frac = &text[at + 1..at + 1 + digits];
        millis = format!("{:0<3}", &frac[..digits.min(3)]).parse::<i64>().map_err(|_| bad())?;
        at += 1 + digits;
    }
    let offset_min = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(sign @ (b'+' | b'-')) if at + 6 == b.len() && b[at + 3] == b':' => {
            let minutes = num(at + 1, 2)? * 60 + num(at + 4, 2)?;
            if *sign == b'-' {
                -minutes
            } else {
                minutes
            }
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_min * 60;
    Ok(seconds * 1_000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("10s"), Ok(10_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("7d"), Ok(604_800_000));
        for bad in ["", "10", "s", "1.5s", "10 s", "-3s", "10y", "99999999999999999999d"] {
            assert!(parse_duration_ms(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn durations_for_people() {
        assert_eq!(format_duration_ms(250), "250ms");
        assert_eq!(format_duration_ms(1_500), "1.5s");
        assert_eq!(format_duration_ms(30_000), "30s");
        assert_eq!(format_duration_ms(150_000), "2.5m");
        assert_eq!(format_duration_ms(604_800_000), "7d");
        assert_eq!(format_clock(1_796_119_200_500 + 3_723_000), "11:02:03");
    }

    #[test]
    fn times() {
        assert_eq!(parse_time_ms("1796119200000", 0), Ok(1_796_119_200_000));
        assert_eq!(parse_time_ms("10s", 50_000), Ok(40_000));
        assert_eq!(parse_time_ms("1970-01-01T00:00:00Z", 0), Ok(0));
        assert_eq!(parse_time_ms("2026-12-01T10:00:00Z", 0), Ok(1_796_119_200_000));
        assert_eq!(parse_time_ms("2026-12-01T11:00:00.5+01:00", 0), Ok(1_796_119_200_500));
        assert_eq!(parse_time_ms("2000-02-29T23:59:59.123-00:30", 0), Ok(951_870_599_123));
        for bad in
            ["2026-12-01", "2026-13-01T00:00:00Z", "2026-12-01T10:00:00", "2026-12-01T10:00:00+0100", "x"]
        {
            assert!(parse_time_ms(bad, 0).is_err(), "{bad:?}");
        }
    }
}
