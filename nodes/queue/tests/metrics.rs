//! `/metrics` of a real queuenode: after pushes and pops the figures equal GetChannelSize and
//! the stats.log line written after the traffic, and the request counters and histogram counts
//! equal the requests sent.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use swarm_testkit::metrics::*;

#[test]
fn figures_match_channel_sizes_stats_log_and_requests_sent() {
    std::env::set_var(swarm_core::config::STATS_INTERVAL_ENV, "200");
    let node = start(&[("Stats", "http_port", "0")]);
    let http = metrics_addr(&node.root_log_path());
    let mut c = node.connect();
    for i in 0..6u8 {
        c.push(b"q1", &[b'v', i, i, i]);
    }
    c.push(b"q2", b"x");
    c.push(b"q2", b"yy");
    assert!(c.pop(b"q1").is_some());
    assert!(c.pop(b"q1").is_some());
    let q1 = c.channel_size(b"q1");
    let q2 = c.channel_size(b"q2");

    let stats_path = node.dir.path().join("log/stats.log");
    let before = stats_lines(&stats_path).len();
    let lines = wait_stats_lines(&stats_path, before);
    let last = lines.last().unwrap();
    let m = Scrape::get(http);

    assert_eq!((q1.0, q2.0), (4, 2));
    for (name, (records, bytes)) in [("q1", q1), ("q2", q2)] {
        let l = [("channel", name)];
        assert_eq!(m.at("swarm_queue_channel_records", &l), records as f64);
        assert_eq!(
            m.at("swarm_queue_channel_bytes", &l),
            bytes as f64,
            "{name}"
        );
        assert_eq!(
            last[&format!("channel/{name}/records")],
            records.to_string()
        );
        let pct = &last[&format!("channel/{name}/percent_memory")];
        assert_eq!(
            m.at("swarm_queue_channel_fullness_percent", &l).to_string(),
            *pct
        );
        assert_eq!(m.at("swarm_queue_channel_capacity_bytes", &l), 1048576.0);
    }
    assert_eq!(m.at("swarm_queue_records", &[]), 6.0);
    assert_eq!(last["total_records"], "6");
    assert_eq!(
        m.at("swarm_queue_bytes", &[]).to_string(),
        last["total_bytes"]
    );
    assert_eq!(
        m.at("swarm_node_connections", &[]).to_string(),
        last["handling_connections"]
    );
    assert_loop_figures(
        &m,
        &lines,
        &[
            ("Push", 8.0),
            ("Pop", 2.0),
            ("GetChannelSize", 2.0),
            ("Consume", 0.0),
        ],
    );
    assert_handled(&m, &lines, "swarm_queue", &[("Push", 8.0), ("Pop", 2.0)]);
    let pushed = [("action", "pushed")];
    assert_eq!(m.at("swarm_queue_action_records_total", &pushed), 8.0);
    assert_eq!(
        stats_sum(&lines, "action/pushed/bytes"),
        m.at("swarm_queue_action_bytes_total", &pushed)
    );
    assert_eq!(http_get(http, "/health"), (200, "ok\n".to_owned()));
    assert!(http_raw(http, b"BREW /metrics HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 405 "));
}
