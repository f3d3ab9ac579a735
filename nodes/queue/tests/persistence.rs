//! The queue node's `.rq` files against the real `queuenode`: a graceful restart keeps every
//! record in order, a `.rq` made by hand in the spec's format loads, a torn one gives up only
//! its incomplete tail, and a dump larger than the configured ring still loads.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::fs;
use std::time::Duration;

/// `.rq` bytes: u32 count, u64 data length, then `u64 len + payload` per record.
fn rq(records: &[&[u8]]) -> Vec<u8> {
    let data: Vec<u8> = records.iter().flat_map(|r| arr(r)).collect();
    let mut out = (records.len() as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&(data.len() as u64).to_le_bytes());
    out.extend(data);
    out
}

#[test]
fn a_graceful_restart_keeps_every_record_in_order() {
    let mut node = start(&[("Server", "channel_size_limit", "1000000")]);
    let mut c = node.connect();
    let mut expected = Vec::new();
    for ch in 0..5 {
        let name = format!("ch{ch}").into_bytes();
        let records = numbered(20_000, 30 + ch * 3);
        c.push_all(&name, &records);
        // Pop some and push more, so rings are wrapped when dumped.
        let popped: Vec<_> = (0..5_000).map(|_| c.pop(&name).unwrap()).collect();
        assert_eq!(popped, records[..5_000]);
        let more = numbered(25_000, 30 + ch * 3)[20_000..].to_vec();
        c.push_all(&name, &more);
        let mut left = records[5_000..].to_vec();
        left.extend(more);
        expected.push((name, left));
    }
    c.push(b"single", b"only one");
    drop(c);
    node.stop();
    let mut files = node.files();
    files.sort();
    assert!(files.contains(&"ch0.rq".to_string()), "{files:?}");
    assert!(files.contains(&"single.rq".to_string()), "{files:?}");
    node.start();
    // Loaded, then removed: a crash now cannot bring back records popped later.
    assert!(
        !node.files().iter().any(|f| f.ends_with(".rq")),
        "{:?}",
        node.files()
    );
    let mut c = node.connect();
    for (name, records) in &expected {
        assert_eq!(c.channel_size(name).0, records.len() as u64);
        assert_eq!(
            &c.pop_all(name),
            records,
            "channel {}",
            String::from_utf8_lossy(name)
        );
    }
    assert_eq!(c.pop(b"single").as_deref(), Some(&b"only one"[..]));
    // An empty channel leaves no file and does not come back.
    drop(c);
    node.stop();
    assert!(!node.files().iter().any(|f| f.ends_with(".rq")));
}

#[test]
fn a_hand_made_rq_in_the_spec_format_loads() {
    let mut node = QueueNode::new(env!("CARGO_BIN_EXE_queuenode"), &[]);
    fs::create_dir_all(node.data()).unwrap();
    // The spec's fixture ch2.rq, byte for byte.
    let mut fixture = vec![
        1, 0, 0, 0, 0x12, 0, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0, 0, 0, 0,
    ];
    fixture.extend_from_slice(b"Hello ch2!");
    assert_eq!(fixture, rq(&[b"Hello ch2!"]));
    fs::write(node.data().join("ch2.rq"), &fixture).unwrap();
    fs::write(
        node.data().join("jobs.rq"),
        rq(&[b"first", b"second", b"third"]),
    )
    .unwrap();
    node.start();
    let mut c = node.connect();
    assert_eq!(c.pop_all(b"ch2"), vec![b"Hello ch2!".to_vec()]);
    assert_eq!(
        c.pop_all(b"jobs"),
        vec![b"first".to_vec(), b"second".to_vec(), b"third".to_vec()]
    );
}

#[test]
fn a_torn_rq_gives_up_only_its_incomplete_tail_and_is_set_aside() {
    let mut node = QueueNode::new(env!("CARGO_BIN_EXE_queuenode"), &[]);
    fs::create_dir_all(node.data()).unwrap();
    let whole = rq(&[b"one", b"two", b"three"]);
    // Cut inside the third record.
    fs::write(node.data().join("torn.rq"), &whole[..whole.len() - 2]).unwrap();
    node.start();
    let mut c = node.connect();
    assert_eq!(c.pop_all(b"torn"), vec![b"one".to_vec(), b"two".to_vec()]);
    let files = node.files();
    assert!(
        files.iter().any(|f| f.starts_with("torn.rq.torn-")),
        "set aside: {files:?}"
    );
    assert!(!files.contains(&"torn.rq".to_string()));
    assert!(node.wait_log("torn.rq", 1, Duration::from_secs(5)));
}

#[test]
fn a_dump_larger_than_the_configured_ring_loads_with_a_warning() {
    let mut node = QueueNode::new(
        env!("CARGO_BIN_EXE_queuenode"),
        &[("Server", "channel_size_limit", "100")],
    );
    fs::create_dir_all(node.data()).unwrap();
    let records = numbered(50, 40);
    let refs: Vec<&[u8]> = records.iter().map(|r| r.as_slice()).collect();
    fs::write(node.data().join("big.rq"), rq(&refs)).unwrap();
    node.start();
    assert!(node.wait_log("larger than the configured ring", 1, Duration::from_secs(5)));
    let mut c = node.connect();
    assert_eq!(c.pop_all(b"big"), records);
}
