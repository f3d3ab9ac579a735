//! `dhtdump --oneshot` against the real dhtnode: its files load into a second node with exactly
//! the same records, equal the node's own shutdown dump byte for byte, rotate the previous dump
//! into `.tcm.backup`; configuration errors and an unreachable node end with clear messages and
//! distinct exit codes.

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::time::{Duration, Instant};

#[test]
fn oneshot_files_load_into_a_second_node_and_equal_the_nodes_own_dump() {
    let mut node = node();
    node.start();
    let mut client = node.connect();
    let channels = [
        ("big", records(20_000, 1, 300)),
        ("medium", records(7_000, 2, 300)),
        ("one", records(1, 3, 300)),
    ];
    for (name, recs) in &channels {
        client.put_all(name.as_bytes(), recs);
    }
    // Overwrites and removes, so the node's slot order is not plain insertion order.
    let mut big = channels[0].1.clone();
    for (i, key) in big
        .keys()
        .copied()
        .step_by(97)
        .collect::<Vec<_>>()
        .iter()
        .enumerate()
    {
        if i % 2 == 0 {
            client.remove(b"big", *key);
            big.remove(key);
        } else {
            client.put(b"big", *key, b"overwritten");
            big.insert(*key, b"overwritten".to_vec());
        }
    }
    client.put_all(b"big", &records(500, 4, 300));
    big.extend(records(500, 4, 300));

    let out_dir = tempfile::tempdir().unwrap();
    let dump = Dump::new(node.port(), &out_dir.path().join("data"), "");
    dump.oneshot_ok();
    assert_eq!(names(&dump.data), ["big.tcm", "medium.tcm", "one.tcm"]);
    assert_eq!(read_tcm(&dump.data.join("big.tcm")).unwrap(), big);
    let log = dump.root_log();
    let line = format!("Finished dumping 'big', {} records", big.len());
    assert!(log.contains(&line), "{log}");
    let stats = dump.stats_log();
    let total = big.len() + 7_000 + 1;
    assert!(
        stats.contains(&format!(" records_written:{total} ")),
        "{stats}"
    );
    assert!(stats.contains(" channel/one/records_written:1 "), "{stats}");

    // A second node on dhtdump's files serves exactly what the first one holds.
    let mut copy = node_with_data(&dump.data);
    copy.start();
    let mut copy_client = copy.connect();
    let listed = copy_client.channels();
    assert_eq!(listed, [&b"big"[..], b"medium", b"one"]);
    for (name, _) in &channels {
        assert_eq!(
            copy_client.get_all(name.as_bytes()),
            client.get_all(name.as_bytes()),
            "{name}"
        );
    }
    assert_eq!(copy_client.get_all(b"big"), big);
    drop(copy);

    // The node's own shutdown dump of the same data is the same bytes: both walk the channel
    // in slot order and write through the same DumpFile.
    node.stop();
    for (name, _) in &channels {
        let file = format!("{name}.tcm");
        let ours = std::fs::read(dump.data.join(&file)).unwrap();
        let nodes = std::fs::read(node.data().join(&file)).unwrap();
        assert!(
            ours == nodes,
            "{file}: dhtdump's file differs from the node's"
        );
    }
}

#[test]
fn a_second_oneshot_rotates_the_previous_dump_into_the_backup() {
    let mut node = node();
    node.start();
    let mut client = node.connect();
    client.put_all(b"ch", &records(300, 5, 300));
    let dump = Dump::new(node.port(), &node.dir.path().join("dump"), "");
    dump.oneshot_ok();
    let first = std::fs::read(dump.data.join("ch.tcm")).unwrap();
    assert_eq!(names(&dump.data), ["ch.tcm"]);

    client.put(b"ch", 42, b"new record");
    dump.oneshot_ok();
    assert_eq!(names(&dump.data), ["ch.tcm", "ch.tcm.backup"]);
    assert_eq!(
        std::fs::read(dump.data.join("ch.tcm.backup")).unwrap(),
        first
    );
    let now = read_tcm(&dump.data.join("ch.tcm")).unwrap();
    assert_eq!(now.get(&42).map(Vec::as_slice), Some(&b"new record"[..]));
    assert_eq!(now.len(), 301);
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn config_errors_and_an_unreachable_node_give_clear_messages_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let run = |config: &str, extra: &[&str]| {
        let path = dir.path().join("dump.ini");
        std::fs::write(&path, config).unwrap();
        std::process::Command::new(env!("CARGO_BIN_EXE_dhtdump"))
            .arg("-c")
            .arg(&path)
            .args(extra)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    std::fs::create_dir(dir.path().join("data")).unwrap();

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dhtdump"))
        .args(["-c", "/nonexistent/dump.ini", "--oneshot"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("/nonexistent/dump.ini"),
        "{}",
        stderr_of(&out)
    );

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dhtdump"))
        .arg("--oneshot")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "-c is required");
    assert!(stderr_of(&out).contains("--config"), "{}", stderr_of(&out));

    // A refused config still shows its warnings: here the typo behind the missing key.
    let out = run("[Dht]\nadress = a\nport = 10000\n", &["--oneshot"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("[Dht] address is required but missing"),
        "{err}"
    );
    assert!(
        err.contains("unknown key [Dht] adress ignored (did you mean address?)"),
        "{err}"
    );

    let out = run(
        "[Dht]\naddress = 127.0.0.1\nport = 1\n[Dump]\ndata_dir = nope\n",
        &["-o"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr_of(&out);
    assert!(
        err.contains("[Dump] data_dir = 'nope' is invalid") && err.contains("does not exist"),
        "{err}"
    );

    let out = run(
        "[Dht]\naddress = 127.0.0.1\nport = 1\n[Dump]\nperiod_s = soon\n",
        &["-o"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr_of(&out).contains("[Dump] period_s = 'soon' is invalid"),
        "{}",
        stderr_of(&out)
    );

    // A port nobody listens on; an unknown key is only a warning.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let out = run(
        &format!("[Dht]\naddress = 127.0.0.1\nport = {port}\nnodes = 3\n"),
        &["--oneshot"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr_of(&out));
    assert!(started.elapsed() < Duration::from_secs(15));
    let err = stderr_of(&out);
    assert!(err.contains("unknown key [Dht] nodes ignored"), "{err}");
    assert!(
        err.contains("dhtdump: cannot connect to the dht node: "),
        "{err}"
    );
    assert!(
        err.contains(&format!("node 127.0.0.1:{port} unreachable")),
        "{err}"
    );
    assert!(err.contains("Connection refused"), "{err}");
    assert_eq!(names(&dir.path().join("data")), Vec::<String>::new());
    let log = std::fs::read_to_string(dir.path().join("log/root.log")).unwrap();
    assert!(log.contains("Exiting with return code 3"), "{log}");
    assert!(log.contains("unknown key [Dht] nodes ignored"), "{log}");
    assert_eq!(err.matches("[Dht] nodes").count(), 1, "printed once: {err}");
}
