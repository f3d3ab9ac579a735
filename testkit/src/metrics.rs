//! `/metrics` and `/health` in tests: the address from root.log's `metrics: serving` line, a
//! plain HTTP GET, the exposition text parsed into series, and stats.log lines parsed into
//! maps to compare them with.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::process::read_log;

/// The address of root.log's `metrics: serving http://ADDR/metrics` line (waits up to 10 s).
pub fn metrics_addr(root_log: &Path) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = read_log(root_log);
        if let Some(rest) = text.split("metrics: serving http://").nth(1) {
            let addr = rest.split("/metrics").next().unwrap();
            return addr.parse().unwrap();
        }
        assert!(
            Instant::now() < deadline,
            "no metrics line in root.log:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends `request` as is and returns the whole answer (the server closes after it).
pub fn http_raw(addr: SocketAddr, request: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut answer = Vec::new();
    // A reset after a refusal still leaves what was read.
    let _ = s.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// `GET path`: the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let answer = http_raw(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
    );
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_owned())
}

/// One scrape: each series (`name{labels}` exactly as exposed) and its value, and each
/// family's `# TYPE`.
#[derive(Debug, Default)]
pub struct Scrape {
    pub series: BTreeMap<String, f64>,
    pub types: BTreeMap<String, String>,
}

impl Scrape {
    /// Parses exposition text; panics on a sample line that does not parse, or a sample whose
    /// family has no `# HELP` and `# TYPE`.
    pub fn parse(text: &str) -> Scrape {
        let mut s = Scrape::default();
        let mut helped = Vec::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                helped.push(rest.split(' ').next().unwrap().to_owned());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(helped.iter().any(|h| h == name), "TYPE before HELP: {line}");
                assert!(
                    s.types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "{line}"
                );
            } else if !line.is_empty() {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let value: f64 = value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value: {line}"));
                let name = series.split('{').next().unwrap();
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|sfx| name.strip_suffix(sfx).filter(|f| s.types.contains_key(*f)))
                    .unwrap_or(name);
                assert!(s.types.contains_key(family), "sample without TYPE: {line}");
                assert!(
                    s.series.insert(series.to_owned(), value).is_none(),
                    "twice: {line}"
                );
            }
        }
        s
    }

    /// GETs `/metrics` from `addr` and parses it (status must be 200).
    pub fn get(addr: SocketAddr) -> Scrape {
        let (status, body) = http_get(addr, "/metrics");
        assert_eq!(status, 200, "{body}");
        Scrape::parse(&body)
    }

    /// The value of `name` with `labels` (in exposition order), if exposed.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let key = if labels.is_empty() {
            name.to_owned()
        } else {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", inner.join(","))
        };
        self.series.get(&key).copied()
    }

    /// As [`Scrape::value`]; panics when absent.
    pub fn at(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.value(name, labels).unwrap_or_else(|| {
            panic!(
                "{name} {labels:?} not exposed; have {:?}",
                self.series.keys()
            )
        })
    }

    /// The metric names exposed (families, and for histograms also their `_bucket`, `_sum`
    /// and `_count` series names).
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .series
            .keys()
            .map(|k| k.split('{').next().unwrap().to_owned())
            .chain(self.types.keys().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// stats.log's lines, each as key -> value (the timestamp dropped).
pub fn stats_lines(path: &Path) -> Vec<BTreeMap<String, String>> {
    read_log(path)
        .lines()
        .map(|line| {
            line.split(' ')
                .skip(2)
                .filter_map(|kv| kv.rsplit_once(':'))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .collect()
}

/// Waits (up to 10 s) until stats.log has more than `after` lines; returns them all.
pub fn wait_stats_lines(path: &Path, after: usize) -> Vec<BTreeMap<String, String>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let lines = stats_lines(path);
        if lines.len() > after {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "no new stats line in {}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The sum of `key` over `lines` (a per-line counter's running total).
pub fn stats_sum(lines: &[BTreeMap<String, String>], key: &str) -> f64 {
    lines
        .iter()
        .filter_map(|l| l.get(key))
        .map(|v| v.parse::<f64>().unwrap())
        .sum()
}

/// The loop's figures every node kind exports alike: the byte totals are the sums of the
/// stats.log lines' per-interval `bytes_sent` / `bytes_received`, and each command of
/// `requests` was received that many times (the request counter, the latency histogram's
/// `_count` and its `+Inf` bucket).
pub fn assert_loop_figures(
    m: &Scrape,
    lines: &[BTreeMap<String, String>],
    requests: &[(&str, f64)],
) {
    for (key, name) in [
        ("bytes_sent", "swarm_node_bytes_sent_total"),
        ("bytes_received", "swarm_node_bytes_received_total"),
    ] {
        assert_eq!(m.at(name, &[]), stats_sum(lines, key), "{key}");
    }
    for &(cmd, n) in requests {
        let l = [("command", cmd)];
        assert_eq!(m.at("swarm_node_requests_total", &l), n, "{cmd}");
        let count = m.at("swarm_node_request_duration_seconds_count", &l);
        assert_eq!(count, n, "{cmd} histogram");
        let inf = [("command", cmd), ("le", "+Inf")];
        assert_eq!(
            m.at("swarm_node_request_duration_seconds_bucket", &inf),
            n,
            "{cmd} +Inf bucket"
        );
    }
}

/// The node kind's own handled-request counters (`<prefix>_requests_handled_total`) against
/// the sum of stats.log's `request/<cmd>/handled`, both `n` for each command of `handled`.
pub fn assert_handled(
    m: &Scrape,
    lines: &[BTreeMap<String, String>],
    prefix: &str,
    handled: &[(&str, f64)],
) {
    let name = format!("{prefix}_requests_handled_total");
    for &(cmd, n) in handled {
        assert_eq!(m.at(&name, &[("command", cmd)]), n, "{name} {cmd}");
        let key = format!("request/{cmd}/handled");
        assert_eq!(stats_sum(lines, &key), n, "{key}");
    }
}
