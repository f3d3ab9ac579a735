//! dhtdump in its periodic mode (small periods) against the real dhtnode: a removed channel is
//! detected and its file left alone; a node restart fails a cycle, which is retried after
//! `retry_wait_s`, and the next cycle dumps the restarted node; SIGHUP reopens the logs;
//! SIGTERM ends the process promptly with exit code 0 and a last stats line.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

const LONG: Duration = Duration::from_secs(30);

/// Polls `f` until it holds or `LONG` passes.
fn eventually(what: &str, dump: &Dump, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + LONG;
    while !f() {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}; root.log:\n{}",
            dump.root_log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn count(dump: &Dump, needle: &str) -> usize {
    dump.root_log().matches(needle).count()
}

#[test]
fn periodic_mode_survives_a_node_restart_and_stops_on_sigterm() {
    let mut node = node();
    node.start();
    let keep = records(100, 7, 300);
    node.connect().put_all(b"keep", &keep);
    node.connect().put_all(b"gone", &records(10, 8, 300));

    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(
        node.port(),
        &out.path().join("data"),
        "period_s = 2\nmin_wait_s = 1\nretry_wait_s = 1\n",
    );
    let mut child = dump.spawn(&[]);
    eventually("the first cycle", &dump, || {
        count(&dump, "Finished dumping channels") >= 1
    });
    let log = dump.root_log();
    assert!(log.contains("Performing initial dump in "), "{log}");
    assert!(log.contains("(next cycle scheduled at "), "{log}");
    assert_eq!(names(&dump.data), ["gone.tcm", "keep.tcm"]);

    // RemoveChannel on the node: logged, the file stays.
    node.connect().remove_channel(b"gone");
    eventually("the removed channel", &dump, || {
        count(&dump, "Detected removed channel 'gone'") == 1
    });
    assert!(dump.data.join("gone.tcm").exists());

    // The node goes away: a cycle fails and is retried after retry_wait_s.
    node.stop();
    eventually("a failed cycle", &dump, || {
        count(&dump, "Dump not completed successfully") >= 1
    });
    assert!(dump.root_log().contains("Retrying in 1s"));
    node.start();
    node.connect().put(b"keep", 7, b"after the restart");
    eventually("a dump of the restarted node", &dump, || {
        read_tcm(&dump.data.join("keep.tcm"))
            .map(|r| r.get(&7).map(Vec::as_slice) == Some(&b"after the restart"[..]))
            .unwrap_or(false)
    });
    assert!(read_tcm(&dump.data.join("keep.tcm.backup")).is_ok());

    // logrotate: move root.log away, SIGHUP, and the next lines go to a new root.log.
    let log_dir = dump.dir.path().join("log");
    std::fs::rename(log_dir.join("root.log"), log_dir.join("root.log.1")).unwrap();
    signal(&child, "HUP");
    eventually("the reopened root.log", &dump, || {
        dump.root_log().contains("SIGHUP: log files reopened")
    });

    let stopping = Instant::now();
    signal(&child, "TERM");
    let status = wait_exit(&mut child, stopping + Duration::from_secs(5));
    assert!(status.success(), "{status}");
    assert!(dump.root_log().contains("Exiting with return code 0"));
    assert!(names(&dump.data).iter().all(|n| !n.ends_with(".dumping")));
    let stats = dump.stats_log();
    let last = stats.lines().last().unwrap_or_default();
    assert!(
        last.contains(" channel/keep/records_written:101 "),
        "{stats}"
    );
    assert!(!last.contains("channel/gone/"), "{stats}");
}
