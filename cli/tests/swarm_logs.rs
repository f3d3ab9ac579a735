//! `swarm logs` against a real `logfilesnode` on 127.0.0.1: put binary-safe values through
//! `--file` and stdin with decimal and hex keys, read them back with getall and range in
//! every format, `--filter` and `--regex` (with `--ignore-case`), per-node sizes, and the
//! refusal of a value over the 65504-byte limit naming it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod swarm_common;

use common::logfilesnode_bin;
use swarm_common::{file, hex, json_value, swarm, tricky_values};
use swarm_testkit::logfiles::LogfilesNode;

fn node() -> (LogfilesNode, String) {
    let mut n = LogfilesNode::new(logfilesnode_bin(), &[]);
    n.start();
    let addr = n.addr().to_string();
    (n, addr)
}

#[test]
fn values_round_trip_and_reads_filter() {
    let (_n, addr) = node();
    let dir = tempfile::tempdir().unwrap();
    let l = |args: &[&str], stdin: &[u8]| {
        let mut all = vec!["--node", addr.as_str(), "logs"];
        all.extend_from_slice(args);
        swarm(&all, stdin)
    };
    let base = 1_700_000_000u64;
    for (i, v) in tricky_values().iter().enumerate() {
        let key = (base + i as u64).to_string();
        let path = file(dir.path(), "v", v);
        l(&["--decimal", "put", "ch", &key, "--file", &path], b"").ok();
        l(&["put", "in", &format!("{:016x}", base + i as u64)], v).ok();
    }
    let n = tricky_values().len();
    for ch in ["ch", "in"] {
        let all = l(&["--hex", "getall", ch], b"").ok();
        let mut got = all.lines();
        got.sort();
        let want: Vec<String> = tricky_values()
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:016x}:{}", base + i as u64, hex(v)))
            .collect();
        assert_eq!(got, want, "{ch}");
    }
    let json = l(
        &[
            "--json",
            "--decimal",
            "range",
            "ch",
            &base.to_string(),
            &(base + 1).to_string(),
        ],
        b"",
    )
    .ok();
    let lines = json.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let first = lines
        .iter()
        .find(|l| l.contains(&format!("\"key\":\"{base}\"")))
        .unwrap();
    assert_eq!(json_value(first), tricky_values()[0]);
    let text = l(&["getall", "ch"], b"").ok();
    assert_eq!(text.lines().len(), n, "{}", text.text());
    let hit = l(&["getall", "ch", "--filter", "line two"], b"").ok();
    assert_eq!(
        hit.lines(),
        [format!("{:016x}:line one\\nline two\\n", base + 1)]
    );
    let re = l(
        &[
            "range",
            "ch",
            "0x0",
            "0xffffffffffffffff",
            "--regex",
            "N[Uu]L",
        ],
        b"",
    )
    .ok();
    assert!(re.lines().is_empty(), "{:?}", re.lines());
    let re = l(&["getall", "ch", "--regex", "N[Uu]L", "--ignore-case"], b"").ok();
    assert_eq!(re.lines(), [format!("{:016x}:cr\\r\\nnul\\0end", base + 2)]);
    let sizes = l(&["--json", "size"], b"").ok().lines();
    assert_eq!(sizes.len(), 2, "{sizes:?}");
    assert!(sizes[0].starts_with(&format!(r#"{{"node":"{addr}","records":{}"#, 2 * n)));
    assert!(sizes[1].starts_with(&format!(r#"{{"total":true,"records":{}"#, 2 * n)));
    let alias = swarm(&["--node", &addr, "logfiles", "size", "--json"], b"").ok();
    assert_eq!(alias.lines(), sizes, "`logfiles` is `logs`");
    let mut channels = l(&["channels"], b"").ok().lines();
    channels.sort();
    assert_eq!(channels, ["ch", "in"]);
}

#[test]
fn a_value_over_the_limit_names_it() {
    let (_n, addr) = node();
    let dir = tempfile::tempdir().unwrap();
    let big = file(dir.path(), "big", &vec![b'x'; 70_000]);
    let run = swarm(
        &["--node", &addr, "logs", "put", "ch", "0x1", "--file", &big],
        b"",
    );
    assert_eq!(run.code, 4);
    for needle in ["70000 bytes", "65504", "batch"] {
        assert!(run.stderr.contains(needle), "{needle:?} in {}", run.stderr);
    }
    let run = swarm(&["--node", &addr, "logs", "getall", "a.b"], b"");
    assert_eq!(run.code, 4);
    assert!(run.stderr.contains("letters, digits"), "{}", run.stderr);
}
