//! `etc/grafana/swarmnodes.json` against what the programs export: the dashboard is parsed as
//! JSON, every metric name in its panels' `expr`s is extracted (functions, keywords, label
//! matchers, `by (...)` lists and range selectors skipped; `_bucket`, `_sum`, `_count` taken
//! as series of a histogram family), and each must be exported by a scrape of the program its
//! prefix names (`swarm_node_`: every node kind). All four programs are started here and
//! scraped; a panel naming a metric nobody exports fails the test. (It lives with dhtdump, the
//! crate whose tests already start programs of other packages.)

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::BTreeMap;
use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode};
use swarm_testkit::metrics::*;
use swarm_testkit::queue::{QueueConn, QueueNode};

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../etc/grafana/swarmnodes.json"
);

/// A JSON value, as far as this test needs one.
#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(BTreeMap<String, Json>),
}

/// A strict little JSON parser: the whole text must be one value.
struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing bytes at {}", p.i);
        v
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && b" \t\r\n".contains(&self.s[self.i]) {
            self.i += 1;
        }
    }

    fn eat(&mut self, b: u8) {
        self.ws();
        assert_eq!(
            self.s.get(self.i),
            Some(&b),
            "expected {:?} at {}",
            b as char,
            self.i
        );
        self.i += 1;
    }

    fn value(&mut self) -> Json {
        self.ws();
        match self.s[self.i] {
            b'{' => {
                self.i += 1;
                let mut m = BTreeMap::new();
                self.ws();
                if self.s[self.i] == b'}' {
                    self.i += 1;
                    return Json::Obj(m);
                }
                loop {
                    self.ws();
                    let Json::Str(k) = self.value() else {
                        panic!("object key at {} is no string", self.i)
                    };
                    self.eat(b':');
                    let v = self.value();
                    assert!(m.insert(k.clone(), v).is_none(), "duplicate key {k}");
                    self.ws();
                    self.i += 1;
                    match self.s[self.i - 1] {
                        b',' => continue,
                        b'}' => return Json::Obj(m),
                        c => panic!("unexpected {:?} at {}", c as char, self.i),
                    }
                }
            }
            b'[' => {
                self.i += 1;
                let mut a = Vec::new();
                self.ws();
                if self.s[self.i] == b']' {
                    self.i += 1;
                    return Json::Arr(a);
                }
                loop {
                    a.push(self.value());
                    self.ws();
                    self.i += 1;
                    match self.s[self.i - 1] {
                        b',' => continue,
                        b']' => return Json::Arr(a),
                        c => panic!("unexpected {:?} at {}", c as char, self.i),
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                Json::Num(
                    text.parse()
                        .unwrap_or_else(|_| panic!("bad number at {start}")),
                )
            }
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Json {
        assert!(
            self.s[self.i..].starts_with(w.as_bytes()),
            "bad literal at {}",
            self.i
        );
        self.i += w.len();
        v
    }

    fn string(&mut self) -> String {
        self.i += 1;
        let mut out = String::new();
        loop {
            let c = self.s[self.i];
            self.i += 1;
            match c {
                b'"' => return out,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    out.push(match e {
                        b'n' => '\n',
                        b't' => '\t',
                        b'r' => '\r',
                        b'u' => {
                            let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            self.i += 4;
                            char::from_u32(u32::from_str_radix(hex, 16).unwrap()).unwrap()
                        }
                        other => other as char,
                    });
                }
                _ => {
                    // Multi-byte UTF-8 goes through byte by byte.
                    let start = self.i - 1;
                    let len = match c {
                        0xc0..=0xdf => 2,
                        0xe0..=0xef => 3,
                        0xf0..=0xf7 => 4,
                        _ => 1,
                    };
                    self.i = start + len;
                    out.push_str(std::str::from_utf8(&self.s[start..self.i]).unwrap());
                }
            }
        }
    }
}

/// Every `expr` of every panel (rows' nested panels included).
fn exprs(dashboard: &Json) -> Vec<String> {
    fn panels(v: &Json, out: &mut Vec<String>) {
        let Json::Arr(list) = v else { return };
        for p in list {
            let Json::Obj(p) = p else { continue };
            if let Some(Json::Arr(targets)) = p.get("targets") {
                for t in targets {
                    if let Json::Obj(t) = t {
                        if let Some(Json::Str(e)) = t.get("expr") {
                            out.push(e.clone());
                        }
                    }
                }
            }
            if let Some(nested) = p.get("panels") {
                panels(nested, out);
            }
        }
    }
    let Json::Obj(d) = dashboard else {
        panic!("the dashboard is no object")
    };
    let mut out = Vec::new();
    panels(d.get("panels").unwrap(), &mut out);
    out
}

/// The metric names a PromQL expression selects: identifiers outside strings, label matchers
/// and range selectors that are not functions, aggregations, keywords or `by (...)` lists.
fn metric_names(expr: &str) -> Vec<String> {
    // Aggregations may come before their `by (...)` instead of their `(`.
    const KEYWORDS: &[&str] = &[
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const GROUPING: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let b = expr.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    let skip_to = |i: &mut usize, close: u8| {
        while *i < b.len() && b[*i] != close {
            if b[*i] == b'"' {
                *i += 1;
                while *i < b.len() && b[*i] != b'"' {
                    *i += 1 + usize::from(b[*i] == b'\\');
                }
            }
            *i += 1;
        }
    };
    while i < b.len() {
        let c = b[i];
        if c == b'"' || c == b'\'' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1 + usize::from(b[i] == b'\\');
            }
            i += 1;
        } else if c == b'{' {
            skip_to(&mut i, b'}');
            i += 1;
        } else if c == b'[' {
            skip_to(&mut i, b']');
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let mut j = i;
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let called = b.get(j) == Some(&b'(');
            if GROUPING.contains(&word) {
                if called {
                    i = j;
                    skip_to(&mut i, b')');
                }
            } else if !called && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.push(word.to_owned());
            }
        } else if c.is_ascii_digit() {
            // Numbers, including 1e-3 and durations: not names.
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Whether `scrape` exports `name`: a family, or a `_bucket`/`_sum`/`_count` series of a
/// histogram family.
fn exports(scrape: &Scrape, name: &str) -> bool {
    if scrape.types.contains_key(name) {
        return scrape.types[name] != "histogram";
    }
    ["_bucket", "_sum", "_count"].iter().any(|sfx| {
        name.strip_suffix(sfx)
            .is_some_and(|f| scrape.types.get(f).map(String::as_str) == Some("histogram"))
    })
}

#[test]
fn the_extractor_finds_metrics_and_nothing_else() {
    let e = "histogram_quantile(0.99, sum by (instance, command, le) \
             (rate(swarm_node_request_duration_seconds_bucket{instance=~\"$instance\"}[5m])))";
    assert_eq!(
        metric_names(e),
        ["swarm_node_request_duration_seconds_bucket"]
    );
    let e = "time() - a_b{x=\"y}z\"} and a_b > 0 or on(instance) c offset 1h";
    assert_eq!(metric_names(e), ["a_b", "a_b", "c"]);
    let mut s = Scrape::default();
    s.types.insert("h".into(), "histogram".into());
    s.types.insert("g".into(), "gauge".into());
    assert!(exports(&s, "h_bucket") && exports(&s, "h_count") && exports(&s, "g"));
    assert!(!exports(&s, "h") && !exports(&s, "g_count") && !exports(&s, "nope"));
}

#[test]
fn every_dashboard_metric_is_exported_by_its_program() {
    std::env::set_var(swarm_core::config::STATS_INTERVAL_ENV, "200");
    let metrics = [("Stats", "http_port", "0")];
    let mut dht = node();
    dht.set("Stats", "http_port", "0");
    dht.start();
    DhtConn::put(&mut dht.connect(), b"ch", 1, b"v");
    let queue_bin = node_bin("swarm-queue", "queuenode", "QUEUENODE_BIN");
    let mut queue = QueueNode::new(queue_bin, &metrics);
    queue.start();
    queue.connect().push(b"q", b"v");
    let logfiles_bin = node_bin("swarm-logfiles", "logfilesnode", "LOGFILESNODE_BIN");
    let mut logfiles = LogfilesNode::new(logfiles_bin, &metrics);
    logfiles.start();
    LogfilesConn::put(&mut logfiles.connect(), b"l", 0x10, b"v");
    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(
        dht.port(),
        &out.path().join("data"),
        "period_s = 1\nmin_wait_s = 0\n[Stats]\nhttp_port = 0\n",
    );
    let mut child = dump.spawn(&[]);
    let scrapes = [
        ("dht", Scrape::get(metrics_addr(&dht.root_log_path()))),
        ("queue", Scrape::get(metrics_addr(&queue.root_log_path()))),
        (
            "logfiles",
            Scrape::get(metrics_addr(&logfiles.root_log_path())),
        ),
        (
            "dhtdump",
            Scrape::get(metrics_addr(&dump.dir.path().join("log/root.log"))),
        ),
    ];
    let _ = child.kill();
    let _ = child.wait();

    let dashboard = Parser::parse(&std::fs::read_to_string(DASHBOARD).unwrap());
    let exprs = exprs(&dashboard);
    assert!(exprs.len() >= 20, "{exprs:?}");
    let mut checked = 0;
    for expr in &exprs {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "no metric in {expr}");
        for name in names {
            let programs: Vec<&str> = match name.split('_').nth(1) {
                Some("node") => vec!["dht", "queue", "logfiles"],
                Some(p @ ("dht" | "queue" | "logfiles" | "dhtdump")) => vec![p],
                _ => panic!("{name} (in {expr}) has no program's prefix"),
            };
            for program in programs {
                let (_, scrape) = scrapes.iter().find(|(p, _)| *p == program).unwrap();
                assert!(
                    exports(scrape, &name),
                    "{name} (in {expr}) is not exported by {program}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 30, "{checked}");
    // The templating has the data source and instance variables the panels use.
    let text = std::fs::read_to_string(DASHBOARD).unwrap();
    assert!(text.contains("\"${DS_PROMETHEUS}\"") && text.contains("\"name\": \"instance\""));
}
