//! `scripts/local-cluster.sh` end to end: start a cluster of every node kind in a temp dir
//! (free ports), write and read through `swarm` for each kind with values that hold newlines
//! and every byte value (through `--file`, stdin and `--base64`), check `status` (and each
//! process's `/metrics`), stop it, and find no process of the cluster left.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod swarm_common;

use base64::Engine as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use swarm_testkit::metrics::Scrape;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A directory with every program the script runs, linked from where the tests built them.
fn bin_dir(tmp: &Path) -> PathBuf {
    let dir = tmp.join("bin");
    std::fs::create_dir_all(&dir).unwrap();
    let bins = [
        ("dhtnode", common::dhtnode_bin().to_path_buf()),
        ("queuenode", common::queuenode_bin().to_path_buf()),
        ("logfilesnode", common::logfilesnode_bin().to_path_buf()),
        (
            "dhtdump",
            common::node_bin("swarm-dhtdump", "dhtdump", "DHTDUMP_BIN"),
        ),
        ("swarm", PathBuf::from(env!("CARGO_BIN_EXE_swarm"))),
    ];
    for (name, path) in bins {
        std::os::unix::fs::symlink(&path, dir.join(name)).unwrap();
    }
    dir
}

/// Runs the script with `args` on the cluster in `dir`.
fn script(bins: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(repo().join("scripts/local-cluster.sh"))
        .args(args)
        .arg(dir)
        .env("SWARM_BIN_DIR", bins)
        .env("LOCAL_CLUSTER_BASE_PORT", "0")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs `swarm` with `args` and `stdin`; panics unless it exits 0.
fn swarm(args: &[&str], stdin: Option<&[u8]>) -> Vec<u8> {
    swarm_common::swarm(args, stdin.unwrap_or_default())
        .ok()
        .stdout
}

/// Panics with the script's output unless it exited 0.
fn assert_ran(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {:?}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of each `KEY:BASE64` line.
fn base64_values(out: &[u8]) -> Vec<(String, Vec<u8>)> {
    String::from_utf8(out.to_vec())
        .unwrap()
        .lines()
        .map(|line| {
            let (key, value) = line.split_once(':').expect("KEY:BASE64");
            let value = base64::engine::general_purpose::STANDARD
                .decode(value)
                .unwrap();
            (key.to_owned(), value)
        })
        .collect()
}

/// Processes whose working directory lies inside `dir`: every program the script starts runs
/// in its own directory there.
fn processes_in(dir: &Path) -> Vec<String> {
    let dir = dir.canonicalize().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        if let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) {
            if cwd.starts_with(&dir) {
                found.push(format!("pid {name} in {}", cwd.display()));
            }
        }
    }
    found
}

/// Stops the cluster if the test fails half-way, so no node outlives it.
struct Cluster<'a> {
    bins: &'a Path,
    dir: &'a Path,
}

impl Drop for Cluster<'_> {
    fn drop(&mut self) {
        if !processes_in(self.dir).is_empty() {
            let _ = script(self.bins, &["stop"], self.dir);
        }
    }
}

