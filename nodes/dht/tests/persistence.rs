//! Dumps and loads through the real `dhtnode`: graceful restarts keep every record byte for
//! byte, the backup rotates, RemoveChannel retires files for good, hand-made files load as the
//! spec and DECISIONS.md say, the periodic dump runs while serving, and tcmcli roundtrips.

#![allow(clippy::unwrap_used)]

mod persistence_common;

use persistence_common::*;
use std::fs;
use std::time::Duration;

#[test]
fn hundred_thousand_records_survive_a_graceful_restart_byte_for_byte() {
    let mut node = node(&[]);
    node.start();
    let channels: Vec<(String, Records)> = (0..4)
        .map(|i| (format!("ch{i}"), records(25_000, i + 1, 300)))
        .collect();
    let mut c = node.connect();
    for (name, recs) in &channels {
        c.put_all(name.as_bytes(), recs);
    }
    c.put(b"emptied", 1, b"gone soon");
    c.remove(b"emptied", 1);
    drop(c);
    node.stop();
    // The console says what the shutdown dump wrote (the emptied channel too: 0 records).
    let stderr = node.stderr();
    assert!(
        stderr.contains("dhtnode: shutdown dump: 5 channels, 100000 records"),
        "{stderr}"
    );
    let first: Vec<Vec<u8>> = channels
        .iter()
        .map(|(n, _)| fs::read(node.data().join(format!("{n}.tcm"))).unwrap())
        .collect();
    assert_eq!(
        node.files(),
        [
            "ch0.tcm",
            "ch1.tcm",
            "ch2.tcm",
            "ch3.tcm",
            "deleted",
            "emptied.tcm"
        ]
    );
    assert_eq!(
        fs::read(node.data().join("emptied.tcm")).unwrap(),
        vec![0u8; 512]
    );

    node.start();
    let mut c = node.connect();
    let mut expected_names: Vec<Vec<u8>> = channels
        .iter()
        .map(|(n, _)| n.clone().into_bytes())
        .collect();
    expected_names.push(b"emptied".to_vec());
    assert_eq!(
        c.channels(),
        expected_names,
        "the emptied channel stays, empty"
    );
    for (name, recs) in &channels {
        assert!(
            c.get_all(name.as_bytes()) == *recs,
            "channel {name} differs after restart"
        );
    }
    assert!(c.get_all(b"emptied").is_empty());
    let log = node.root_log();
    assert!(
        log.contains("Finished loading channel 'ch0': 25000 records"),
        "{log}"
    );
    assert!(
        log.contains("Finished dumping channel 'ch3': 25000 records"),
        "{log}"
    );
    drop(c);

    // The second dump rotates the first into the backup; loading kept slot order, so the new
    // dump is the same bytes.
    node.stop();
    for (i, (name, _)) in channels.iter().enumerate() {
        let backup = fs::read(node.data().join(format!("{name}.tcm.backup"))).unwrap();
        assert!(backup == first[i], "{name}.tcm.backup is the first dump");
        let now = fs::read(node.data().join(format!("{name}.tcm"))).unwrap();
        assert!(now == first[i], "{name}.tcm is the same data");
    }
    assert!(!node.files().iter().any(|f| f.ends_with(".dumping")));
}

#[test]
fn remove_channel_retires_files_and_a_restart_does_not_reload_them() {
    let mut node = node(&[]);
    node.start();
    let mut c = node.connect();
    c.put_all(b"gone", &records(100, 7, 50));
    c.put_all(b"kept", &records(100, 8, 50));
    drop(c);
    node.stop();
    node.start();
    node.stop(); // now with backups
    assert!(node.files().contains(&"gone.tcm.backup".to_string()));
    node.start();
    node.connect().remove_channel(b"gone");
    assert_eq!(node.files(), ["deleted", "kept.tcm", "kept.tcm.backup"]);
    assert_eq!(
        names(&node.data().join("deleted")),
        ["gone.tcm", "gone.tcm.backup"]
    );
    node.stop();
    assert!(
        !node.files().contains(&"gone.tcm".to_string()),
        "the dump does not recreate it"
    );
    node.start();
    assert_eq!(node.connect().channels(), [b"kept".to_vec()]);
}

