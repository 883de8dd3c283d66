//! Go `time.Time` values (as the visor sends them) to and from RFC 3339 text, the way Go's
//! `encoding/json` writes them (`time.RFC3339Nano`: fraction without trailing zeros, `Z` for
//! UTC), so that the /pair routes show the times a Go skychat shows. The zero time is
//! `0001-01-01T00:00:00Z`, as in Go.

use skychat_visor::{GoTime, Zone};

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `time` as Go's `time.RFC3339Nano` writes it.
pub fn format_rfc3339(time: &GoTime) -> String {
    let offset = match time.zone {
        Zone::Utc => 0,
        Zone::Offset(seconds) => i64::from(seconds),
    };
    let local = time.unix() + offset;
    let (year, month, day) = civil_from_days(local.div_euclid(86_400));
    let second_of_day = local.rem_euclid(86_400);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    );
    if time.nsec > 0 {
        let fraction = format!("{:09}", time.nsec);
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    match time.zone {
        Zone::Utc => out.push('Z'),
        Zone::Offset(_) => {
            let sign = if offset < 0 { '-' } else { '+' };
            let minutes = offset.abs() / 60;
            out.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
        }
    }
    out
}

/// Parses RFC 3339 text (`2026-12-02T10:00:00Z`, with an optional fraction and a `Z` or
/// `±hh:mm` offset) into a Go time.
pub fn parse_rfc3339(text: &str) -> Result<GoTime, String> {
    let bad = || format!("{text:?} is not an RFC 3339 time such as 2026-12-02T10:00:00Z");
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Result<i64, String> {
        let digits = text.get(range).ok_or_else(bad)?;
        if digits.bytes().all(|c| c.is_ascii_digit()) {
            digits.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return Err(bad());
    }
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err(bad());
    }
    if second > 60 {
        return Err(bad());
    }
    let mut i = 19;
    let mut nsec = 0i64;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = &text[start..i];
        if digits.is_empty() || digits.len() > 9 {
            return Err(bad());
        }
        nsec = number(start..i)? * 10i64.pow(9 - digits.len() as u32);
    }
    let offset = match &text[i..] {
        "Z" | "z" => None,
        zone if zone.len() == 6 && matches!(zone.as_bytes()[0], b'+' | b'-') => {
            if zone.as_bytes()[3] != b':' {
                return Err(bad());
            }
            let minutes = number(i + 1..i + 3)? * 60 + number(i + 4..i + 6)?;
            Some(
                if zone.starts_with('-') {
                    -minutes
                } else {
                    minutes
                } * 60,
            )
        }
        _ => return Err(bad()),
    };
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let unix = local - offset.unwrap_or(0);
    let zone = match offset {
        None => Zone::Utc,
        Some(o) => Zone::Offset(i32::try_from(o).map_err(|_| bad())?),
    };
    Ok(GoTime::from_unix(unix, nsec as i32, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_writes_the_zero_time_as_year_one() {
        assert_eq!(format_rfc3339(&GoTime::default()), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn round_trips_with_fractions_and_offsets() {
        for text in [
            "2026-12-02T10:00:00Z",
            "2026-12-02T10:00:00.5Z",
            "2024-02-29T23:59:59.123456789Z",
            "1999-12-31T18:30:00+05:30",
            "2026-01-01T00:00:00.001-08:00",
        ] {
            let time = parse_rfc3339(text).expect(text);
            assert_eq!(format_rfc3339(&time), text);
        }
        let t = parse_rfc3339("1970-01-01T01:00:00+01:00").expect("parse");
        assert_eq!(t.unix(), 0);
    }

    #[test]
    fn refuses_what_is_not_rfc3339() {
        for text in [
            "",
            "yesterday",
            "2026-12-02",
            "2026-13-01T00:00:00Z",
            "2026-12-02T10:00:00",
        ] {
            assert!(parse_rfc3339(text).is_err(), "{text}");
        }
    }
}
