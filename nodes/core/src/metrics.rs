//! `/metrics` and `/health`: the Prometheus text exposition (format 0.0.4) every swarm program
//! serves when `[Stats] http_port` is set, and the pieces behind it.
//!
//! This file owns the text format ([`Exposition`]: `# HELP` / `# TYPE` once per family,
//! label values escaped as the format says) and the latency [`Histogram`] (plain integer
//! buckets, rendered cumulatively). [`http`] owns the tiny HTTP/1.1 responder and its request
//! parser, [`requests`] the per-command request counters and latency histograms the loop keeps,
//! [`config`] the `http_port` / `http_address` keys. The loop's side (a snapshot rendered
//! between steps, on a letter from the HTTP thread) is in `server/scrape.rs`.
//!
//! Metric names: `swarm_node_` for the loop's figures, `swarm_dht_`, `swarm_queue_`,
//! `swarm_logfiles_`, `swarm_dhtdump_` for each program's own (docs/METRICS.md lists them).

pub mod config;
pub mod http;
pub mod requests;

use std::fmt::{Display, Write as _};

pub use config::HttpConfig;

/// A metric family's type, as `# TYPE` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (reset only by a restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// Cumulative `_bucket{le=..}` samples, `_sum` and `_count`.
    Histogram,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// The text of one scrape, written family by family.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

impl Exposition {
    /// An empty page.
    pub fn new() -> Exposition {
        Exposition::default()
    }

    /// Starts a family: its `# HELP` and `# TYPE` lines. Samples of it follow.
    pub fn family(&mut self, name: &str, kind: Kind, help: &str) {
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        // Writing into a String cannot fail.
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {}", kind.name());
    }

    /// One sample line: `name{label="value",...} value`.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                self.text.push_str(key);
                self.text.push_str("=\"");
                escape_label(&mut self.text, val);
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: Kind, help: &str, value: impl Display) {
        self.family(name, kind, help);
        self.sample(name, &[], value);
    }

    /// The samples of one histogram series (the family was started with [`Kind::Histogram`]):
    /// cumulative `_bucket` lines up to `le="+Inf"`, then `_sum` (seconds) and `_count`.
    pub fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Histogram) {
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        let mut with_le: Vec<(&str, &str)> = labels.to_vec();
        with_le.push(("le", ""));
        for (i, n) in h.buckets.iter().enumerate() {
            cumulative += n;
            let le = BOUNDS_TEXT.get(i).copied().unwrap_or("+Inf");
            if let Some(last) = with_le.last_mut() {
                last.1 = le;
            }
            self.sample(&bucket, &with_le, cumulative);
        }
        // Nanoseconds below 2^53 convert to f64 exactly (104 days of summed latency).
        self.sample(&format!("{name}_sum"), labels, h.sum_ns as f64 / 1e9);
        self.sample(&format!("{name}_count"), labels, cumulative);
    }

    /// The page's text.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The page's text, owned.
    pub fn into_string(self) -> String {
        self.text
    }
}

/// Appends `value` escaped as the text format wants a label value: `\` `"` and newline become
/// `\\` `\"` and `\n`.
pub fn escape_label(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Upper bounds of the latency buckets in nanoseconds, 50 µs .. 1 s; one more bucket (+Inf)
/// takes the rest.
pub const BOUNDS_NS: [u64; 14] = [
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
];

/// [`BOUNDS_NS`] in seconds, as the `le` labels spell them.
const BOUNDS_TEXT: [&str; 14] = [
    "5e-05", "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
    "0.1", "0.25", "0.5", "1",
];

/// A latency histogram: per-bucket (not cumulative) counts and the sum, plain integers so that
/// observing costs a short scan and two additions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    buckets: [u64; BOUNDS_NS.len() + 1],
    sum_ns: u64,
}

impl Histogram {
    /// Counts `n` observations of `ns` nanoseconds each.
    #[inline]
    pub fn observe_n(&mut self, ns: u64, n: u64) {
        let i = bucket_of(ns);
        self.buckets[i] += n;
        self.sum_ns = self.sum_ns.saturating_add(ns.saturating_mul(n));
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

/// The bucket a latency of `ns` falls in (the first bound not below it; the last is +Inf).
#[inline]
pub fn bucket_of(ns: u64) -> usize {
    BOUNDS_NS
        .iter()
        .position(|&b| ns <= b)
        .unwrap_or(BOUNDS_NS.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        let mut e = Exposition::new();
        e.family("swarm_x", Kind::Gauge, "a\nb");
        e.sample("swarm_x", &[("channel", "a\"b\\c\nd")], 3);
        assert_eq!(
            e.as_str(),
            "# HELP swarm_x a\\nb\n# TYPE swarm_x gauge\nswarm_x{channel=\"a\\\"b\\\\c\\nd\"} 3\n"
        );
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe_n(10_000, 2); // 10 µs: first bucket
        h.observe_n(50_000, 1); // on the bound: still the first
        h.observe_n(700_000, 1); // 0.7 ms: le=0.001
        h.observe_n(5_000_000_000, 1); // 5 s: +Inf only
        let mut e = Exposition::new();
        e.family("swarm_t", Kind::Histogram, "t");
        e.histogram("swarm_t", &[("command", "Get")], &h);
        let text = e.into_string();
        let line = |le: &str| {
            let head = format!("swarm_t_bucket{{command=\"Get\",le=\"{le}\"}} ");
            text.lines()
                .find_map(|l| l.strip_prefix(&head))
                .map(str::to_owned)
        };
        assert_eq!(line("5e-05").as_deref(), Some("3"));
        assert_eq!(line("0.0005").as_deref(), Some("3"));
        assert_eq!(line("0.001").as_deref(), Some("4"));
        assert_eq!(line("1").as_deref(), Some("4"));
        assert_eq!(line("+Inf").as_deref(), Some("5"));
        assert!(text.contains("swarm_t_count{command=\"Get\"} 5\n"));
        assert!(text.contains("swarm_t_sum{command=\"Get\"} 5.00077\n"));
        assert_eq!(h.count(), 5);
        assert_eq!(text.lines().filter(|l| l.contains("_bucket")).count(), 15);
    }

    #[test]
    fn bounds_text_matches_bounds() {
        for (ns, text) in BOUNDS_NS.iter().zip(BOUNDS_TEXT) {
            let secs: f64 = text.parse().expect("number");
            assert!((secs * 1e9 - *ns as f64).abs() < 1.0, "{text} vs {ns}");
        }
    }
}
