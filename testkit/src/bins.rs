//! A node binary of another package, for integration tests outside that package: Cargo sets
//! `CARGO_BIN_EXE_*` only for a package's own binaries (and artifact dependencies are
//! unstable), so [`node_bin`] runs `cargo build -p <package> --bin <bin>` with the running
//! test's cargo, target directory and profile, and takes the binary from beside the test: never
//! a stale binary from elsewhere. It is not a no-op after `cargo test --workspace`: `-p` resolves
//! the dependencies' features without the other packages' dev-dependencies, so it rebuilds the
//! node crates. An environment variable naming a binary skips the build; `scripts/check.sh` sets
//! them to the binaries its `cargo test --workspace --no-run` built.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary `bin` of `package`: `$env` if set, else built into the running test's target
/// directory and profile.
pub fn node_bin(package: &str, bin: &str, env: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env) {
        return PathBuf::from(path);
    }
    // The test binary is target/<profile>/deps/<name>-<hash>.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let profile = match profile_dir.file_name().unwrap().to_str().unwrap() {
        "debug" => "test", // `cargo test` builds with the test profile into debug/
        other => other,
    };
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    // This crate sits one level below the workspace root, as every crate of the workspace.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let status = Command::new(cargo)
        .args(["build", "--quiet", "-p", package, "--bin", bin])
        .arg("--profile")
        .arg(profile)
        .arg("--manifest-path")
        .arg(manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {bin}: {e}"));
    assert!(status.success(), "building {bin} failed");
    profile_dir.join(bin)
}
