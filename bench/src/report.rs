//! The figures of a measured run, printed as a short text report or as one flat JSON object
//! (`--json`) that scripts read with nothing more than `sed`.

use super::codec::Codec;
use super::engine::Tally;
use super::opts::RunArgs;
use std::fmt::Write as _;

/// A measured phase and the CPU time read around it.
#[derive(Debug)]
pub struct Measured {
    /// Replies and latencies.
    pub tally: Tally,
    /// Server CPU seconds (with --node-pid).
    pub node_cpu: Option<f64>,
    /// Server resident memory after the run, bytes (with --node-pid).
    pub node_rss: Option<u64>,
    /// Our own CPU seconds, all threads.
    pub client_cpu: Option<f64>,
    /// CPU seconds the whole machine was busy (all processes, all cores).
    pub machine_busy: Option<f64>,
    /// The codec used (echo message sizes).
    pub codec: Codec,
}

/// A flat JSON object under construction.
#[derive(Debug, Default)]
pub struct Json(String);

impl Json {
    fn key(&mut self, key: &str) {
        self.0.push(if self.0.is_empty() { '{' } else { ',' });
        let _ = write!(self.0, "\"{key}\":");
    }

    /// A number (null when absent or not finite).
    pub fn num(&mut self, key: &str, v: Option<f64>) -> &mut Json {
        self.key(key);
        match v.filter(|v| v.is_finite()) {
            Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => {
                let _ = write!(self.0, "{v:.0}");
            }
            Some(v) => {
                let _ = write!(self.0, "{v:.6}");
            }
            None => self.0.push_str("null"),
        }
        self
    }

    /// A string (null when absent).
    pub fn text(&mut self, key: &str, v: Option<&str>) -> &mut Json {
        self.key(key);
        match v {
            None => self.0.push_str("null"),
            Some(v) => {
                self.0.push('"');
                for c in v.chars() {
                    match c {
                        '"' => self.0.push_str("\\\""),
                        '\\' => self.0.push_str("\\\\"),
                        c if (c as u32) < 0x20 => {
                            let _ = write!(self.0, "\\u{:04x}", c as u32);
                        }
                        c => self.0.push(c),
                    }
                }
                self.0.push('"');
            }
        }
        self
    }

    /// The finished object.
    pub fn finish(&mut self) -> String {
        if self.0.is_empty() {
            self.0.push('{');
        }
        self.0.push('}');
        std::mem::take(&mut self.0)
    }
}

/// Every figure of a run, as `(name, value)`; the text and JSON reports both print these.
fn figures(args: &RunArgs, m: &Measured) -> Vec<(&'static str, Option<f64>)> {
    let t = &m.tally;
    let n = t.replies() as f64;
    let secs = t.span.map(|(a, b)| b.duration_since(a).as_secs_f64());
    let us = |q: f64| Some(t.latency.value_at_quantile(q) as f64 / 1000.0).filter(|_| n > 0.0);
    let per_req = |cpu: Option<f64>| cpu.filter(|_| n > 0.0).map(|c| c / n);
    let (req_bytes, reply_bytes) = match m.codec {
        Codec::Echo { request, reply } => (Some(request as f64), Some(reply as f64)),
        _ => (None, None),
    };
    vec![
        ("connections", Some(args.connections as f64)),
        ("pipeline", Some(args.pipeline as f64)),
        ("threads", Some(args.threads as f64)),
        ("value_size", Some(args.value_size as f64)),
        ("keys", Some(args.keys as f64)),
        ("requests", Some(n)),
        ("hits", Some(t.hits as f64)),
        ("misses", Some(t.misses as f64)),
        ("errors", Some(t.errors as f64)),
        ("conn_failures", Some(t.conn_failures as f64)),
        ("elapsed_s", secs),
        ("ops_per_s", secs.filter(|s| *s > 0.0).map(|s| n / s)),
        ("records", Some(t.records as f64)),
        (
            "records_per_s",
            secs.filter(|s| *s > 0.0).map(|s| t.records as f64 / s),
        ),
        (
            "value_mb_per_s",
            secs.filter(|s| *s > 0.0)
                .map(|s| (t.records * args.value_size as u64) as f64 / s / 1e6),
        ),
        ("lat_p50_us", us(0.5)),
        ("lat_p99_us", us(0.99)),
        ("lat_p999_us", us(0.999)),
        (
            "lat_max_us",
            Some(t.latency.max() as f64 / 1000.0).filter(|_| n > 0.0),
        ),
        (
            "lat_mean_us",
            Some(t.latency.mean() / 1000.0).filter(|_| n > 0.0),
        ),
        ("node_cpu_s", m.node_cpu),
        ("node_cpu_s_per_1k", per_req(m.node_cpu).map(|c| c * 1000.0)),
        ("node_cpu_us_per_req", per_req(m.node_cpu).map(|c| c * 1e6)),
        ("node_cpu_util", m.node_cpu.zip(secs).map(|(c, s)| c / s)),
        ("node_rss_bytes", m.node_rss.map(|b| b as f64)),
        ("client_cpu_s", m.client_cpu),
        (
            "client_cpu_us_per_req",
            per_req(m.client_cpu).map(|c| c * 1e6),
        ),
        (
            "client_cpu_util",
            m.client_cpu.zip(secs).map(|(c, s)| c / s),
        ),
        (
            "machine_busy_cores",
            m.machine_busy.zip(secs).map(|(c, s)| c / s),
        ),
        (
            "other_cpu_cores",
            m.machine_busy
                .zip(m.client_cpu)
                .zip(secs)
                .map(|((busy, client), s)| (busy - client - m.node_cpu.unwrap_or(0.0)) / s),
        ),
        ("echo_request_bytes", req_bytes),
        ("echo_reply_bytes", reply_bytes),
    ]
}

/// The run's JSON object.
pub fn json(args: &RunArgs, m: &Measured) -> String {
    let mut j = Json::default();
    j.text("target", Some(&format!("{:?}", args.target).to_lowercase()))
        .text("addr", Some(&args.addr.to_string()))
        .text("mix", Some(&args.mix.describe()));
    for (name, v) in figures(args, m) {
        j.num(name, v);
    }
    j.text("first_failure", m.tally.first_failure.as_deref());
    j.finish()
}

/// The run's text report.
pub fn text(args: &RunArgs, m: &Measured) -> String {
    let mut s = format!(
        "swarm-bench: {:?} at {}, mix {}\n",
        args.target,
        args.addr,
        args.mix.describe()
    );
    for (name, v) in figures(args, m) {
        let v = match v {
            None => "-".to_string(),
            Some(v) if v.fract() == 0.0 => format!("{v:.0}"),
            Some(v) => format!("{v:.3}"),
        };
        let _ = writeln!(s, "  {name:<22} {v}");
    }
    if let Some(why) = &m.tally.first_failure {
        let _ = writeln!(s, "  first failure: {why}");
    }
    s
}
