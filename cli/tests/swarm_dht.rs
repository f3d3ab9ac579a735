//! `swarm dht` against a real `dhtnode` on 127.0.0.1: binary-safe round trips through
//! `--file`, stdin and every output format, key notations, the line outputs, listen, and the
//! refusals that must name their rule (record size limit and batch_size, channel names).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod swarm_common;

use common::dhtnode_bin;
use swarm_common::{file, hex, json_value, swarm, tricky_values, unbase64};
use swarm_testkit::dht::Node;

fn node() -> (Node, String) {
    let mut n = Node::new(dhtnode_bin(), &[]);
    n.start();
    let addr = n.addr().to_string();
    (n, addr)
}

#[test]
fn values_round_trip_through_file_stdin_and_every_format() {
    let (_n, addr) = node();
    let dir = tempfile::tempdir().unwrap();
    for (i, v) in tricky_values().iter().enumerate() {
        let key = format!("{i:016x}");
        let path = file(dir.path(), "v", v);
        swarm(
            &["--node", &addr, "dht", "put", "ch", &key, "--file", &path],
            b"",
        )
        .ok();
        let raw = swarm(&["dht", "get", "ch", &key, "--node", &addr], b"").ok();
        assert_eq!(raw.stdout, *v, "raw get of value {i}");
        let h = swarm(&["--node", &addr, "--hex", "dht", "get", "ch", &key], b"").ok();
        assert_eq!(h.text().trim(), format!("{key}:{}", hex(v)));
        let b = swarm(
            &["--node", &addr, "--base64", "dht", "get", "ch", &key],
            b"",
        )
        .ok();
        let b64 = b.text().trim().split(':').nth(1).unwrap().to_string();
        assert_eq!(unbase64(&b64), *v);
        let j = swarm(&["--node", &addr, "--json", "dht", "get", "ch", &key], b"").ok();
        assert_eq!(json_value(j.text().trim()), *v, "{}", j.text());
        // Stdin, with no value argument and with `-`.
        swarm(&["--node", &addr, "dht", "put", "in", &key], v).ok();
        swarm(&["--node", &addr, "dht", "put", "dash", &key, "-"], v).ok();
        for ch in ["in", "dash"] {
            let got = swarm(&["--node", &addr, "dht", "get", ch, &key], b"").ok();
            assert_eq!(got.stdout, *v, "{ch} value {i}");
        }
    }
    // Every record on its own line, whatever its bytes.
    let all = swarm(&["--node", &addr, "dht", "getall", "ch"], b"").ok();
    assert_eq!(all.lines().len(), tricky_values().len(), "{}", all.text());
    assert!(all.text().contains("line one\\nline two\\n"));
    assert!(all.text().contains("cr\\r\\nnul\\0end"));
    assert!(all.text().contains("back\\\\slash and \\xff\\xfe"));
    let json = swarm(&["--node", &addr, "--json", "dht", "getall", "ch"], b"").ok();
    let mut got: Vec<Vec<u8>> = json.lines().iter().map(|l| json_value(l)).collect();
    let mut want = tricky_values();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // Hex values through --hex input.
    swarm(
        &[
            "--node", &addr, "--hex", "dht", "put", "hx", "0x1", "00ff0a",
        ],
        b"",
    )
    .ok();
    let got = swarm(
        &["--node", &addr, "dht", "get", "hx", "1", "--decimal"],
        b"",
    )
    .ok();
    assert_eq!(got.stdout, b"\x00\xff\n");
}

