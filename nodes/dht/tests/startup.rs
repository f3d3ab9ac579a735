//! Start-up of the real `dhtnode`: what it does with the data directory before it serves
//! (stale temp files of crashed dumps), where its config warnings go, what its start-up errors
//! name, the order of binding and loading, and the data-directory lock. Each test is named after
//! the defect it guards against.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::time::Duration;
use swarm_testkit::*;

fn node() -> Node {
    Node::new(env!("CARGO_BIN_EXE_dhtnode"), &[]).with_read_timeout(Duration::from_secs(10))
}

/// A `.tcm` with one record, key 1 -> `value`.
fn one_record(value: &[u8]) -> Vec<u8> {
    raw_tcm(&[(b"0000000000000001", value)], false)
}

#[test]
fn crashed_dumps_temp_files_are_logged_and_deleted_at_start() {
    let mut node = node();
    let d = node.data();
    fs::write(d.join("ch.tcm"), one_record(b"complete")).unwrap();
    // What a kill during a dump leaves: DumpFile's `<ch>.tcm.XXXXXX.dumping`, torn.
    fs::write(
        d.join("ch.tcm.aB3dE9.dumping"),
        raw_tcm(&[(b"0000000000000001", b"partial")], true),
    )
    .unwrap();
    fs::write(d.join("gone.tcm.Zz0Yy1.dumping"), vec![7u8; 4096]).unwrap();
    // Not a name the dump code makes: left alone.
    fs::write(d.join("notes.dumping"), b"mine").unwrap();
    let sizes: Vec<(String, u64)> = ["ch.tcm.aB3dE9.dumping", "gone.tcm.Zz0Yy1.dumping"]
        .iter()
        .map(|n| {
            let path = d.join(n);
            let len = fs::metadata(&path).unwrap().len();
            (path.display().to_string(), len)
        })
        .collect();
    node.start();
    let files = node.files();
    assert!(
        !files
            .iter()
            .any(|f| f.contains(".tcm.") && f.ends_with(".dumping")),
        "{files:?}"
    );
    assert!(files.contains(&"ch.tcm".to_string()), "{files:?}");
    assert!(files.contains(&"notes.dumping".to_string()), "{files:?}");
    let log = node.root_log();
    for (path, len) in &sizes {
        assert!(
            log.lines()
                .any(|l| l.contains(path) && l.contains(&format!("{len} bytes"))),
            "root.log does not name {path} and its size:\n{log}"
        );
    }
    assert_eq!(
        node.connect().get_all(b"ch"),
        Records::from([(1, b"complete".to_vec())])
    );
    assert_eq!(node.connect().channels(), [b"ch".to_vec()]);
}

#[test]
fn config_warnings_reach_stderr_and_root_log() {
    let mut node = node();
    node.set("Options_Memory", "size_limt", "1000");
    node.set("Options_memory", "batch_size", "2048");
    node.start();
    let stderr = node.stderr();
    let log = node.root_log();
    for needle in [
        "unknown key [Options_Memory] size_limt ignored",
        "unknown section [Options_memory] ignored",
    ] {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
        assert!(log.contains(needle), "root.log lacks {needle:?}:\n{log}");
    }
    assert!(log.contains("did you mean size_limit?"), "{log}");
    assert!(log.contains("did you mean [Options_Memory]?"), "{log}");
    assert_eq!(
        stderr.matches("size_limt").count(),
        1,
        "printed once:\n{stderr}"
    );
}

#[test]
fn config_warnings_are_printed_when_the_config_is_refused() {
    let mut node = node();
    node.set("Server", "adress", "127.0.0.1");
    node.set("Server", "port", "not a port");
    let failed = node.try_start_status().unwrap_err();
    assert_eq!(failed.status.and_then(|s| s.code()), Some(2), "{failed:?}");
    assert!(
        failed
            .stderr
            .contains("unknown key [Server] adress ignored"),
        "{}",
        failed.stderr
    );
    assert!(failed.stderr.contains("[Server] port"), "{}", failed.stderr);
}

