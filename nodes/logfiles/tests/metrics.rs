//! `/metrics` of a real logfilesnode: after puts and reads the figures equal GetChannelSize,
//! GetSize and the stats.log line written after the traffic, and the request counters and
//! histogram counts equal the requests sent (a GetAll is observed when its stream ends).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use swarm_testkit::metrics::*;

#[test]
fn figures_match_sizes_stats_log_and_requests_sent() {
    std::env::set_var(swarm_core::config::STATS_INTERVAL_ENV, "200");
    let node = start(&[("Stats", "http_port", "0")]);
    let http = metrics_addr(&node.root_log_path());
    let mut c = node.connect();
    for key in 0..5u64 {
        c.put(b"logs", 0x1000 + key, b"a log line");
    }
    c.put(b"other", 0x2000, b"x");
    assert_eq!(c.get_all(b"logs").len(), 5);
    let logs = c.channel_size(b"logs");
    let total = c.size();

    let stats_path = node.dir.path().join("log/stats.log");
    let before = stats_lines(&stats_path).len();
    let lines = wait_stats_lines(&stats_path, before);
    let last = lines.last().unwrap();
    let m = Scrape::get(http);

    assert_eq!((logs.0, total.0), (5, 6));
    let l = [("channel", "logs")];
    assert_eq!(m.at("swarm_logfiles_channel_records", &l), logs.0 as f64);
    assert_eq!(m.at("swarm_logfiles_channel_bytes", &l), logs.1 as f64);
    assert_eq!(m.at("swarm_logfiles_records", &[]), total.0 as f64);
    assert_eq!(m.at("swarm_logfiles_bytes", &[]), total.1 as f64);
    assert_eq!(last["total_records"], total.0.to_string());
    assert_eq!(last["total_bytes"], total.1.to_string());
    assert_loop_figures(
        &m,
        &lines,
        &[
            ("Put", 6.0),
            ("GetAll", 1.0),
            ("GetChannelSize", 1.0),
            ("GetSize", 1.0),
        ],
    );
    assert_handled(
        &m,
        &lines,
        "swarm_logfiles",
        &[("Put", 6.0), ("GetAll", 1.0)],
    );
    let timed: f64 = m
        .series
        .iter()
        .filter(|(k, _)| k.starts_with("swarm_logfiles_put_timing_total{"))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(timed, 6.0);
    let handled = [("action", "handled")];
    assert_eq!(
        m.at("swarm_logfiles_action_records_total", &handled),
        stats_sum(&lines, "action/handled/records")
    );
    assert_eq!(http_get(http, "/health"), (200, "ok\n".to_owned()));
}
