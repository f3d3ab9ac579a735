//! The `logfiles_check` binary on a data directory with a damaged bucket: found, repaired, then
//! sound; its exit codes.
#![allow(clippy::unwrap_used)]

use std::fs;
use std::process::Command;
use swarm_logfiles::storage::write::ChannelWriter;
use swarm_protocol::bucket::path::bucket_path;

fn run(args: &[&std::ffi::OsStr]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_logfiles_check"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn finds_repairs_and_then_passes() {
    let dir = tempfile::tempdir().unwrap();
    for ch in ["a", "b"] {
        let mut w = ChannelWriter::new(4096);
        let ch_dir = dir.path().join(ch);
        for k in 0..100u64 {
            w.put_now(
                dir.path(),
                &ch_dir,
                k * 100,
                format!("record {k}").as_bytes(),
            )
            .unwrap();
        }
        w.close_all().unwrap();
    }
    let data = dir.path().as_os_str();
    let (code, text) = run(&[data]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("200 good records, 0 damaged"), "{text}");
    // Flip a parity byte in the middle of channel b's first bucket.
    let file = dir.path().join(bucket_path("b", 0));
    let mut bytes = fs::read(&file).unwrap();
    let at = 16 + 10 * (17 + 8) + 16;
    bytes[at] ^= 0x55;
    fs::write(&file, &bytes).unwrap();
    let (code, text) = run(&[data]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("DAMAGED") && text.contains("parity"),
        "{text}"
    );
    let (code, text) = run(&[data, "--repair".as_ref()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("1 repaired"), "{text}");
    assert!(fs::read_dir(file.parent().unwrap()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("000.cut-")));
    let (code, text) = run(&[data]);
    assert_eq!(code, 0, "{text}");
    // One file alone, and a path that does not exist.
    let (code, _) = run(&[file.as_os_str()]);
    assert_eq!(code, 0);
    let (code, text) = run(&[dir.path().join("nope").as_os_str()]);
    assert_eq!(code, 3, "{text}");
    let (code, _) = run(&[]);
    assert_eq!(code, 2);
}

/// Four kinds of damage injected into files the node wrote: each is found (exit 1, the file
/// named), `--repair` cuts each after its last good record, and the node then reads every
/// repaired file to its end and appends after it.
#[test]
fn damage_the_node_wrote_is_found_repaired_and_then_read_to_the_end() {
    use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};
    let mut node = LogfilesNode::new(env!("CARGO_BIN_EXE_logfilesnode"), &[]);
    node.start();
    let mut c = node.connect();
    // Four buckets of 20 records each (keys 0x1000 apart per bucket).
    let bucket = |b: u64| -> Vec<Record> {
        (0..20u64)
            .map(|i| {
                (
                    b * 0x1000 + i,
                    format!("bucket {b} record {i}").into_bytes(),
                )
            })
            .collect()
    };
    for b in 1..=4 {
        c.put_all(b"ch", &bucket(b));
    }
    node.stop();
    let data = node.data();
    let file = |b: u64| data.join(bucket_path("ch", b * 0x1000));
    // Record 10's header offset in each v1 file (all values are 17 or 18 bytes).
    let offset_of = |bytes: &[u8], n: usize| {
        let mut at = 16usize;
        for _ in 0..n {
            let len = u64::from_le_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize;
            at += 17 + len;
        }
        at
    };
    // 1: a flipped byte in a record header's length (parity fails).
    let mut b1 = fs::read(file(1)).unwrap();
    let at = offset_of(&b1, 10);
    b1[at + 9] ^= 0x40;
    fs::write(file(1), &b1).unwrap();
    // 2: a flipped parity byte.
    let mut b2 = fs::read(file(2)).unwrap();
    let at = offset_of(&b2, 10);
    b2[at + 16] ^= 0x01;
    fs::write(file(2), &b2).unwrap();
    // 3: the file cut inside record 10.
    let b3 = fs::read(file(3)).unwrap();
    let at = offset_of(&b3, 10);
    fs::write(file(3), &b3[..at + 20]).unwrap();
    // 4: record 10's key moved out of the bucket's range (parity kept right).
    let mut b4 = fs::read(file(4)).unwrap();
    let at = offset_of(&b4, 10);
    let key = 0x0900_0000u64;
    let len = u64::from_le_bytes(b4[at + 8..at + 16].try_into().unwrap());
    b4[at..at + 8].copy_from_slice(&key.to_le_bytes());
    b4[at + 16] = swarm_protocol::bucket::parity(key, len);
    fs::write(file(4), &b4).unwrap();

    let (code, text) = run(&[data.as_os_str()]);
    assert_eq!(code, 1, "{text}");
    for b in 1..=4 {
        assert!(
            text.contains(&file(b).display().to_string()),
            "file {b} named: {text}"
        );
    }
    let (code, text) = run(&[data.as_os_str(), "--repair".as_ref()]);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("4 repaired"), "{text}");
    let (code, text) = run(&[data.as_os_str()]);
    assert_eq!(code, 0, "after the repair: {text}");
    for b in 1..=4 {
        assert_eq!(
            fs::metadata(file(b)).unwrap().len(),
            offset_of(&fs::read(file(b)).unwrap(), 10) as u64
        );
    }

    node.start();
    let mut c = node.connect();
    let mut want: Vec<Record> = (1..=4).flat_map(|b| bucket(b)[..10].to_vec()).collect();
    assert_eq!(
        c.get_all(b"ch"),
        want,
        "every repaired file read to its end"
    );
    // Appends after a repair are read too.
    for b in 1..=4 {
        c.put(b"ch", b * 0x1000 + 0xfff, b"after the repair");
    }
    want.clear();
    for b in 1..=4 {
        want.extend(bucket(b)[..10].to_vec());
        want.push((b * 0x1000 + 0xfff, b"after the repair".to_vec()));
    }
    assert_eq!(c.get_all(b"ch"), want);
    node.stop();
}
