//! Disk faults under the real `dhtnode`, its data directory on a small tmpfs
//! ([`swarm_testkit::Tmpfs`]): the shutdown dump on a full disk keeps the node up with every
//! record (the old `.tcm` byte for byte, no temp file left), and a second SIGTERM after space is
//! freed dumps and exits; a periodic dump on a full disk keeps the old `.tcm` and the next
//! cycle after space is freed writes it; a data directory that cannot be made or written fails the start with
//! the path and the reason.

#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Command;
use std::time::Duration;
use swarm_testkit::*;

const MIB: u64 = 1024 * 1024;

/// A node with its data directory at `data` (absolute).
fn node(data: &std::path::Path) -> Node {
    Node::new(
        env!("CARGO_BIN_EXE_dhtnode"),
        &[
            ("Server", "data_dir", &data.display().to_string()),
            ("Performance", "write_flush_ms", "5"),
        ],
    )
}

fn sigterm(node: &Node) {
    let ok = Command::new("kill")
        .args(["-TERM", &node.pid().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Waits until the node's stderr holds `needle`: it is read on a thread of its own, which may
/// not have the latest lines yet.
fn wait_stderr(node: &Node, needle: &str) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !node.stderr().contains(needle) {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

#[test]
fn a_shutdown_dump_on_a_full_disk_keeps_serving_and_a_second_sigterm_dumps() {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    let mut node = node(&disk.path().join("data"));
    node.start();
    let first = records(200, 1, 100);
    node.connect().put_all(b"disk", &first);
    node.stop();
    let tcm = node.data().join("disk.tcm");
    let old = fs::read(&tcm).unwrap();

    node.start();
    let more = records(1500, 2, 400);
    let mut all = first.clone();
    all.extend(more.clone());
    node.connect().put_all(b"disk", &more);
    disk.fill(16 * 1024);
    sigterm(&node);
    let error = "Dumping channel 'disk' failed";
    assert!(
        node.wait_log(error, 1, Duration::from_secs(20)),
        "{}",
        node.root_log()
    );
    let log = node.root_log();
    let line = log.lines().find(|l| l.contains(error)).unwrap();
    assert!(line.contains("No space left on device"), "{line}");
    assert!(line.contains("disk.tcm"), "the line names the file: {line}");
    assert!(wait_stderr(&node, error), "{}", node.stderr());
    // Nothing dropped: the node still serves every record, the old dump is untouched and no
    // temp file holds the space.
    assert!(node.wait_log("still serving", 1, Duration::from_secs(5)));
    assert_eq!(node.connect().get_all(b"disk"), all);
    assert_eq!(fs::read(&tcm).unwrap(), old);
    let left: Vec<String> = node.files();
    assert_eq!(left, ["deleted", "disk.tcm"], "no temp file left: {left:?}");

    disk.free();
    node.stop(); // the second SIGTERM: the dump succeeds, the node exits 0
    let summary = "shutdown dump: 1 channels, 1700 records";
    assert!(wait_stderr(&node, summary), "{}", node.stderr());
    node.start();
    assert_eq!(node.connect().get_all(b"disk"), all);
}

#[test]
fn a_data_dir_that_cannot_be_made_or_written_is_named_at_start() {
    swarm_testkit::tmpfs::assert_unwritable_data_dirs_are_named(node);
}

#[test]
fn a_periodic_dump_on_a_full_disk_keeps_the_old_dump_and_the_next_cycle_succeeds() {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    let mut node = node(&disk.path().join("data"));
    node.set("Options_Memory", "dump_period_s", "1");
    node.start();
    let mut all = records(200, 1, 100);
    node.connect().put_all(b"disk", &all);
    assert!(node.wait_log(
        "Finished dumping channel 'disk'",
        1,
        Duration::from_secs(10)
    ));
    let tcm = node.data().join("disk.tcm");

    let more = records(1500, 2, 400);
    node.connect().put_all(b"disk", &more);
    all.extend(more);
    disk.fill(16 * 1024);
    let error = "Dumping channel 'disk' failed: cannot write";
    assert!(
        node.wait_log(error, 1, Duration::from_secs(10)),
        "{}",
        node.root_log()
    );
    // A cycle may have committed just before the disk filled: the file as the first failure
    // left it must outlive the next failed cycle.
    let old = fs::read(&tcm).unwrap();
    assert!(node.wait_log(error, 2, Duration::from_secs(10)));
    assert!(node.wait_log("(1 failed)", 2, Duration::from_secs(5)));
    assert_eq!(fs::read(&tcm).unwrap(), old);
    assert_eq!(node.files(), ["deleted", "disk.tcm"], "no temp file left");
    assert_eq!(node.connect().get_all(b"disk"), all);

    disk.free();
    let done = node
        .root_log()
        .matches("Finished dumping channel 'disk'")
        .count();
    assert!(node.wait_log(
        "Finished dumping channel 'disk'",
        done + 1,
        Duration::from_secs(10)
    ));
    node.kill9();
    assert_eq!(read_tcm(&tcm).unwrap(), all);
}
