//! `dlsredist` against real `logfilesnode` binaries on 127.0.0.1: the dry run prints what each
//! node will be asked and changes nothing, the refusals before anything is sent, and
//! `--execute` with fraction 1 moving every record of two sources onto a destination.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{logfilesnode_bin, nodes_file, run};
use std::net::SocketAddr;
use std::time::Duration;
use swarm_client::{ClientConfig, LogfilesClient};
use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};

const BIN: &str = env!("CARGO_BIN_EXE_dlsredist");
const CHANNEL: &str = "clicks";

fn node() -> LogfilesNode {
    let mut n = LogfilesNode::new(logfilesnode_bin(), &[]).with_sticky_port();
    n.start();
    n
}

/// Two source nodes holding `n` records each (keys an hour apart: several bucket files) and
/// an empty destination.
fn cluster(n: u64) -> (Vec<LogfilesNode>, LogfilesNode, Vec<Record>) {
    let sources = vec![node(), node()];
    let dest = node();
    let mut all = Vec::new();
    for (i, s) in sources.iter().enumerate() {
        let recs: Vec<Record> = (0..n)
            .map(|k| {
                let key = 1_700_000_000 + k * 3_600 + i as u64;
                (key, format!("src{i} record {k}").into_bytes())
            })
            .collect();
        s.connect().put_all(CHANNEL.as_bytes(), &recs);
        all.extend(recs);
    }
    all.sort();
    (sources, dest, all)
}

/// Each node's (records, bytes) from GetSize.
fn sizes(nodes: &[&LogfilesNode]) -> Vec<(u64, u64)> {
    nodes.iter().map(|n| n.connect().size()).collect()
}

fn path(p: &std::path::Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn the_dry_run_prints_what_is_asked_and_sends_nothing() {
    let (sources, dest, recs) = cluster(50);
    let dir = tempfile::tempdir().unwrap();
    let src = nodes_file(dir.path(), "src", &[sources[0].addr(), sources[1].addr()]);
    let dst = nodes_file(dir.path(), "dst", &[dest.addr()]);
    let all = [&sources[0], &sources[1], &dest];
    let before = sizes(&all);
    assert_eq!(before[0].0 + before[1].0, recs.len() as u64);
    let r = run(BIN, &["-S", path(&src), "-D", path(&dst), "-f", "0.5"]);
    assert_eq!(r.code, 0);
    for s in &sources {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with(&s.addr().to_string()))
            .unwrap();
        assert!(line.contains("source"), "{line}");
        assert!(line.contains(" 50 "), "{line}");
        assert!(
            line.contains("Redistribute fraction 0.5 to 1 node(s)"),
            "{line}"
        );
    }
    assert!(r.stdout.contains("destination"), "{}", r.stdout);
    assert!(
        r.stdout.contains("dry run: nothing was sent"),
        "{}",
        r.stdout
    );
    assert_eq!(sizes(&all), before);
    assert_eq!(dest.connect().get_all(CHANNEL.as_bytes()), []);
}

#[test]
fn refusals_send_nothing() {
    let (sources, dest, _) = cluster(5);
    let dir = tempfile::tempdir().unwrap();
    let src = nodes_file(dir.path(), "src", &[sources[0].addr()]);
    let same = nodes_file(dir.path(), "same", &[sources[0].addr()]);
    let all = [&sources[0], &sources[1], &dest];
    let before = sizes(&all);
    let r = run(BIN, &["-S", path(&src), "-D", path(&same), "-f", "1", "-x"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(&sources[0].addr().to_string()),
        "{}",
        r.stderr
    );
    let r = run(BIN, &["-S", path(&src), "-D", path(&same), "-f", "0"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("(0, 1]"), "{}", r.stderr);
    let gone: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let down = nodes_file(dir.path(), "down", &[gone]);
    let r = run(BIN, &["-S", path(&src), "-D", path(&down), "-f", "1", "-x"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("127.0.0.1:1"), "{}", r.stderr);
    assert_eq!(sizes(&all), before);
}

#[test]
fn execute_with_fraction_one_moves_every_record_to_the_destination() {
    let (sources, dest, recs) = cluster(200);
    let dir = tempfile::tempdir().unwrap();
    let src = nodes_file(dir.path(), "src", &[sources[0].addr(), sources[1].addr()]);
    let dst = nodes_file(dir.path(), "dst", &[dest.addr()]);
    let r = run(
        BIN,
        &[
            "-S",
            path(&src),
            "-D",
            path(&dst),
            "-f",
            "1",
            "--execute",
            "--progress",
            "0.2",
        ],
    );
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("every node answered Ok"), "{}", r.stdout);
    let all = [&sources[0], &sources[1], &dest];
    let after = sizes(&all);
    assert_eq!((after[0].0, after[1].0), (0, 0), "{after:?}");
    let mut moved = dest.connect().get_all(CHANNEL.as_bytes());
    moved.sort();
    assert_eq!(moved, recs);
    // And through the client over all three nodes.
    let addrs = [sources[0].addr(), sources[1].addr(), dest.addr()];
    let config = ClientConfig::default().with_io_timeout(Some(Duration::from_secs(30)));
    let client = LogfilesClient::new(&addrs, config).unwrap();
    let mut read: Vec<Record> = client
        .get_all(CHANNEL)
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    read.sort();
    assert_eq!(read, recs);
}
