//! What `swarm` prints, one line per record or item in every format (text, `--hex`,
//! `--base64`, `--json`), and the single value of a get or pop, which text mode prints raw.
//! Records are `KEY:VALUE` (queue records: `VALUE`); keys are 16 hex digits, or decimal
//! with `--decimal`; JSON lines carry `"key"` as a string in the same notation.

use crate::encoding;
use crate::json;
use std::io::{self, IsTerminal, Write};
use std::net::SocketAddr;

/// The value format of the global flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One line per value, escaped (encoding.rs); a single value raw.
    Text,
    /// `--hex`.
    Hex,
    /// `--base64`.
    Base64,
    /// `--json`.
    Json,
}

/// Records and bytes of one node (or the total), for the size lines.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub records: u64,
    pub bytes: u64,
}

/// The format flags: how keys and values are written.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub format: Format,
    pub decimal: bool,
}

impl Style {
    /// A key in the chosen notation.
    pub fn key(&self, key: u64) -> String {
        if self.decimal {
            key.to_string()
        } else {
            format!("{key:016x}")
        }
    }

    /// A value for a text, hex or base64 line.
    fn value(&self, value: &[u8]) -> String {
        match self.format {
            Format::Hex => encoding::hex(value),
            Format::Base64 => encoding::base64(value),
            Format::Text | Format::Json => encoding::escape(value),
        }
    }

    /// One record line (no newline): `KEY:VALUE` (or `VALUE` without a key), or its JSON
    /// object.
    pub fn record(&self, key: Option<u64>, value: &[u8]) -> String {
        match (self.format, key) {
            (Format::Json, Some(k)) => {
                format!(
                    "{{\"key\":\"{}\",{}}}",
                    self.key(k),
                    json::value_field(value)
                )
            }
            (Format::Json, None) => format!("{{{}}}", json::value_field(value)),
            (_, Some(k)) => format!("{}:{}", self.key(k), self.value(value)),
            (_, None) => self.value(value),
        }
    }
}

/// Buffered stdout in one style.
#[derive(Debug)]
pub struct Out {
    style: Style,
    format: Format,
    w: io::BufWriter<io::StdoutLock<'static>>,
}

impl Out {
    pub fn new(style: Style) -> Out {
        Out {
            style,
            format: style.format,
            w: io::BufWriter::new(io::stdout().lock()),
        }
    }

    /// A key in the chosen notation.
    fn key(&self, key: u64) -> String {
        self.style.key(key)
    }

    /// One record line.
    pub fn record(&mut self, key: Option<u64>, value: &[u8]) -> io::Result<()> {
        let line = self.style.record(key, value);
        writeln!(self.w, "{line}")
    }

    /// The value of a single get or pop: raw bytes in text mode (a newline added only on a
    /// terminal), else one record line.
    pub fn single(&mut self, key: Option<u64>, value: &[u8]) -> io::Result<()> {
        if self.format != Format::Text {
            return self.record(key, value);
        }
        self.w.write_all(value)?;
        if io::stdout().is_terminal() {
            writeln!(self.w)?;
        }
        Ok(())
    }

    /// Flushes, for streams that print as records come.
    pub fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }

    /// A key line.
    pub fn key_line(&mut self, key: u64) -> io::Result<()> {
        let k = self.key(key);
        match self.format {
            Format::Json => writeln!(self.w, "{{\"key\":\"{k}\"}}"),
            _ => writeln!(self.w, "{k}"),
        }
    }

    /// A channel name line.
    pub fn channel(&mut self, name: &str) -> io::Result<()> {
        match self.format {
            Format::Json => writeln!(self.w, "{{\"channel\":{}}}", json::string(name)),
            _ => writeln!(self.w, "{name}"),
        }
    }

    /// Exists' answer.
    pub fn exists(&mut self, key: u64, exists: bool) -> io::Result<()> {
        match self.format {
            Format::Json => {
                let k = self.key(key);
                writeln!(self.w, "{{\"key\":\"{k}\",\"exists\":{exists}}}")
            }
            _ => writeln!(self.w, "{exists}"),
        }
    }

    /// The size lines: one per node, then the total (the JSON shape scripts parse:
    /// `{"node":"ADDR","records":N,"bytes":B}` per node, `{"total":true,...}` last).
    pub fn sizes(&mut self, sizes: &[(SocketAddr, Size)]) -> io::Result<()> {
        let json = self.format == Format::Json;
        for (node, s) in sizes {
            if json {
                let (r, b) = (s.records, s.bytes);
                writeln!(
                    self.w,
                    "{{\"node\":\"{node}\",\"records\":{r},\"bytes\":{b}}}"
                )?;
            } else {
                writeln!(self.w, "{node}: {} records, {} bytes", s.records, s.bytes)?;
            }
        }
        let r: u64 = sizes.iter().map(|(_, s)| s.records).sum();
        let b: u64 = sizes.iter().map(|(_, s)| s.bytes).sum();
        if json {
            writeln!(self.w, "{{\"total\":true,\"records\":{r},\"bytes\":{b}}}")
        } else {
            writeln!(self.w, "total: {r} records, {b} bytes")
        }
    }

    /// A dht node's hash range line (`None` for a node that owns no key).
    pub fn range(&mut self, node: SocketAddr, range: Option<(u64, u64)>) -> io::Result<()> {
        match (self.format, range) {
            (Format::Json, Some((min, max))) => writeln!(
                self.w,
                "{{\"node\":\"{node}\",\"min\":\"{min:016x}\",\"max\":\"{max:016x}\"}}"
            ),
            (Format::Json, None) => writeln!(self.w, "{{\"node\":\"{node}\",\"empty\":true}}"),
            (_, Some((min, max))) => writeln!(self.w, "{node}: {min:016x}..={max:016x}"),
            (_, None) => writeln!(self.w, "{node}: empty"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(format: Format, decimal: bool) -> Style {
        Style { format, decimal }
    }

    #[test]
    fn record_lines_in_every_format() {
        let v = b"a\nb\xff";
        assert_eq!(
            style(Format::Text, false).record(Some(0xab), v),
            "00000000000000ab:a\\nb\\xff"
        );
        assert_eq!(
            style(Format::Text, true).record(Some(0xab), v),
            "171:a\\nb\\xff"
        );
        assert_eq!(style(Format::Hex, false).record(None, v), "610a62ff");
        assert_eq!(style(Format::Base64, false).record(None, b"hi"), "aGk=");
        assert_eq!(
            style(Format::Json, false).record(Some(1), b"x\"y"),
            r#"{"key":"0000000000000001","value":"x\"y"}"#
        );
        assert_eq!(
            style(Format::Json, true).record(None, v),
            r#"{"value_base64":"YQpi/w=="}"#
        );
    }
}
