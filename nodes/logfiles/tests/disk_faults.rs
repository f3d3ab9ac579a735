//! Disk faults under the real `logfilesnode`, its data directory on a small tmpfs
//! ([`swarm_testkit::Tmpfs`]): a Put on a full disk is answered Error and leaves no torn
//! record, reads go on, and the next Put after space is freed is stored; a checkpoint on a full
//! disk is logged and keeps the previous `checkpoint.dat`, and the next one succeeds; a data
//! directory that cannot be made or written fails the start with the path and the reason.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};
use swarm_protocol::key::format_key;
use swarm_protocol::logfiles::LogfilesRequest;
use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};
use swarm_testkit::{Conn, Tmpfs, OK};

const MIB: u64 = 1024 * 1024;

fn node(data: &std::path::Path, lines: &[(&str, &str, &str)]) -> LogfilesNode {
    let mut node = LogfilesNode::new(
        env!("CARGO_BIN_EXE_logfilesnode"),
        &[("Server", "data_dir", &data.display().to_string())],
    );
    for (s, k, v) in lines {
        node.set(s, k, v);
    }
    node
}

fn records(keys: std::ops::Range<u64>, len: usize) -> Vec<Record> {
    keys.map(|k| (k, vec![b'a' + (k % 26) as u8; len]))
        .collect()
}

/// One Put; its status code.
fn put_status(c: &mut Conn, channel: &[u8], key: u64, value: &[u8]) -> Vec<u8> {
    let key = format_key(key);
    c.send_logfiles(&LogfilesRequest::Put {
        channel,
        key: &key,
        value,
    });
    c.read_n(4)
}

/// `logfiles_check` on the data directory: (exit code, output).
fn check(data: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logfiles_check"))
        .arg(data)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

fn a_put_on_a_full_disk(sync_mode: &str) {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    let mut node = node(
        &disk.path().join("data"),
        &[
            ("Options_Dls", "sync_mode", sync_mode),
            ("Options_Dls", "write_buffer_size", "4096"),
        ],
    );
    node.start();
    let first = records(0..300, 200);
    let mut c = node.connect();
    c.put_all(b"log", &first);
    assert_eq!(c.get_all(b"log"), first);
    disk.fill(0);
    // Values larger than the write buffer: each must reach the disk at once, and cannot.
    let big = vec![b'z'; 20_000];
    let mut failed = 0;
    for key in 300..310 {
        if put_status(&mut c, b"log", key, &big) != OK {
            failed += 1;
        }
    }
    assert!(
        failed >= 9,
        "{failed} of 10 Puts on a full disk were refused"
    );
    assert!(node.wait_log("No space left on device", 1, Duration::from_secs(5)));
    // Reads go on, with every record acknowledged before.
    let got = c.get_all(b"log");
    assert_eq!(&got[..300], &first[..]);
    assert_eq!(c.get_range(b"log", 0, 99), first[..100].to_vec());
    // The flush every write_flush_ms (250 ms) keeps failing: logged once, not each time.
    std::thread::sleep(Duration::from_millis(700));
    let flushes = node
        .root_log()
        .matches("flushing the write buffers: ")
        .count();
    assert!(flushes <= 1, "{}", node.root_log());

    disk.free();
    c.put(b"log", 400, b"after the space came back");
    let got = c.get_all(b"log");
    assert_eq!(&got[..300], &first[..]);
    assert_eq!(
        got.last().unwrap(),
        &(400, b"after the space came back".to_vec())
    );
    drop(c);
    node.stop();
    let (code, text) = check(&node.data());
    assert_eq!(code, 0, "logfiles_check: {text}");
}

#[test]
fn a_put_on_a_full_disk_is_refused_leaves_no_torn_record_and_the_next_is_stored() {
    a_put_on_a_full_disk("checkpoint");
}

#[test]
fn a_group_commit_put_on_a_full_disk_is_refused_and_the_next_is_stored() {
    a_put_on_a_full_disk("group");
}

#[test]
fn a_checkpoint_on_a_full_disk_keeps_the_last_one_and_the_next_succeeds() {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    let mut node = node(
        &disk.path().join("data"),
        &[("Performance", "checkpoint_commit_seconds", "1")],
    );
    node.start();
    let mut c = node.connect();
    c.put_all(b"log", &records(0..100, 100));
    let path = node.data().join("checkpoint.dat");
    let wait_for = |what: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = fs::read_to_string(&path).unwrap_or_default();
            if text.contains(what) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "no checkpoint with {what:?}: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let old = wait_for("log 0 ");
    disk.fill(0);
    assert!(node.wait_log("checkpoint failed", 1, Duration::from_secs(10)));
    let log = node.root_log();
    let line = log
        .lines()
        .find(|l| l.contains("checkpoint failed"))
        .unwrap();
    assert!(
        line.contains("checkpoint.dat") && line.contains("No space left on device"),
        "{line}"
    );
    assert_eq!(fs::read_to_string(&path).unwrap(), old);
    assert_eq!(node.files(), ["checkpoint.dat", "log"], "no temp file left");
    assert_eq!(c.get_all(b"log"), records(0..100, 100));

    disk.free();
    // A record in a second bucket: the next checkpoint lists it.
    c.put(b"log", 0x10_000, b"after");
    wait_for(&format!("log {} ", 0x10_000));
}

#[test]
fn a_data_dir_that_cannot_be_made_or_written_is_named_at_start() {
    swarm_testkit::tmpfs::assert_unwritable_data_dirs_are_named(|data: &std::path::Path| {
        node(data, &[])
    });
}

#[test]
fn a_shutdown_on_a_full_disk_keeps_the_buffered_records_and_a_second_sigterm_writes_them() {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    // A tick (the buffers' flush) once a minute: the records stay in the write buffer.
    let mut node = node(
        &disk.path().join("data"),
        &[("Performance", "write_flush_ms", "60000")],
    );
    node.start();
    let all = records(0..100, 100);
    let mut c = node.connect();
    c.put_all(b"log", &all[..50]);
    assert_eq!(c.get_all(b"log"), all[..50].to_vec()); // a read flushes: these are in the file
    c.put_all(b"log", &all[50..]);
    drop(c);
    disk.fill(0);
    let ok = Command::new("kill")
        .args(["-TERM", &node.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    assert!(
        node.wait_log("still serving", 1, Duration::from_secs(20)),
        "{}",
        node.root_log()
    );
    let log = node.root_log();
    assert!(log.contains("No space left on device"), "{log}");
    assert_eq!(
        LogfilesConn::get_all(&mut node.connect(), b"log"),
        all[..50].to_vec()
    );

    disk.free();
    node.stop(); // the second SIGTERM: the buffers reach the disk, the node exits 0
    node.start();
    assert_eq!(LogfilesConn::get_all(&mut node.connect(), b"log"), all);
    node.stop();
    let (code, text) = check(&node.data());
    assert_eq!(code, 0, "logfiles_check: {text}");
}
