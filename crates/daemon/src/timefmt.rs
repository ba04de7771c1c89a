//! Small time formatting helpers (UTC), on the calendar code of [`KerberosTime`].

use krb5_proto::asn1::KerberosTime;

/// `YYYYMMDDHHMMSSZ` digits of Unix seconds, as ASCII.
fn digits(secs: i64) -> [u8; 15] {
    KerberosTime::from_unix(secs).to_generalized()
}

fn field(d: &[u8; 15], range: std::ops::Range<usize>) -> &str {
    // to_generalized writes ASCII digits only.
    std::str::from_utf8(&d[range]).unwrap_or("??")
}

/// Formats Unix seconds as `2026-11-25T20:00:00Z`.
pub fn iso8601(secs: i64) -> String {
    let d = digits(secs);
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        field(&d, 0..4),
        field(&d, 4..6),
        field(&d, 6..8),
        field(&d, 8..10),
        field(&d, 10..12),
        field(&d, 12..14)
    )
}

/// Formats Unix seconds as MIT klist does (`11/25/26 20:00:00`, UTC here).
pub fn klist_style(secs: i64) -> String {
    let d = digits(secs);
    format!(
        "{}/{}/{} {}:{}:{}",
        field(&d, 4..6),
        field(&d, 6..8),
        field(&d, 2..4),
        field(&d, 8..10),
        field(&d, 10..12),
        field(&d, 12..14)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_dates() {
        assert_eq!(super::iso8601(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::iso8601(1_795_636_800), "2026-11-25T20:00:00Z");
        assert_eq!(super::klist_style(951_782_400), "02/29/00 00:00:00");
    }
}
