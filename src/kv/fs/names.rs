//! Record keys and digests as file names, reversibly: `[A-Za-z0-9._-]` stay, `/` becomes
//! `~`, and any other byte is `%XX`. So `chunk/000000000000007b` is `chunk~000000000000007b`
//! and `md5-XUFA+K/…==` is `md5-XUFA%2BK~…%3D%3D`. Names the store uses for itself (`STATE`,
//! `LOCK`, `*.tmp`) contain no `~` or `%` and are checked before decoding.

pub fn encode(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for b in key.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-' => out.push(b as char),
            b'/' => out.push('~'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The key of a file name `encode` made; `None` for any other name.
pub fn decode(name: &str) -> Option<String> {
    let bytes = name.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'~' => out.push(b'/'),
            b'%' => {
                let hex = name.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b @ (b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'_' | b'-') => out.push(b),
            _ => return None,
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_digests_round_trip_through_file_names() {
        for key in ["chunk/000000000000007b", "md5-XUFAKrxLKna5cZ2REBfFkg==", "a+b/c d", "é"] {
            let name = encode(key);
            assert!(name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-~%".contains(&b)), "{name}");
            assert_eq!(decode(&name).as_deref(), Some(key));
        }
        assert_eq!(encode("chunk/7b"), "chunk~7b");
        assert_eq!(decode("bad name"), None);
        assert_eq!(decode("%4"), None);
    }
}
