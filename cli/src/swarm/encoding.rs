//! The value encodings of `--hex`, `--base64` and the text mode's escapes, both ways. Text mode
//! prints a value on one line: valid UTF-8 is printed as it is except for five escapes
//! (`\\` for a backslash, `\n`, `\r`, `\0`, and `\xHH` for every byte that is not part of valid
//! UTF-8), so no value can break a line and every line decodes back to exactly its bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::fmt::Write as _;

/// Lowercase hex, two digits per byte.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Decodes hex digits (either case, an even number of them).
pub fn unhex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.as_bytes();
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    digits
        .chunks(2)
        .enumerate()
        .map(|(i, pair)| {
            let s = std::str::from_utf8(pair).map_err(|_| format!("byte {}: not hex", 2 * i))?;
            u8::from_str_radix(s, 16).map_err(|_| format!("{s:?} at byte {} is not hex", 2 * i))
        })
        .collect()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard base64 (with padding).
pub fn unbase64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|e| format!("bad base64: {e}"))
}

/// The text mode's one-line form of a value (see the module doc).
pub fn escape(value: &[u8]) -> String {
    let mut out = String::with_capacity(value.len());
    for chunk in value.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\0' => out.push_str("\\0"),
                c => out.push(c),
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

/// Reverses [`escape`]: the proof that text output loses nothing (swarm reads text input raw).
#[cfg(test)]
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let (byte, len) = match bytes.get(i + 1) {
            Some(b'\\') => (b'\\', 2),
            Some(b'n') => (b'\n', 2),
            Some(b'r') => (b'\r', 2),
            Some(b'0') => (0, 2),
            Some(b'x') => {
                let digits = text.get(i + 2..i + 4).unwrap_or("");
                let b = u8::from_str_radix(digits, 16)
                    .map_err(|_| format!("bad \\x escape at byte {i}"))?;
                (b, 4)
            }
            _ => return Err(format!("unknown escape at byte {i}")),
        };
        out.push(byte);
        i += len;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_bytes() -> Vec<u8> {
        (0..=255u8).collect()
    }

    #[test]
    fn hex_round_trips_every_byte() {
        let v = all_bytes();
        let h = hex(&v);
        assert_eq!(&h[..6], "000102");
        assert_eq!(unhex(&h).unwrap(), v);
        assert_eq!(unhex(&h.to_uppercase()).unwrap(), v);
        assert!(unhex("abc").is_err());
        assert!(unhex("zz").is_err());
        assert!(unhex("é1").is_err());
    }

    #[test]
    fn base64_round_trips_every_byte() {
        let v = all_bytes();
        assert_eq!(base64(b"hi"), "aGk=");
        assert_eq!(unbase64(&base64(&v)).unwrap(), v);
        assert!(unbase64("a").is_err());
    }

    #[test]
    fn escapes_keep_one_line_and_round_trip() {
        assert_eq!(escape(b"plain text"), "plain text");
        assert_eq!(escape("grüße".as_bytes()), "grüße");
        assert_eq!(escape(b"a\nb\rc\0d\\e\tf"), "a\\nb\\rc\\0d\\\\e\tf");
        assert_eq!(escape(b"\xff\xfe"), "\\xff\\xfe");
        let v = all_bytes();
        let e = escape(&v);
        assert!(!e.contains('\n') && !e.contains('\r') && !e.contains('\0'));
        assert_eq!(unescape(&e).unwrap(), v);
        assert!(unescape("\\q").is_err());
        assert!(unescape("\\x4").is_err());
    }
}
