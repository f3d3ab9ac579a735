//! Disk faults of `dhtdump`, its dump directory on a small tmpfs ([`swarm_testkit::Tmpfs`]): a
//! cycle on a full disk fails naming the file and the reason, keeps the previous `.tcm` byte for
//! byte and leaves no temp file, the node serves on, and the next cycle after space is freed
//! writes a dump that loads; a dump directory that cannot be written fails the start with the
//! path and the reason.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::fs;

const MIB: u64 = 1024 * 1024;

#[test]
fn a_cycle_on_a_full_disk_keeps_the_previous_dump_and_the_next_one_succeeds() {
    let Some(disk) = Tmpfs::mount_or_skip(2 * MIB, false) else {
        return;
    };
    let mut node = node();
    node.start();
    let mut all = records(200, 1, 100);
    node.connect().put_all(b"ch", &all);
    let dump = Dump::new(node.port(), &disk.path().join("dump"), "");
    dump.oneshot_ok();
    let tcm = dump.data.join("ch.tcm");
    let old = fs::read(&tcm).unwrap();

    let more = records(1500, 2, 400);
    node.connect().put_all(b"ch", &more);
    all.extend(more);
    disk.fill(16 * 1024);
    let out = dump.oneshot();
    assert!(!out.status.success());
    let error = "Dumping channel 'ch' failed";
    let log = dump.root_log();
    let line = log.lines().find(|l| l.contains(error)).expect(&log);
    assert!(
        line.contains("ch.tcm.") && line.contains("No space left on device"),
        "{line}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(error), "{stderr}");
    assert_eq!(fs::read(&tcm).unwrap(), old, "the previous dump is intact");
    assert_eq!(names(&dump.data), ["ch.tcm"], "no temp file left");
    assert_eq!(node.connect().get_all(b"ch"), all, "the node serves on");

    disk.free();
    dump.oneshot_ok();
    assert_eq!(read_tcm(&tcm).unwrap(), all);
    let mut second = node_with_data(&dump.data);
    second.start();
    assert_eq!(second.connect().get_all(b"ch"), all);
}

#[test]
fn a_dump_dir_that_cannot_be_written_is_named_at_start() {
    let Some(ro) = Tmpfs::mount_or_skip(MIB, true) else {
        return;
    };
    let file = tempfile::NamedTempFile::new().unwrap();
    let cases = [
        (ro.path().to_path_buf(), "Read-only file system"),
        (ro.path().join("missing/dump"), "does not exist"),
        (file.path().to_path_buf(), "not a directory"),
    ];
    for (data, reason) in cases {
        // Dump::new makes the directory; these are made (or not) by the case itself.
        let dump = Dump::new(1, &std::env::temp_dir(), "");
        let config = fs::read_to_string(dump.dir.path().join("dump.ini")).unwrap();
        let config = config.replace(
            &format!("data_dir = {}", std::env::temp_dir().display()),
            &format!("data_dir = {}", data.display()),
        );
        fs::write(dump.dir.path().join("dump.ini"), config).unwrap();
        let out = dump.oneshot();
        assert_eq!(out.status.code(), Some(swarm_dhtdump::EXIT_CONFIG.into()));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let path = data.display().to_string();
        assert!(
            stderr.contains(&path) && stderr.contains(reason),
            "{path}: {stderr}"
        );
        let log = dump.root_log();
        assert!(log.contains(&path) && log.contains(reason), "{log}");
    }
}
