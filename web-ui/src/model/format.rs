//! Numbers, sizes and times as the console prints them.

/// `1.5 KB`, `12 B`, `3.2 MB` (powers of 1024, as the AWS console shows record sizes).
pub fn bytes(count: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut value = count as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{count} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// `1,234,567`.
pub fn thousands(count: u64) -> String {
    let digits = count.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// An RFC 3339 time as `2026-11-26 18:04:05 UTC` (the API always answers in UTC).
pub fn timestamp(rfc3339: &str) -> String {
    let Some((date, rest)) = rfc3339.split_once('T') else {
        return rfc3339.to_owned();
    };
    let time: String = rest.chars().take(8).collect();
    format!("{date} {time} UTC")
}

/// Retention in hours as the AWS console words it: `24 hours (1 day)`.
pub fn retention(hours: i32) -> String {
    if hours % 24 == 0 {
        let days = hours / 24;
        format!(
            "{hours} hours ({days} day{})",
            if days == 1 { "" } else { "s" }
        )
    } else {
        format!("{hours} hours")
    }
}

/// A duration in milliseconds, in the largest unit that keeps it readable.
pub fn milliseconds(ms: i64) -> String {
    match ms {
        ms if ms < 1000 => format!("{ms} ms"),
        ms if ms < 60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        ms if ms < 3_600_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        ms => format!("{:.1} h", ms as f64 / 3_600_000.0),
    }
}

/// Where to go after signing in: `next` if it is a path on this site, else the streams page.
/// (Never an absolute URL: that would make the sign-in page an open redirect.)
pub fn local_path(next: Option<&str>) -> String {
    match next {
        Some(path) if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') => {
            path.to_owned()
        }
        _ => "/streams".to_owned(),
    }
}

/// A `datetime-local` input's value (`2026-11-26T18:00` or with seconds), read as UTC, as
/// RFC 3339; a value that already names its zone passes unchanged.
pub fn rfc3339_utc(input: &str) -> String {
    let input = input.trim();
    let Some((_, time)) = input.split_once('T') else {
        return input.to_owned();
    };
    if time.ends_with('Z') || time.contains('+') || time.contains('-') {
        return input.to_owned();
    }
    if time.len() == 5 {
        format!("{input}:00Z")
    } else {
        format!("{input}Z")
    }
}

/// Percent-encodes a query value (cursors are URL-safe today; nothing relies on it).
pub fn url_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_in_only_returns_to_local_paths() {
        assert_eq!(
            local_path(Some("/streams/orders?tab=data")),
            "/streams/orders?tab=data"
        );
        assert_eq!(local_path(Some("//evil.example/x")), "/streams");
        assert_eq!(local_path(Some("https://evil.example")), "/streams");
        assert_eq!(local_path(Some("/\\evil.example")), "/streams");
        assert_eq!(local_path(None), "/streams");
    }

    #[test]
    fn browser_times_become_rfc3339() {
        assert_eq!(rfc3339_utc("2026-11-26T18:00"), "2026-11-26T18:00:00Z");
        assert_eq!(rfc3339_utc("2026-11-26T18:00:05"), "2026-11-26T18:00:05Z");
        assert_eq!(
            rfc3339_utc("2026-11-26T18:00:05+01:00"),
            "2026-11-26T18:00:05+01:00"
        );
        assert_eq!(rfc3339_utc(""), "");
    }

    #[test]
    fn formats() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(1536), "1.5 KB");
        assert_eq!(bytes(5 * 1024 * 1024), "5.0 MB");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(
            timestamp("2026-11-26T18:04:05.123456Z"),
            "2026-11-26 18:04:05 UTC"
        );
        assert_eq!(timestamp("garbage"), "garbage");
        assert_eq!(retention(24), "24 hours (1 day)");
        assert_eq!(retention(168), "168 hours (7 days)");
        assert_eq!(retention(30), "30 hours");
        assert_eq!(milliseconds(250), "250 ms");
        assert_eq!(milliseconds(90_000), "1.5 min");
    }
}