#[test]
fn config_warnings_are_logged_whatever_the_log_level() {
    let mut node = node();
    node.set("Options_Memory", "size_limt", "1000");
    node.set_args(&["--log-level", "error"]);
    node.start();
    let log = node.root_log();
    assert!(
        log.contains("unknown key [Options_Memory] size_limt"),
        "{log}"
    );
    assert!(node.stderr().contains("size_limt"), "{}", node.stderr());
}

#[test]
fn an_unusable_data_dir_is_named_in_the_error() {
    let mut node = node();
    // Tests run as root, so permissions would not stop it: a path below a regular file does.
    let file = node.dir.path().join("file");
    fs::write(&file, b"not a directory").unwrap();
    let data = file.join("data");
    node.set("Server", "data_dir", &data.display().to_string());
    let failed = node.try_start_status().unwrap_err();
    assert_eq!(failed.status.and_then(|s| s.code()), Some(1), "{failed:?}");
    let expect = format!("cannot create data directory {}: ", data.display());
    assert!(failed.stderr.contains(&expect), "{}", failed.stderr);
    assert!(node.root_log().contains(&expect), "{}", node.root_log());
}

#[test]
fn a_taken_port_fails_at_once_before_the_data_dir_is_touched() {
    let mut first = node();
    first.start();
    let mut second = node();
    let port = first.port().to_string();
    second.set("Server", "port", &port);
    let d = second.data();
    fs::write(d.join("ch.tcm"), one_record(b"v")).unwrap();
    fs::write(d.join("ch.tcm.aB3dE9.dumping"), b"partial").unwrap();
    let before = names(&second.data());
    let failed = second.try_start_status().unwrap_err();
    assert_eq!(failed.status.and_then(|s| s.code()), Some(1), "{failed:?}");
    assert!(failed.elapsed < Duration::from_secs(5), "{failed:?}");
    let addr = format!("cannot listen on 127.0.0.1:{port}");
    assert!(failed.stderr.contains(&addr), "{}", failed.stderr);
    assert_eq!(
        names(&second.data()),
        before,
        "the data directory was touched"
    );
    assert!(
        !second.root_log().contains("Scanning"),
        "{}",
        second.root_log()
    );
    // The first node is unaffected.
    assert_eq!(first.connect().channels(), Vec::<Vec<u8>>::new());
}

#[test]
fn a_second_node_on_a_locked_data_dir_refuses_to_start() {
    let mut first = node();
    fs::write(first.data().join("ch.tcm"), one_record(b"first")).unwrap();
    first.start();
    let data = first.data().display().to_string();
    let mut second = node();
    second.set("Server", "data_dir", &data);
    let failed = second.try_start_status().unwrap_err();
    assert_eq!(failed.status.and_then(|s| s.code()), Some(1), "{failed:?}");
    let stderr = &failed.stderr;
    assert!(
        stderr.contains(&format!("data directory {data} is in use")),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("(pid {})", first.pid())),
        "{stderr}"
    );
    assert!(
        !second.root_log().contains("Scanning"),
        "{}",
        second.root_log()
    );
    assert_eq!(
        first.connect().get_all(b"ch"),
        Records::from([(1, b"first".to_vec())])
    );
    // The lock dies with its process: no stale lock after kill -9.
    first.kill9();
    second.start();
    assert_eq!(
        second.connect().get_all(b"ch"),
        Records::from([(1, b"first".to_vec())])
    );
    let lock = fs::read_to_string(first.data().join(DATA_DIR_LOCK)).unwrap();
    assert_eq!(lock.trim(), second.pid().to_string());
}

#[test]
fn the_pid_lock_of_the_config_is_taken_too() {
    let shared = tempfile::tempdir().unwrap();
    let pid_file = shared.path().join("dhtnode.pid").display().to_string();
    let mut first = node();
    first.set("PidLock", "path", &pid_file);
    first.start();
    assert_eq!(
        fs::read_to_string(&pid_file).unwrap().trim(),
        first.pid().to_string()
    );
    let mut second = node();
    second.set("PidLock", "path", &pid_file);
    let failed = second.try_start_status().unwrap_err();
    assert_eq!(failed.status.and_then(|s| s.code()), Some(1), "{failed:?}");
    let expect = format!(
        "{pid_file} is locked by another running process (pid {})",
        first.pid()
    );
    assert!(failed.stderr.contains(&expect), "{}", failed.stderr);
    first.stop();
    second.start();
}
