//! dhtdump's `/metrics` and `/health` against the real dhtnode: after dump cycles its figures
//! equal its stats.log lines; a failed cycle turns `/health` to 503 with the reason.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};
use swarm_testkit::metrics::*;

fn eventually(what: &str, dump: &Dump, f: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(
            Instant::now() < deadline,
            "no {what}; root.log:\n{}",
            dump.root_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn figures_match_stats_log_and_a_failed_cycle_fails_health() {
    let mut node = node();
    node.start();
    node.connect().put_all(b"alpha", &records(30, 1, 100));
    node.connect().put_all(b"beta", &records(5, 2, 100));
    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(
        node.port(),
        &out.path().join("data"),
        "period_s = 1\nmin_wait_s = 0\nretry_wait_s = 1\n[Stats]\nhttp_port = 0\n",
    );
    std::env::set_var(swarm_core::config::STATS_INTERVAL_ENV, "200");
    let mut child = dump.spawn(&[]);
    let http = metrics_addr(&dump.dir.path().join("log/root.log"));
    assert_eq!(http_get(http, "/health"), (200, "ok\n".to_owned()));
    eventually("dump cycle", &dump, || {
        dump.root_log().contains("Finished dumping channels")
    });

    // The node goes away: the cycles fail from now on and nothing more is written.
    node.stop();
    eventually("failed cycle", &dump, || {
        dump.root_log().contains("Dump not completed successfully")
    });
    let stats_path = dump.dir.path().join("log/stats.log");
    let before = stats_lines(&stats_path).len();
    let lines = wait_stats_lines(&stats_path, before);
    let last = lines.last().unwrap();
    let m = Scrape::get(http);

    let written = m.at("swarm_dhtdump_records_written_total", &[]);
    assert_eq!(written, stats_sum(&lines, "records_written"));
    assert!(written >= 35.0 && written % 35.0 == 0.0, "{written}");
    let bytes = m.at("swarm_dhtdump_bytes_written_total", &[]);
    assert_eq!(bytes, stats_sum(&lines, "bytes_written"));
    for ch in ["alpha", "beta"] {
        let l = [("channel", ch)];
        let records = m.at("swarm_dhtdump_channel_records_written", &l);
        assert_eq!(
            records.to_string(),
            last[&format!("channel/{ch}/records_written")]
        );
        let b = m.at("swarm_dhtdump_channel_bytes_written", &l);
        assert_eq!(b.to_string(), last[&format!("channel/{ch}/bytes_written")]);
    }
    assert_eq!(
        m.at(
            "swarm_dhtdump_channel_records_written",
            &[("channel", "alpha")]
        ),
        30.0
    );
    let ms: f64 = last["last_time_ms"].parse().unwrap();
    assert_eq!(
        m.at("swarm_dhtdump_last_cycle_duration_seconds", &[]),
        ms / 1000.0
    );
    assert!(m.at("swarm_dhtdump_cycle_failures_total", &[]) >= 1.0);
    assert!(m.at("swarm_dhtdump_cycles_total", &[]) >= 2.0);
    assert_eq!(m.at("swarm_dhtdump_last_cycle_failed", &[]), 1.0);
    let (status, body) = http_get(http, "/health");
    assert_eq!(status, 503, "{body}");
    assert!(
        body.contains("the last dump cycle failed: GetChannels failed"),
        "{body}"
    );

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Instant::now() + Duration::from_secs(5));
    assert!(status.success(), "{status}");
}
