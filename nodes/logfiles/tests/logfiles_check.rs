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
