//! `scripts/soak.sh` end to end, bounded for CI: an 8-second soak at low rates (samples every
//! 2 s) on a local cluster of every node kind built from this workspace's test binaries, then
//! the CSV (a row per process per sample, with RSS, fds and the driver's columns) and the
//! summary checked for sanity. The summary's verdict logic is checked apart, on made-up CSVs:
//! a short run cannot tell a leak from warm-up, so the end-to-end run gets a wide RSS margin
//! and asserts only that nothing failed or died.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use swarm_testkit::node_bin;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory with every program soak.sh runs, linked from where the tests built them.
fn bin_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let bins = [
        ("dhtnode", node_bin("swarm-dht", "dhtnode", "DHTNODE_BIN")),
        (
            "queuenode",
            node_bin("swarm-queue", "queuenode", "QUEUENODE_BIN"),
        ),
        (
            "logfilesnode",
            node_bin("swarm-logfiles", "logfilesnode", "LOGFILESNODE_BIN"),
        ),
        (
            "dhtdump",
            node_bin("swarm-dhtdump", "dhtdump", "DHTDUMP_BIN"),
        ),
        ("swarm", node_bin("swarm-cli", "swarm", "SWARM_BIN")),
        (
            "swarm-soak",
            PathBuf::from(env!("CARGO_BIN_EXE_swarm-soak")),
        ),
    ];
    for (name, path) in bins {
        std::os::unix::fs::symlink(&path, dir.join(name)).unwrap();
    }
    dir
}

fn text(out: &Output) -> String {
    format!(
        "{:?}\n--- stdout\n{}--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const PROCESSES: [&str; 7] = [
    "dht-1",
    "dht-2",
    "dhtdump-1",
    "dhtdump-2",
    "queue-1",
    "logfiles-1",
    "driver",
];

#[test]
fn a_short_soak_writes_a_sane_csv_and_summary_and_stops_its_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = bin_dir(tmp.path());
    let dir = tmp.path().join("soak");
    let out = Command::new(repo().join("scripts/soak.sh"))
        .arg("1")
        .arg(&dir)
        .env("SWARM_BIN_DIR", &bins)
        .env("SOAK_SECONDS", "8")
        .env("SOAK_INTERVAL", "2")
        // Warm-up in an 8 s run is no steady state: only deaths and errors may fail it.
        .env("SOAK_RSS_KIB", "10000000")
        .env("SOAK_FD_SLACK", "1000")
        .env(
            "SOAK_ARGS",
            "--dht-rate 200 --queue-rate 100 --consume-rate 20 --logfiles-rate 100 \
             --keys 500 --getrange-behind 2 --getall-every 3 --listen-every 4 --churn-every 2",
        )
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "soak.sh: {}", text(&out));

    let csv = std::fs::read_to_string(dir.join("soak.csv")).unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (time, process, rss, fds) = (col("time_s"), col("process"), col("rss_kib"), col("fds"));
    let dht_req = col("dht_req");
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    // t=0 and one sample every 2 s up to 8 s, a row per process each.
    let times: Vec<u64> = rows.iter().map(|r| r[time].parse().unwrap()).collect();
    assert_eq!(rows.len(), 5 * PROCESSES.len(), "{csv}");
    assert_eq!(times.iter().max(), Some(&8), "{csv}");
    for row in &rows {
        assert_eq!(row.len(), header.len(), "{row:?}");
        assert!(PROCESSES.contains(&row[process]), "{row:?}");
        assert!(row[rss].parse::<u64>().unwrap() > 0, "{row:?}");
        assert!(row[fds].parse::<u64>().unwrap() > 0, "{row:?}");
    }
    // Load ran at about its rate: 200 dht requests a second, 400 in each 2 s interval.
    let last = rows.iter().rfind(|r| r[process] == "driver").unwrap();
    let dht: u64 = last[dht_req].parse().unwrap();
    assert!(
        (300..=450).contains(&dht),
        "dht requests in the last interval: {dht}"
    );

    let summary = std::fs::read_to_string(dir.join("soak-summary.md")).unwrap();
    for p in PROCESSES {
        assert!(summary.contains(&format!("| {p} |")), "{p} in\n{summary}");
    }
    assert!(summary.contains("**Verdict: steady**"), "{summary}");
    // The cluster was stopped: no process of it is left.
    for d in [
        "dht-1",
        "dht-2",
        "dht-1/dump",
        "dht-2/dump",
        "queue-1",
        "logfiles-1",
    ] {
        assert!(
            !dir.join("cluster").join(d).join("pid").exists(),
            "{d} still runs"
        );
    }
}

/// Runs soak-summary.sh on a CSV of `rows` (time, dht-1's RSS KiB, its fds) and a driver log
/// of two intervals without errors.
fn summary_of(tmp: &Path, rows: &[(u64, &str, u64)]) -> Output {
    let mut csv = String::from("time_s,process,pid,rss_kib,fds,disk_kib,dht_req\n");
    for (t, rss, fds) in rows {
        csv.push_str(&format!("{t},dht-1,1,{rss},{fds},8,10\n"));
    }
    std::fs::write(tmp.join("soak.csv"), csv).unwrap();
    std::fs::write(
        tmp.join("driver.log"),
        "t=0 dht_req=0 dht_err=0\nt=10 dht_req=10 dht_err=0 dht_p50_us=90 dht_p99_us=300\n\
         t=20 dht_req=10 dht_err=0 dht_p50_us=90 dht_p99_us=300\n\
         total dht_req=20 dht_err=0 dht_p50_us=90 dht_p99_us=300 dht_max_us=900\n",
    )
    .unwrap();
    Command::new(repo().join("scripts/soak-summary.sh"))
        .arg(tmp.join("soak.csv"))
        .arg(tmp.join("driver.log"))
        .output()
        .unwrap()
}

#[test]
fn the_summary_calls_growth_after_warm_up_growing_and_warm_up_itself_steady() {
    let tmp = tempfile::tempdir().unwrap();
    // Warm-up is 20 % of 100 s: growth up to t=20 does not count, 5 % + 4096 KiB after does.
    let steady = [
        (0, "1000", 10),
        (20, "50000", 12),
        (60, "52000", 13),
        (100, "56500", 16),
    ];
    let out = summary_of(tmp.path(), &steady);
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        s.contains("| dht-1 | 1000 KiB | 50000 KiB | 56500 KiB | 56500 KiB | +6500 KiB"),
        "{s}"
    );
    assert!(s.contains("**Verdict: steady**"), "{s}");

    let rss = [(0, "1000", 10), (20, "50000", 12), (100, "56700", 12)];
    let out = summary_of(tmp.path(), &rss);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("NOT STEADY: dht-1 GROWING"));

    let fds = [(0, "1000", 10), (20, "50000", 12), (100, "50000", 17)];
    let out = summary_of(tmp.path(), &fds);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // Gone at the end: no RSS in its last row.
    let died = [(0, "1000", 10), (20, "50000", 12), (100, "", 0)];
    let out = summary_of(tmp.path(), &died);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("dht-1 DIED"));
}
