//! The JSON of `--json`, by hand (the cli stays lean): string escaping for output, and a reader
//! for the one-line objects `--json` input takes (`{"value":"text"}` or
//! `{"value_base64":"..."}`, the shape `--json` prints; other fields are skipped), or a bare
//! JSON string. Values that are valid UTF-8 are printed as `"value"`, others as
//! `"value_base64"`, since a JSON string cannot carry arbitrary bytes.

use crate::encoding;
use std::fmt::Write as _;

/// `s` as a JSON string literal, quotes included.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value's field: `"value":"..."` when it is UTF-8, else `"value_base64":"..."`.
pub fn value_field(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(text) => format!("\"value\":{}", string(text)),
        Err(_) => format!("\"value_base64\":\"{}\"", encoding::base64(value)),
    }
}

/// The value a `--json` input line carries (see the module doc).
pub fn read_value(line: &str) -> Result<Vec<u8>, String> {
    let mut p = Parser {
        s: line.trim().as_bytes(),
        i: 0,
    };
    let value = if p.peek() == Some(b'"') {
        p.string()?.into_bytes()
    } else {
        p.object_value()?
    };
    p.skip_ws();
    if p.i != p.s.len() {
        return Err(format!(
            "unexpected text after the JSON value at byte {}",
            p.i
        ));
    }
    Ok(value)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.i += 1;
        }
    }

    fn expect(&mut self, c: u8) -> Result<(), String> {
        self.skip_ws();
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(format!("expected '{}' at byte {}", c as char, self.i))
        }
    }

    /// `{...}` with a "value" or "value_base64" string field.
    fn object_value(&mut self) -> Result<Vec<u8>, String> {
        self.expect(b'{')?;
        let mut value = None;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.i += 1;
        } else {
            loop {
                self.skip_ws();
                let name = self.string()?;
                self.expect(b':')?;
                self.skip_ws();
                match name.as_str() {
                    "value" => value = Some(self.string()?.into_bytes()),
                    "value_base64" => value = Some(encoding::unbase64(&self.string()?)?),
                    _ => self.skip_scalar()?,
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.i += 1,
                    Some(b'}') => {
                        self.i += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or '}}' at byte {}", self.i)),
                }
            }
        }
        value.ok_or_else(|| "no \"value\" or \"value_base64\" field".to_string())
    }

    /// Skips a string, number, `true`, `false` or `null` (nested values are not taken).
    fn skip_scalar(&mut self) -> Result<(), String> {
        if self.peek() == Some(b'"') {
            return self.string().map(drop);
        }
        let start = self.i;
        while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || b"+-.".contains(&c)) {
            self.i += 1;
        }
        if self.i == start {
            return Err(format!("unsupported JSON value at byte {start}"));
        }
        Ok(())
    }

    fn string(&mut self) -> Result<String, String> {
        self.expect(b'"')?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(c) = self.peek() else {
                return Err("unterminated string".to_string());
            };
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => self.escape(&mut out)?,
                c => out.push(c),
            }
        }
        String::from_utf8(out).map_err(|_| "string is not UTF-8".to_string())
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), String> {
        let c = self.peek().ok_or("unterminated escape")?;
        self.i += 1;
        let simple = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 8,
            b'f' => 12,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let c = self.unicode()?;
                out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                return Ok(());
            }
            _ => return Err(format!("bad escape at byte {}", self.i - 1)),
        };
        out.push(simple);
        Ok(())
    }

    /// The code point of `\uXXXX` (the `\u` read), surrogate pairs joined.
    fn unicode(&mut self) -> Result<char, String> {
        let first = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&first) {
            if self.s.get(self.i..self.i + 2) != Some(b"\\u") {
                return Err("lone surrogate in \\u escape".to_string());
            }
            self.i += 2;
            let second = self.hex4()?;
            if !(0xdc00..0xe000).contains(&second) {
                return Err("bad surrogate pair in \\u escape".to_string());
            }
            0x10000 + ((first - 0xd800) << 10) + (second - 0xdc00)
        } else {
            first
        };
        char::from_u32(code).ok_or_else(|| "bad \\u escape".to_string())
    }

    fn hex4(&mut self) -> Result<u32, String> {
        let digits = self.s.get(self.i..self.i + 4).ok_or("short \\u escape")?;
        let digits = std::str::from_utf8(digits).map_err(|_| "bad \\u escape")?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| "bad \\u escape")?;
        self.i += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_escape_quotes_and_controls() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), r#""a\"b\\c\nd\u0001""#);
        assert_eq!(value_field(b"hi"), r#""value":"hi""#);
        assert_eq!(value_field(b"\xff"), r#""value_base64":"/w==""#);
    }

    #[test]
    fn what_is_printed_reads_back() {
        let every_char: String = (0..0x300u32).filter_map(char::from_u32).collect();
        for v in [every_char.as_bytes(), b"\xff\x00\n", b"x"] {
            let line = format!("{{\"key\":\"00000000000000ab\",{}}}", value_field(v));
            assert_eq!(read_value(&line).unwrap(), v, "{line}");
        }
        assert_eq!(read_value(r#""bare\n""#).unwrap(), b"bare\n");
        assert_eq!(
            read_value(r#"{"n": 12, "ok": true, "value": "\u00e9\ud83d\ude00"}"#).unwrap(),
            "é😀".as_bytes()
        );
    }

    #[test]
    fn bad_lines_are_refused() {
        for bad in [
            "",
            "{",
            "{}",
            r#"{"value":1}"#,
            r#"{"value":"x"} x"#,
            r#""\q""#,
            r#""\ud800""#,
        ] {
            assert!(read_value(bad).is_err(), "{bad}");
        }
    }
}