#[test]
fn keys_in_hex_0x_and_decimal_and_the_line_outputs() {
    let (_n, addr) = node();
    let s = |args: &[&str]| {
        let mut all = vec!["--node", addr.as_str()];
        all.extend_from_slice(args);
        swarm(&all, b"")
    };
    s(&["dht", "put", "ch", "0xab", "one"]).ok();
    assert_eq!(
        s(&["dht", "get", "ch", "00000000000000AB"]).ok().stdout,
        b"one"
    );
    assert_eq!(
        s(&["--decimal", "dht", "get", "ch", "171"]).ok().stdout,
        b"one"
    );
    assert_eq!(s(&["dht", "keys", "ch"]).ok().lines(), ["00000000000000ab"]);
    assert_eq!(s(&["dht", "keys", "ch", "--decimal"]).ok().lines(), ["171"]);
    assert_eq!(
        s(&["dht", "getall", "ch", "--decimal"]).ok().lines(),
        ["171:one"]
    );
    let bad = s(&["dht", "get", "ch", "171"]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("16 hex digits"), "{}", bad.stderr);
    assert_eq!(s(&["dht", "exists", "ch", "0xab"]).ok().lines(), ["true"]);
    let missing = s(&["dht", "exists", "ch", "0xac"]);
    assert_eq!(
        (missing.code, missing.lines()),
        (1, vec!["false".to_string()])
    );
    assert_eq!(s(&["dht", "get", "ch", "0xac"]).code, 1);
    s(&["dht", "put", "ch", "0xac", "two"]).ok();
    let filtered = s(&["dht", "getall", "ch", "--filter", "tw"]).ok();
    assert_eq!(filtered.lines(), ["00000000000000ac:two"]);
    assert_eq!(s(&["dht", "channels"]).ok().lines(), ["ch"]);
    assert_eq!(
        s(&["--json", "dht", "channels"]).ok().lines(),
        [r#"{"channel":"ch"}"#]
    );
    let size = s(&["--json", "dht", "size"]).ok().lines();
    assert_eq!(size.len(), 2, "{size:?}");
    assert!(size[0].starts_with(&format!(r#"{{"node":"{addr}","records":2,"bytes":"#)));
    assert!(
        size[1].starts_with(r#"{"total":true,"records":2,"bytes":"#),
        "{size:?}"
    );
    let ranges = s(&["dht", "ranges"]).ok().lines();
    assert_eq!(
        ranges,
        [format!("{addr}: 0000000000000000..=ffffffffffffffff")]
    );
    s(&["dht", "remove", "ch", "0xab"]).ok();
    assert_eq!(s(&["dht", "get", "ch", "0xab"]).code, 1);
    s(&["dht", "remove-channel", "ch"]).ok();
    assert!(s(&["dht", "channels"]).ok().lines().is_empty());
}

#[test]
fn listen_prints_records_put_after_it_started() {
    let (_n, addr) = node();
    let a = addr.clone();
    let listener = std::thread::spawn(move || {
        swarm(&["--node", &a, "dht", "listen", "ch", "--count", "2"], b"")
    });
    // Keep putting until the listener has seen two records (it may start after the first).
    for i in 0u64.. {
        if listener.is_finished() {
            break;
        }
        let key = format!("{i:016x}");
        swarm(&["--node", &addr, "dht", "put", "ch", &key, "a\nb"], b"").ok();
        std::thread::sleep(std::time::Duration::from_millis(100));
        assert!(i < 100, "listen never printed two records");
    }
    let run = listener.join().unwrap().ok();
    let lines = run.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.ends_with(":a\\nb")), "{lines:?}");
}

#[test]
fn refusals_name_the_rule() {
    let (_n, addr) = node();
    let dir = tempfile::tempdir().unwrap();
    let big = file(dir.path(), "big", &vec![b'x'; 70_000]);
    let run = swarm(
        &["--node", &addr, "dht", "put", "ch", "0x1", "--file", &big],
        b"",
    );
    assert_eq!(run.code, 4);
    for needle in ["70000 bytes", "batch_size", "65504", &addr] {
        assert!(run.stderr.contains(needle), "{needle:?} in {}", run.stderr);
    }
    let run = swarm(
        &["--node", &addr, "dht", "put", "bad name", "0x1", "v"],
        b"",
    );
    assert_eq!(run.code, 4);
    assert!(run.stderr.contains("letters, digits"), "{}", run.stderr);
    let run = swarm(&["--node", &addr, "dht", "put", "ch", "0x1", ""], b"");
    assert_eq!(run.code, 4);
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
    // A host name resolves.
    let port = addr.rsplit(':').next().unwrap();
    let local = format!("localhost:{port}");
    swarm(&["--node", &local, "dht", "put", "ch", "0x1", "v"], b"").ok();
}

#[test]
fn two_nodes_from_a_nodes_file_give_one_size_line_each() {
    let dir = tempfile::tempdir().unwrap();
    let mut low = Node::new(dhtnode_bin(), &[]);
    low.set_range(0, 0x7fff_ffff_ffff_ffff);
    low.start();
    let mut high = Node::new(dhtnode_bin(), &[]);
    high.set_range(0x8000_0000_0000_0000, u64::MAX);
    high.start();
    let nodes = common::nodes_file(dir.path(), "nodes.txt", &[low.addr(), high.addr()]);
    let nodes = nodes.to_str().unwrap();
    for k in 0..20 {
        let key = format!("{k:016x}");
        swarm(&["--nodes", nodes, "dht", "put", "ch", &key, "v"], b"").ok();
    }
    let lines = swarm(&["dht", "size", "ch", "--json", "--nodes", nodes], b"")
        .ok()
        .lines();
    assert_eq!(lines.len(), 3, "{lines:?}");
    let records = |line: &str| -> u64 {
        let rest = line.split("\"records\":").nth(1).unwrap();
        rest.split(',').next().unwrap().parse().unwrap()
    };
    for (line, node) in lines.iter().zip([low.addr(), high.addr()]) {
        assert!(
            line.starts_with(&format!("{{\"node\":\"{node}\",")),
            "{line}"
        );
        assert!(records(line) > 0, "keys spread over both nodes: {lines:?}");
    }
    assert!(lines[2].starts_with("{\"total\":true,"), "{lines:?}");
    assert_eq!(records(&lines[0]) + records(&lines[1]), 20);
    assert_eq!(records(&lines[2]), 20);
    let ranges = swarm(&["--nodes", nodes, "dht", "ranges"], b"")
        .ok()
        .lines();
    assert_eq!(
        ranges,
        [
            format!("{}: 0000000000000000..=7fffffffffffffff", low.addr()),
            format!("{}: 8000000000000000..=ffffffffffffffff", high.addr()),
        ]
    );
    // A node down: the handshake refuses the incomplete set, --partial uses what answers.
    high.stop();
    let run = swarm(&["--nodes", nodes, "dht", "get", "ch", "0x1"], b"");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let run = swarm(&["--nodes", nodes, "dht", "--partial", "keys", "ch"], b"").ok();
    assert_eq!(run.lines().len() as u64, records(&lines[0]));
}