#[test]
fn local_cluster_start_use_status_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let bins = bin_dir(tmp.path());
    let dir = tmp.path().join("cluster");
    let _guard = Cluster {
        bins: &bins,
        dir: &dir,
    };

    assert_ran(&script(&bins, &["start"], &dir), "start");
    let lines = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .count()
    };
    assert_eq!(
        (
            lines("dht.nodes"),
            lines("queue.nodes"),
            lines("logfiles.nodes")
        ),
        (2, 1, 1)
    );
    let nodes = |kind: &str| dir.join(format!("{kind}.nodes")).display().to_string();
    let (dht, queue, logs) = (nodes("dht"), nodes("queue"), nodes("logfiles"));

    // Values a line-based tool would break: newlines, CR, NUL, every byte value.
    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(b"\nsecond line\r\n\0");
    let text = b"first\nsecond\n\nfourth\r\n".to_vec();
    let file = tmp.path().join("value.bin");
    std::fs::write(&file, &binary).unwrap();
    let file = file.display().to_string();

    // dht: 20 keys spread over both nodes' ranges, half through --file, half through stdin.
    let keys: Vec<String> = (0..20u64)
        .map(|i| format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15)))
        .collect();
    for (i, key) in keys.iter().enumerate() {
        if i % 2 == 0 {
            swarm(
                &["--nodes", &dht, "dht", "put", "test", key, "--file", &file],
                None,
            );
        } else {
            swarm(&["--nodes", &dht, "dht", "put", "test", key], Some(&text));
        }
    }
    for (i, key) in keys.iter().enumerate() {
        let want = if i % 2 == 0 { &binary } else { &text };
        let raw = swarm(&["--nodes", &dht, "dht", "get", "test", key], None);
        assert_eq!(&raw, want, "raw get of {key}");
        let b64 = swarm(
            &["--nodes", &dht, "--base64", "dht", "get", "test", key],
            None,
        );
        assert_eq!(base64_values(&b64), vec![(key.clone(), want.clone())]);
    }
    let mut all = base64_values(&swarm(
        &["--nodes", &dht, "--base64", "dht", "getall", "test"],
        None,
    ));
    all.sort();
    let mut want: Vec<(String, Vec<u8>)> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| (k.clone(), if i % 2 == 0 { &binary } else { &text }.clone()))
        .collect();
    want.sort();
    assert_eq!(all, want, "dht getall --base64");

    // queue: pushed through stdin and --file, popped in order as base64 and raw.
    swarm(&["--nodes", &queue, "queue", "push", "jobs"], Some(&text));
    swarm(
        &["--nodes", &queue, "queue", "push", "jobs", "--file", &file],
        None,
    );
    swarm(
        &["--nodes", &queue, "queue", "push", "jobs", "--file", &file],
        None,
    );
    let popped = swarm(
        &["--nodes", &queue, "--base64", "queue", "pop", "jobs"],
        None,
    );
    let popped = base64::engine::general_purpose::STANDARD
        .decode(String::from_utf8(popped).unwrap().trim())
        .unwrap();
    assert_eq!(popped, text, "queue pop --base64");
    let raw = swarm(&["--nodes", &queue, "queue", "pop", "jobs"], None);
    assert_eq!(raw, binary, "queue pop (raw)");

    // logfiles: keys are timestamps; one value from --file, one from stdin.
    swarm(
        &[
            "--nodes",
            &logs,
            "--decimal",
            "logs",
            "put",
            "clicks",
            "1700000000",
            "--file",
            &file,
        ],
        None,
    );
    swarm(
        &[
            "--nodes",
            &logs,
            "--decimal",
            "logs",
            "put",
            "clicks",
            "1700000001",
        ],
        Some(&text),
    );
    let range = swarm(
        &[
            "--nodes",
            &logs,
            "--decimal",
            "--base64",
            "logs",
            "range",
            "clicks",
            "1700000000",
            "1700000001",
        ],
        None,
    );
    assert_eq!(
        base64_values(&range),
        vec![
            ("1700000000".to_owned(), binary.clone()),
            ("1700000001".to_owned(), text.clone()),
        ],
        "logs range --base64"
    );

    // status: every process runs; records as stored (20 dht, 1 queue record left, 2 logs).
    let out = script(&bins, &["status"], &dir);
    let status = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "status: {status}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Vec<&str>> = status
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows.len(), 6, "{status}");
    let records = |prefix: &str| -> u64 {
        rows.iter()
            .filter(|r| r[0].starts_with(prefix))
            .map(|r| {
                r[4].parse::<u64>()
                    .unwrap_or_else(|_| panic!("records in {r:?}"))
            })
            .sum()
    };
    assert_eq!(records("dht-"), 20, "{status}");
    assert_eq!(records("queue-"), 1, "{status}");
    assert_eq!(records("logfiles-"), 2, "{status}");
    for row in &rows {
        assert!(row[2].parse::<u32>().is_ok(), "pid in {row:?}");
        assert_eq!(row[row.len() - 2], "MiB", "memory in {row:?}");
        // The last column is where the process serves /metrics; a node's records there are
        // the ones status counted through the protocol.
        let addr = row.last().unwrap().parse().expect("metrics address");
        let scrape = Scrape::get(addr);
        let family = match row[1] {
            "dhtnode" => "swarm_dht_records",
            "queuenode" => "swarm_queue_records",
            "logfilesnode" => "swarm_logfiles_records",
            _ => {
                assert!(!scrape.names().is_empty(), "dhtdump's /metrics: {row:?}");
                continue;
            }
        };
        assert_eq!(
            scrape.at(family, &[]),
            row[4].parse::<f64>().unwrap(),
            "{row:?}"
        );
    }

    assert_ran(&script(&bins, &["stop"], &dir), "stop");
    assert_eq!(
        processes_in(&dir),
        Vec::<String>::new(),
        "processes left after stop"
    );
    // The dht nodes dumped their channel on the way out; the queue node its remaining record.
    assert!(dir.join("dht-1/data/test.tcm").exists() || dir.join("dht-2/data/test.tcm").exists());
    let out = script(&bins, &["status"], &dir);
    assert_eq!(out.status.code(), Some(1), "status of a stopped cluster");
}
