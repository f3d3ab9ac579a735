//! Disk faults under the real `queuenode`, its data directory on a small tmpfs
//! ([`swarm_testkit::Tmpfs`]): the shutdown `.rq` dump on a full disk keeps the node up with
//! every record and leaves no file behind, a second SIGTERM after space is freed dumps and
//! exits, and the next start has every record; a data directory that cannot be made or written
//! fails the start with the path and the reason.

#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::Duration;
use swarm_testkit::queue::{QueueConn, QueueNode};
use swarm_testkit::*;

const MIB: u64 = 1024 * 1024;

fn node(data: &std::path::Path) -> QueueNode {
    QueueNode::new(
        env!("CARGO_BIN_EXE_queuenode"),
        &[("Server", "data_dir", &data.display().to_string())],
    )
}

fn values(n: usize, len: usize, seed: u8) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| {
            let mut v = vec![seed; len];
            v[..8].copy_from_slice(&(i as u64).to_le_bytes());
            v
        })
        .collect()
}

#[test]
fn a_shutdown_dump_on_a_full_disk_keeps_every_record_and_a_second_sigterm_dumps() {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    let mut node = node(&disk.path().join("data"));
    node.start();
    let (big, small) = (values(2000, 300, 1), values(10, 50, 2));
    let mut c = node.connect();
    c.push_all(b"big", &big);
    c.push_all(b"small", &small);
    drop(c);
    disk.fill(16 * 1024);
    let ok = Command::new("kill")
        .args(["-TERM", &node.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let error = "Dumping channel 'big' to ";
    assert!(node.wait_log("still serving", 1, Duration::from_secs(20)));
    let log = node.root_log();
    let line = log.lines().find(|l| l.contains(error)).expect(&log);
    assert!(
        line.contains("big.rq") && line.contains("No space left on device"),
        "{line}"
    );
    // stderr is read on a thread of its own, which may not have the latest lines yet.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !node.stderr().contains(error) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(node.stderr().contains(error), "{}", node.stderr());
    // Every record is still served, and no file is left: neither a temp file holding the
    // space, nor the `small.rq` that dumped, which would bring back records popped from now on.
    assert_eq!(node.files(), Vec::<String>::new());
    let mut c = node.connect();
    assert_eq!(c.channel_size(b"big").0, 2000);
    assert_eq!(c.pop_all(b"small"), small);
    drop(c);

    disk.free();
    node.stop(); // the second SIGTERM: the dump succeeds, the node exits 0
    assert_eq!(node.files(), ["big.rq"]);
    node.start();
    let mut c = node.connect();
    assert_eq!(c.pop_all(b"big"), big);
    assert_eq!(c.pop_all(b"small"), Vec::<Vec<u8>>::new());
}

#[test]
fn a_data_dir_that_cannot_be_made_or_written_is_named_at_start() {
    swarm_testkit::tmpfs::assert_unwritable_data_dirs_are_named(node);
}
