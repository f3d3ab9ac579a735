//! Corpus replay on stable Rust: every file of `fuzz/regressions/<target>/` (crash inputs found
//! by libFuzzer, kept with their fix, and hand-made edge inputs) and of `fuzz/corpus/<target>/`
//! (a small committed seed corpus) goes through its target's check, under the same allocation
//! cap the fuzz targets run with. A panicking check fails the test and names the file.

use std::fs;
use std::panic;
use std::path::{Path, PathBuf};
use swarm_fuzz_checks::{CappedAlloc, Check, CHECKS};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The files of `dir` (none when it does not exist), sorted so failures repeat in order.
fn files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs every file through `check`; returns the files that made it panic, with the message.
fn replay(check: Check, files: &[PathBuf]) -> Vec<String> {
    let mut failed = Vec::new();
    for path in files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if let Err(payload) = panic::catch_unwind(|| check(&data)) {
            let msg = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("(no message)");
            failed.push(format!("{}: {msg}", path.display()));
        }
    }
    failed
}

fn replay_all(kind: &str) -> usize {
    let mut count = 0;
    let mut failed = Vec::new();
    for &(name, check) in CHECKS {
        let files = files(&fuzz_dir().join(kind).join(name));
        count += files.len();
        failed.extend(replay(check, &files));
    }
    assert!(
        failed.is_empty(),
        "{} inputs fail:\n{}",
        failed.len(),
        failed.join("\n")
    );
    count
}

#[test]
fn regression_inputs_pass_their_checks() {
    let n = replay_all("regressions");
    assert!(n >= CHECKS.len(), "only {n} regression inputs");
}

#[test]
fn seed_corpus_passes_its_checks() {
    let n = replay_all("corpus");
    assert!(n >= 10 * CHECKS.len(), "only {n} corpus inputs");
}

#[test]
fn every_target_has_regression_and_corpus_inputs() {
    for &(name, _) in CHECKS {
        for kind in ["regressions", "corpus"] {
            let dir = fuzz_dir().join(kind).join(name);
            assert!(!files(&dir).is_empty(), "{} is empty", dir.display());
        }
    }
}

#[test]
fn every_check_has_a_fuzz_target() {
    let targets = fuzz_dir().join("fuzz_targets");
    for &(name, _) in CHECKS {
        let path = targets.join(format!("{name}.rs"));
        let src = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            src.contains(&format!("swarm_fuzz_checks::{name}(")),
            "{}",
            path.display()
        );
    }
}

/// The replay must be able to fail: a check that panics on one input is reported with the
/// file, and the others still run.
#[test]
fn replay_reports_a_panicking_check() {
    fn picky(data: &[u8]) {
        assert!(data != b"bad", "picky refuses bad");
    }
    let dir = std::env::temp_dir().join(format!("swarm-fuzz-replay-{}", std::process::id()));
    fs::create_dir_all(&dir).expect("temp dir");
    fs::write(dir.join("a"), b"good").expect("write");
    fs::write(dir.join("b"), b"bad").expect("write");
    let failed = replay(picky, &files(&dir));
    fs::remove_dir_all(&dir).expect("clean up");
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].contains("picky refuses bad") && failed[0].ends_with("b: picky refuses bad"));
}
