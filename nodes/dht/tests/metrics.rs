//! `/metrics` and `/health` of a real dhtnode: after known traffic the figures equal what the
//! size requests say and what stats.log wrote, the request counters and histogram counts equal
//! the requests sent, and a garbage or stalled HTTP client does not spoil the next scrape.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};
use swarm_protocol::dht::DhtRequest;
use swarm_protocol::format_key;
use swarm_testkit::metrics::*;

fn node_with_metrics() -> Node {
    // A stats line every 200 ms, so one is written after the traffic within the test.
    std::env::set_var(swarm_core::config::STATS_INTERVAL_ENV, "200");
    start_node(&[("Stats", "http_port", "0")])
}

#[test]
fn figures_match_size_requests_stats_log_and_requests_sent() {
    let node = node_with_metrics();
    let http = metrics_addr(&node.root_log_path());
    let mut c = node.connect();
    for key in 0..5 {
        c.put(b"alpha", key, b"value-of-alpha");
    }
    c.put(b"beta", 9, b"b");
    c.put(b"beta", 10, b"bb");
    for key in [0, 1, 2, 77] {
        let k = format_key(key);
        c.send(&DhtRequest::Get {
            channel: b"alpha",
            key: &k,
        });
        assert_eq!(c.read_n(4), OK);
        c.read_array();
    }
    c.send(&DhtRequest::GetChannelSize { channel: b"alpha" });
    assert_eq!(c.read_n(4), OK);
    let (alpha_records, alpha_bytes) = c.read_size_fields();
    c.send(&DhtRequest::GetSize);
    assert_eq!(c.read_n(4), OK);
    let (records, bytes) = c.read_size_fields();
    c.send(&DhtRequest::GetNumConnections);
    assert_eq!(c.read_n(4), OK);
    c.read_array();
    c.read_n(2);
    let connections = c.read_u64();

    let stats_path = node.dir.path().join("log/stats.log");
    let before = stats_lines(&stats_path).len();
    let lines = wait_stats_lines(&stats_path, before);
    let last = lines.last().unwrap();
    let m = Scrape::get(http);

    assert_eq!((alpha_records, records, connections), (5, 7, 1));
    let alpha = [("channel", "alpha")];
    assert_eq!(
        m.at("swarm_dht_channel_records", &alpha),
        alpha_records as f64
    );
    assert_eq!(m.at("swarm_dht_channel_bytes", &alpha), alpha_bytes as f64);
    assert_eq!(m.at("swarm_dht_records", &[]), records as f64);
    assert_eq!(m.at("swarm_dht_bytes", &[]), bytes as f64);
    assert_eq!(m.at("swarm_node_connections", &[]), connections as f64);
    assert_eq!(last["channel/alpha/records"], alpha_records.to_string());
    assert_eq!(last["total_bytes"], bytes.to_string());
    assert_eq!(last["handling_connections"], connections.to_string());
    assert_loop_figures(
        &m,
        &lines,
        &[
            ("Put", 7.0),
            ("Get", 4.0),
            ("GetChannelSize", 1.0),
            ("GetSize", 1.0),
            ("GetNumConnections", 1.0),
            ("Remove", 0.0),
        ],
    );
    assert!(m.at("swarm_node_bytes_received_total", &[]) > 0.0);
    assert!(m.at("swarm_node_rss_bytes", &[]) > 0.0);
    assert_handled(&m, &lines, "swarm_dht", &[("Put", 7.0), ("Get", 4.0)]);
    assert_eq!(
        m.at("swarm_dht_action_records_total", &[("action", "written")]),
        7.0
    );
    assert_eq!(m.types["swarm_node_request_duration_seconds"], "histogram");
}

#[test]
fn health_and_hostile_http_clients() {
    let node = node_with_metrics();
    let http = metrics_addr(&node.root_log_path());
    let log = node.root_log();
    assert!(!log.contains("unknown key"), "the keys are known: {log}");
    assert_eq!(http_get(http, "/health"), (200, "ok\n".to_owned()));
    assert_eq!(http_get(http, "/nothing").0, 404);
    let garbage = http_raw(http, b"\x00\xffnot http at all\r\n\r\n");
    assert!(garbage.starts_with("HTTP/1.1 400 "), "{garbage}");
    let mut stalled = TcpStream::connect(http).unwrap();
    stalled.write_all(b"GET /met").unwrap();
    let started = Instant::now();
    let m = Scrape::get(http);
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(m.at("swarm_node_connections", &[]), 0.0);
    // The node itself served on meanwhile.
    let mut c = node.connect();
    c.put(b"x", 1, b"y");
    assert_eq!(
        Scrape::get(http).at("swarm_node_requests_total", &[("command", "Put")]),
        1.0
    );
}

#[test]
fn a_taken_metrics_port_is_a_start_up_error_naming_it() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let mut node = Node::new(
        env!("CARGO_BIN_EXE_dhtnode"),
        &[("STATS", "http_port", &port)],
    );
    let err = node.try_start().unwrap_err();
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("[STATS] http_port"),
        "{err}"
    );
}

#[test]
fn without_http_port_nothing_is_served() {
    let node = start_node(&[]);
    assert!(!node.root_log().contains("metrics: serving"));
}