#[test]
fn handmade_files_load_by_the_rules() {
    let mut node = node(&[]);
    let d = node.data();
    let bin = 0x0102_0304_0506_0708u64.to_le_bytes();
    fs::write(
        d.join("keys.tcm"),
        raw_tcm(
            &[
                (b"00000000000000aa", b"hex"),
                (b"00000000000000BB", b"upper"),
                (&bin, b"binary"),
                (b"00000000000000c", b"short"),
                (b"zz000000000000dd", b"nonhex"),
            ],
            false,
        ),
    )
    .unwrap();
    let big = vec![1u8; 65_537];
    fs::write(
        d.join("vals.tcm"),
        raw_tcm(
            &[
                (b"0000000000000001", b""),
                (b"0000000000000002", &big),
                (b"0000000000000003", b"ok"),
            ],
            false,
        ),
    )
    .unwrap();
    fs::write(
        d.join("torn.tcm"),
        raw_tcm(&[(b"0000000000000001", b"new")], true),
    )
    .unwrap();
    fs::write(
        d.join("torn.tcm.backup"),
        raw_tcm(&[(b"0000000000000001", b"old")], false),
    )
    .unwrap();
    fs::write(
        d.join("lost.tcm.abcdef.dumping"),
        raw_tcm(&[(b"0000000000000001", b"x")], false),
    )
    .unwrap();
    fs::write(d.join("zero.tcm"), b"").unwrap();
    fs::write(d.join("notes.txt"), b"not a dump").unwrap();
    fs::create_dir(d.join("subdir")).unwrap();
    fs::write(d.join("old.tcm"), [3u8, 0, 0, 0, 0, 0, 0, 0]).unwrap(); // pre-versioning format

    node.start();
    let mut c = node.connect();
    assert_eq!(
        c.channels(),
        [b"keys".to_vec(), b"torn".to_vec(), b"vals".to_vec()]
    );
    let keys = c.get_all(b"keys");
    let expect: Records = [
        (0xaa, b"hex".to_vec()),
        (0xbb, b"upper".to_vec()),
        (0x0102_0304_0506_0708, b"binary".to_vec()),
    ]
    .into();
    assert_eq!(keys, expect);
    assert_eq!(c.get_all(b"vals"), Records::from([(3, b"ok".to_vec())]));
    assert_eq!(c.get_all(b"torn"), Records::from([(1, b"old".to_vec())]));
    let log = node.root_log();
    for line in [
        "Found 2 invalid keys (40.00%) in channel 'keys'",
        "Found 1 empty values (33.33%) in channel 'vals'",
        "Found 1 too large values (33.33%) in channel 'vals'",
        "Channel 'torn': torn.tcm file ends at byte",
        "loaded the previous dump",
        "Unfinished dump file found",
        "zero.tcm in data directory is empty",
        "Ignoring subdirectory 'subdir'",
        "notes.txt: Ignoring file",
        "unsupported dump file format version 3",
    ] {
        assert!(log.contains(line), "root.log lacks {line:?}:\n{log}");
    }
    let files = node.files();
    assert!(
        files.iter().any(|f| f.starts_with("torn.tcm.torn-")),
        "{files:?}"
    );
    assert!(
        files.iter().any(|f| f.starts_with("old.tcm.unsupported-")),
        "{files:?}"
    );
    assert!(
        !files.contains(&"lost.tcm.abcdef.dumping".to_string()),
        "a crashed dump's temp file is deleted at start"
    );
}

/// Keys 2 (bit-reversed: in the lower half) and 1, 3 (upper half).
fn range_file(node: &Node) {
    let recs: &[(&[u8], &[u8])] = &[
        (b"0000000000000002", b"in"),
        (b"0000000000000001", b"out"),
        (b"0000000000000003", b"out"),
    ];
    fs::write(node.data().join("r.tcm"), raw_tcm(recs, false)).unwrap();
}

#[test]
fn out_of_range_records_per_allow_out_of_range() {
    let half = 0x7fff_ffff_ffff_ffff;
    let mut load = node_range(0, half, &[("allow_out_of_range", "load")]);
    range_file(&load);
    load.start();
    assert_eq!(load.connect().get_all(b"r").len(), 3);
    assert!(load
        .root_log()
        .contains("Found 2 out-of-range keys (66.67%) in channel 'r'"));

    let mut ignore = node_range(0, half, &[("allow_out_of_range", "ignore")]);
    range_file(&ignore);
    ignore.start();
    assert_eq!(
        ignore.connect().get_all(b"r"),
        Records::from([(2, b"in".to_vec())])
    );

    let mut fatal = node_range(0, half, &[("allow_out_of_range", "fatal")]);
    range_file(&fatal);
    let err = fatal.try_start().unwrap_err();
    assert!(err.contains("out-of-range key in channel 'r'"), "{err}");
}

