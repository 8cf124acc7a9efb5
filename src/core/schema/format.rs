//! The `format`s Settee asserts (unknown ones are annotations). Hand-written checks, no
//! regex engine: `date-time`, `date` and `time` are RFC 3339 (leap years, offsets, a leap
//! second only as `23:59:60` in UTC), `email` is RFC 5321's dot-atom shape, `uuid` is
//! 8-4-4-4-12 hex, `ipv4` four decimal octets without leading zeros, `hostname` RFC 1123
//! labels, `uri` a scheme followed by `:` and no spaces.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Format {
    DateTime,
    Date,
    Time,
    Email,
    Uuid,
    Ipv4,
    Hostname,
    Uri,
}

impl Format {
    pub(super) fn named(name: &str) -> Option<Format> {
        Some(match name {
            "date-time" => Format::DateTime,
            "date" => Format::Date,
            "time" => Format::Time,
            "email" => Format::Email,
            "uuid" => Format::Uuid,
            "ipv4" => Format::Ipv4,
            "hostname" => Format::Hostname,
            "uri" => Format::Uri,
            _ => return None,
        })
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            Format::DateTime => "date-time",
            Format::Date => "date",
            Format::Time => "time",
            Format::Email => "email",
            Format::Uuid => "uuid",
            Format::Ipv4 => "ipv4",
            Format::Hostname => "hostname",
            Format::Uri => "uri",
        }
    }

    pub(super) fn is_valid(self, s: &str) -> bool {
        match self {
            Format::DateTime => {
                let Some(t) = s.find(['T', 't']) else { return false };
                date(&s[..t]) && time(&s[t + 1..])
            }
            Format::Date => date(s),
            Format::Time => time(s),
            Format::Email => email(s),
            Format::Uuid => uuid(s),
            Format::Ipv4 => ipv4(s),
            Format::Hostname => hostname(s),
            Format::Uri => uri(s),
        }
    }
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

fn date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&s[..4], 4), digits(&s[5..7], 2), digits(&s[8..], 2)) else {
        return false;
    };
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `HH:MM:SS[.frac](Z|±HH:MM)`.
fn time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 9 || b[2] != b':' || b[5] != b':' {
        return false;
    }
    let (Some(h), Some(m), Some(sec)) = (digits(&s[..2], 2), digits(&s[3..5], 2), digits(&s[6..8], 2)) else {
        return false;
    };
    let mut rest = &s[8..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &frac[n..];
    }
    let offset_min: i64 = match rest {
        "Z" | "z" => 0,
        _ => {
            let ob = rest.as_bytes();
            if ob.len() != 6 || !(ob[0] == b'+' || ob[0] == b'-') || ob[3] != b':' {
                return false;
            }
            let (Some(oh), Some(om)) = (digits(&rest[1..3], 2), digits(&rest[4..], 2)) else { return false };
            if oh > 23 || om > 59 {
                return false;
            }
            let sign = if ob[0] == b'-' { -1 } else { 1 };
            sign * (oh as i64 * 60 + om as i64)
        }
    };
    if h > 23 || m > 59 || sec > 60 {
        return false;
    }
    if sec == 60 {
        // A leap second is 23:59:60 in UTC.
        let utc = (h as i64 * 60 + m as i64 - offset_min).rem_euclid(24 * 60);
        return utc == 23 * 60 + 59;
    }
    true
}

fn email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let local_ok = if local.len() >= 2 && local.starts_with('"') && local.ends_with('"') {
        true
    } else {
        !local.is_empty() && local.split('.').all(|part| !part.is_empty() && part.chars().all(atext))
    };
    let domain_ok = if domain.starts_with('[') && domain.ends_with(']') {
        let inner = &domain[1..domain.len() - 1];
        ipv4(inner) || inner.strip_prefix("IPv6:").is_some_and(|v6| v6.contains(':'))
    } else {
        hostname(domain)
    };
    local_ok && domain_ok
}

fn uuid(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p.len() == 1 || !p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|n| n <= 255)
        })
}

fn hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

fn uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    // Only printable ASCII outside the delimiters RFC 3986 never allows, and `%` only as `%XX`.
    let b = rest.as_bytes();
    let chars_ok = b.iter().enumerate().all(|(i, &c)| match c {
        b'%' => b.get(i + 1..i + 3).is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)),
        0x21..=0x7e => !b"<>\"{}|\\^`".contains(&c),
        _ => false,
    });
    // An authority's port is digits, and its userinfo has no `[`/`]`.
    let authority_ok = match rest.strip_prefix("//") {
        None => true,
        Some(after) => {
            let authority = after.split(['/', '?', '#']).next().unwrap_or("");
            let (userinfo, host) = authority.rsplit_once('@').unwrap_or(("", authority));
            let port = match host.rsplit_once(']') {
                Some((_, tail)) => tail.strip_prefix(':'),
                None => host.rsplit_once(':').map(|(_, p)| p),
            };
            !userinfo.contains(['[', ']']) && port.is_none_or(|p| p.bytes().all(|c| c.is_ascii_digit()))
        }
    };
    scheme_ok && chars_ok && authority_ok
}

#[cfg(test)]
mod tests {
    use super::Format;

    #[test]
    fn date_times_follow_rfc3339() {
        let ok = ["2024-02-29T12:00:00Z", "1990-12-31T15:59:60-08:00", "2026-01-01t00:00:00.123+05:30"];
        let bad = [
            "2023-02-29T12:00:00Z",
            "2024-01-01 12:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T12:00:00",
            "1998-12-31T23:59:60+01:00",
        ];
        for s in ok {
            assert!(Format::DateTime.is_valid(s), "{s}");
        }
        for s in bad {
            assert!(!Format::DateTime.is_valid(s), "{s}");
        }
    }

    #[test]
    fn emails_uuids_and_ipv4s_have_their_shapes() {
        assert!(Format::Email.is_valid("joe.bloggs@example.com"));
        assert!(!Format::Email.is_valid("joe..bloggs@example.com"));
        assert!(!Format::Email.is_valid("no-at-sign"));
        assert!(Format::Uuid.is_valid("2eb8aa08-aa98-11ea-b4aa-73b441d16380"));
        assert!(!Format::Uuid.is_valid("2eb8aa08-aa98-11ea-b4aa-73b441d1638"));
        assert!(Format::Ipv4.is_valid("192.168.0.1"));
        assert!(!Format::Ipv4.is_valid("192.168.0.01"));
    }
}
