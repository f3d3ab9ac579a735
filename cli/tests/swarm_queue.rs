//! `swarm queue` against real `queuenode`s on 127.0.0.1: push and pop binary-safe through
//! `--file`, stdin and every format, produce from lines (raw, `--base64`, `--json`), consume
//! with `--count`, per-node sizes, and the size refusal naming `channel_size_limit`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod swarm_common;

use common::queuenode_bin;
use swarm_common::{base64, file, hex, json_value, swarm, tricky_values, unbase64};
use swarm_testkit::queue::QueueNode;

fn node() -> (QueueNode, String) {
    let mut n = QueueNode::new(queuenode_bin(), &[]);
    n.start();
    let addr = n.addr().to_string();
    (n, addr)
}

#[test]
fn push_and_pop_round_trip_every_byte() {
    let (_n, addr) = node();
    let dir = tempfile::tempdir().unwrap();
    let q = |args: &[&str], stdin: &[u8]| {
        let mut all = vec!["--node", addr.as_str(), "queue"];
        all.extend_from_slice(args);
        swarm(&all, stdin)
    };
    for v in tricky_values() {
        let path = file(dir.path(), "v", &v);
        q(&["push", "ch", "--file", &path], b"").ok();
        assert_eq!(q(&["pop", "ch"], b"").ok().stdout, v);
        q(&["push", "ch"], &v).ok();
        assert_eq!(q(&["pop", "ch", "--hex"], b"").ok().text().trim(), hex(&v));
        q(&["push", "ch", "-"], &v).ok();
        assert_eq!(unbase64(&q(&["pop", "ch", "--base64"], b"").ok().text()), v);
        q(&["push", "ch", "--base64", "-"], base64(&v).as_bytes()).ok();
        assert_eq!(
            json_value(q(&["pop", "ch", "--json"], b"").ok().text().trim()),
            v
        );
    }
    let empty = q(&["pop", "ch"], b"");
    assert_eq!((empty.code, empty.stdout.len()), (1, 0));
}

#[test]
fn produce_lines_and_consume_them_back() {
    let (_a, a) = node();
    let (_b, b) = node();
    let q = |args: &[&str], stdin: &[u8]| {
        let mut all = vec!["--node", a.as_str(), "--node", b.as_str(), "queue"];
        all.extend_from_slice(args);
        swarm(&all, stdin)
    };
    // Raw lines (the empty one skipped), then base64 lines carrying the tricky values.
    q(&["produce", "ch"], b"one\ntwo\n\nthree\n").ok();
    let b64: String = tricky_values().iter().map(|v| base64(v) + "\n").collect();
    q(&["--base64", "produce", "ch"], b64.as_bytes()).ok();
    let dir = tempfile::tempdir().unwrap();
    let json = file(dir.path(), "in.json", b"{\"value\":\"j\\n1\"}\n\"bare\"\n");
    q(&["--json", "produce", "ch", "--file", &json], b"").ok();
    let sizes = q(&["--json", "size"], b"").ok().lines();
    assert_eq!(sizes.len(), 3, "{sizes:?}");
    assert!(sizes[0].starts_with(&format!(r#"{{"node":"{a}","records":"#)));
    assert!(sizes[1].starts_with(&format!(r#"{{"node":"{b}","records":"#)));
    let total = 3 + tricky_values().len() + 2;
    assert!(
        sizes[2].starts_with(&format!(r#"{{"total":true,"records":{total},"bytes":"#)),
        "{sizes:?}"
    );
    assert_eq!(q(&["channels"], b"").ok().lines(), ["ch"]);
    let n = total.to_string();
    let got = q(&["--json", "consume", "ch", "--count", &n], b"").ok();
    let mut got: Vec<Vec<u8>> = got.lines().iter().map(|l| json_value(l)).collect();
    let mut want: Vec<Vec<u8>> = vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()];
    want.extend(tricky_values());
    want.extend([b"j\n1".to_vec(), b"bare".to_vec()]);
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let bad = q(&["--base64", "produce", "ch"], b"aGk=\n!!!\n");
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("line 2"), "{}", bad.stderr);
    q(&["remove-channel", "ch"], b"").ok();
}

#[test]
fn a_record_over_the_ring_names_channel_size_limit() {
    let (_n, addr) = node(); // 1 MiB rings
    let dir = tempfile::tempdir().unwrap();
    let big = file(dir.path(), "big", &vec![b'x'; 2 << 20]);
    let run = swarm(
        &["--node", &addr, "queue", "push", "ch", "--file", &big],
        b"",
    );
    assert_eq!(run.code, 4);
    for needle in ["2097152 bytes", "channel_size_limit", &addr] {
        assert!(run.stderr.contains(needle), "{needle:?} in {}", run.stderr);
    }
    let run = swarm(&["--node", &addr, "queue", "push", "no/slash", "v"], b"");
    assert_eq!(run.code, 4);
    assert!(run.stderr.contains("letters, digits"), "{}", run.stderr);
}

#[test]
fn consume_with_a_count_takes_exactly_that_many() {
    let (_n, addr) = node();
    let q = |args: &[&str], stdin: &[u8]| {
        let mut all = vec!["--node", addr.as_str(), "queue"];
        all.extend_from_slice(args);
        swarm(&all, stdin)
    };
    let input: String = (0..500).map(|i| format!("record {i}\n")).collect();
    q(&["produce", "ch"], input.as_bytes()).ok();
    let got = q(&["consume", "ch", "--count", "2"], b"").ok().lines();
    assert_eq!(got, ["record 0", "record 1"]);
    let size = q(&["size", "ch"], b"").ok().lines();
    assert!(
        size[1].starts_with("total: 498 records,"),
        "nothing else taken: {size:?}"
    );
    // And it waits for records that come later.
    let a = addr.clone();
    let waiting = std::thread::spawn(move || {
        swarm(
            &["--node", &a, "queue", "consume", "later", "--count", "1"],
            b"",
        )
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        !waiting.is_finished(),
        "consume --count waits while the queue is empty"
    );
    q(&["push", "later", "late\nrecord"], b"").ok();
    assert_eq!(waiting.join().unwrap().ok().lines(), ["late\\nrecord"]);
}