#[test]
fn all_records_out_of_range_refuses_to_start() {
    let recs: Vec<(Vec<u8>, &[u8])> = (0..6u64)
        .map(|i| (swarm_protocol::format_key(2 * i + 1).to_vec(), &b"v"[..]))
        .collect();
    let refs: Vec<(&[u8], &[u8])> = recs.iter().map(|(k, v)| (&k[..], *v)).collect();
    let mut node = node_range(
        0,
        0x7fff_ffff_ffff_ffff,
        &[("abort_after_all_out_of_range", "5")],
    );
    fs::write(node.data().join("r.tcm"), raw_tcm(&refs, false)).unwrap();
    let err = node.try_start().unwrap_err();
    assert!(
        err.contains("All records appear to be out-of-range. Aborting."),
        "{err}"
    );

    let mut off = node_range(
        0,
        0x7fff_ffff_ffff_ffff,
        &[("abort_after_all_out_of_range", "0")],
    );
    fs::write(off.data().join("r.tcm"), raw_tcm(&refs, false)).unwrap();
    off.start();
    assert_eq!(off.connect().get_all(b"r").len(), 6);
}

#[test]
fn periodic_dump_runs_while_serving_and_survives_kill_9() {
    let mut node = node(&[("dump_period_s", "1")]);
    node.start();
    let recs = records(40_000, 99, 200);
    let mut c = node.connect();
    c.put_all(b"p", &recs);
    assert!(node.wait_log("Periodic dump finished", 2, Duration::from_secs(20)));
    c.put(b"p", 42, b"served meanwhile");
    drop(c);
    let log = node.root_log();
    let step = log
        .lines()
        .filter_map(|l| l.split("longest event-loop step ").nth(1))
        .filter_map(|r| r.split(' ').next()?.parse::<u64>().ok())
        .max()
        .unwrap();
    eprintln!("longest event-loop step during periodic dumps: {step} us");
    assert!(step < 50_000, "a dump step held the loop for {step} us");
    node.kill9();
    let on_disk = read_tcm(&node.data().join("p.tcm")).unwrap();
    assert!(
        on_disk == recs || on_disk.len() == recs.len() + 1,
        "a complete dump"
    );
    node.start();
    assert!(node.connect().get_all(b"p").len() >= recs.len());
}

#[test]
fn tcmcli_says_what_it_is_and_what_a_foreign_file_is() {
    let tcmcli = env!("CARGO_BIN_EXE_tcmcli");
    let help = std::process::Command::new(tcmcli)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.starts_with("Reads and writes dht .tcm channel dump files"),
        "{help}"
    );
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.sh");
    fs::write(&script, "#!/bin/sh\necho hello, this is not a dump\n").unwrap();
    let out = std::process::Command::new(tcmcli)
        .arg("-r")
        .arg(&script)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("script.sh: not a .tcm dump file"), "{err}");
}

#[test]
fn tcmcli_reads_and_writes_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("a.tcm");
    let recs: Vec<(Vec<u8>, Vec<u8>)> = (0..300u64)
        .map(|k| {
            (
                swarm_protocol::format_key(k * 7919).to_vec(),
                vec![k as u8; (k % 90) as usize],
            )
        })
        .collect();
    let refs: Vec<(&[u8], &[u8])> = recs.iter().map(|(k, v)| (&k[..], &v[..])).collect();
    fs::write(&src, raw_tcm(&refs, false)).unwrap();
    let tcmcli = env!("CARGO_BIN_EXE_tcmcli");
    let out = std::process::Command::new(tcmcli)
        .arg("-r")
        .arg(&src)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 300);
    assert!(
        text.starts_with("0000000000000000:\n0000000000001eef:AQ==\n"),
        "{}",
        &text[..60]
    );

    let dst = dir.path().join("b.tcm");
    let mut w = std::process::Command::new(tcmcli)
        .arg("write")
        .arg(&dst)
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    w.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    assert!(w.wait().unwrap().success());
    assert_eq!(fs::read(&dst).unwrap(), fs::read(&src).unwrap());

    let mut bad = std::process::Command::new(tcmcli)
        .arg("-w")
        .arg(dir.path().join("c.tcm"))
        .stdin(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    bad.stdin
        .take()
        .unwrap()
        .write_all(b"0000000000000001:AQ==\nnot a record\n")
        .unwrap();
    let out = bad.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2:"));
    assert!(
        !dir.path().join("c.tcm").exists(),
        "nothing written on a bad line"
    );
}
