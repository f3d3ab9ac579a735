//! What `swarm` reads: keys (16 hex digits, `0x` and up to 16 hex digits, or decimal with
//! `--decimal`), a value to store (argument, `--file` or stdin, binary safe, then decoded per
//! the format flag), and produce's input lines.

use crate::args::ValueArgs;
use crate::encoding;
use crate::error::CliError;
use crate::json;
use crate::output::Format;
use std::io::{self, BufRead, Read};
use std::os::unix::ffi::OsStringExt;
use std::path::Path;

/// Parses a key: 16 hex digits or `0x` and 1 to 16 hex digits; with `decimal`, a decimal
/// number (the `0x` form still accepted).
pub fn parse_key(s: &str, decimal: bool) -> Result<u64, CliError> {
    let hex_digits =
        |h: &str| !h.is_empty() && h.len() <= 16 && h.bytes().all(|c| c.is_ascii_hexdigit());
    let parsed = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        hex_digits(h)
            .then(|| u64::from_str_radix(h, 16).ok())
            .flatten()
    } else if decimal {
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    } else if s.len() == 16 {
        swarm_protocol::parse_key(s.as_bytes()).ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        let rule = if decimal {
            "a decimal number up to 18446744073709551615, or 0x and up to 16 hex digits"
        } else {
            "16 hex digits, or 0x and up to 16 hex digits (decimal keys need --decimal)"
        };
        CliError::Usage(format!("bad key {s:?}: a key is {rule}"))
    })
}

/// The value to store: the argument's bytes, the file's, or all of stdin (`-` or no value),
/// decoded per `format` (text: as it is).
pub fn read_value(args: &ValueArgs, format: Format) -> Result<Vec<u8>, CliError> {
    let raw = match (&args.value, &args.file) {
        (Some(v), None) if v != "-" => v.clone().into_vec(),
        (_, Some(path)) => read_file(path)?,
        (_, None) => {
            let mut all = Vec::new();
            io::stdin()
                .lock()
                .read_to_end(&mut all)
                .map_err(|e| CliError::Usage(format!("reading the value from stdin: {e}")))?;
            all
        }
    };
    decode(raw, format).map_err(|why| CliError::Usage(format!("the value: {why}")))
}

/// A file's bytes, as a usage error naming it if it cannot be read.
fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    std::fs::read(path).map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))
}

/// Decodes a value per the format flag (hex and base64 ignore surrounding whitespace).
pub fn decode(raw: Vec<u8>, format: Format) -> Result<Vec<u8>, String> {
    if format == Format::Text {
        return Ok(raw);
    }
    let text = String::from_utf8(raw).map_err(|_| "not UTF-8".to_string())?;
    match format {
        Format::Hex => encoding::unhex(text.trim()),
        Format::Base64 => encoding::unbase64(text.trim()),
        Format::Json => json::read_value(&text),
        Format::Text => Ok(text.into_bytes()),
    }
}

/// The input lines of produce, from `file` or stdin: each line without its `\n`, numbered
/// from 1 for error messages.
pub fn lines(
    file: Option<&Path>,
) -> Result<Box<dyn Iterator<Item = io::Result<Vec<u8>>>>, CliError> {
    let reader: Box<dyn BufRead> = match file {
        Some(path) => {
            let f = std::fs::File::open(path)
                .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
            Box::new(io::BufReader::new(f))
        }
        None => Box::new(io::BufReader::new(io::stdin())),
    };
    Ok(Box::new(reader.split(b'\n')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_as_hex_0x_or_decimal() {
        assert_eq!(parse_key("00000000000000ab", false).unwrap(), 0xab);
        assert_eq!(parse_key("FFFFFFFFFFFFFFFF", false).unwrap(), u64::MAX);
        assert_eq!(parse_key("0xab", false).unwrap(), 0xab);
        assert_eq!(parse_key("0xab", true).unwrap(), 0xab);
        assert_eq!(parse_key("171", true).unwrap(), 171);
        assert_eq!(parse_key("18446744073709551615", true).unwrap(), u64::MAX);
        for (bad, decimal) in [
            ("171", false),
            ("0x", false),
            ("0x10000000000000000", false),
            ("00000000000000ag", false),
            ("-1", true),
            ("+1", true),
            ("18446744073709551616", true),
            ("", true),
        ] {
            let e = parse_key(bad, decimal).unwrap_err();
            assert!(e.to_string().contains("a key is"), "{bad}: {e}");
        }
    }

    #[test]
    fn values_decode_per_format() {
        let raw = |s: &str| s.as_bytes().to_vec();
        assert_eq!(decode(raw("a\n"), Format::Text).unwrap(), b"a\n");
        assert_eq!(decode(raw("6869\n"), Format::Hex).unwrap(), b"hi");
        assert_eq!(decode(raw(" aGk=\n"), Format::Base64).unwrap(), b"hi");
        assert_eq!(
            decode(raw(r#"{"value":"hi"}"#), Format::Json).unwrap(),
            b"hi"
        );
        assert!(decode(vec![0xff], Format::Hex).is_err());
    }
}
