//! `scripts/deploy.sh` in a temp root: install of every program (layout, ownership, user and
//! group in ROOT's passwd and group, unit or jobs, logrotate rule), upgrade and rollback
//! (byte-identical binaries, the config untouched), the installed configs starting the real
//! programs on a free port, and the command line's errors.
//!
//! Installing creates a user and chowns, so it needs root; run as another user these tests say
//! so and pass (and fail under `CI=true`).
#![allow(clippy::unwrap_used)]

use std::fs;
use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use swarm_testkit::bins::node_bin;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn bin(name: &str) -> PathBuf {
    match name {
        "dhtnode" => node_bin("swarm-dht", "dhtnode", "DHTNODE_BIN"),
        "dhtdump" => node_bin("swarm-dhtdump", "dhtdump", "DHTDUMP_BIN"),
        "queuenode" => node_bin("swarm-queue", "queuenode", "QUEUENODE_BIN"),
        "logfilesnode" => node_bin("swarm-logfiles", "logfilesnode", "LOGFILESNODE_BIN"),
        other => panic!("no program {other}"),
    }
}

fn deploy(args: &[&str]) -> Output {
    Command::new(repo().join("scripts/deploy.sh"))
        .args(args)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn deploy_ok(args: &[&str]) -> String {
    let out = deploy(args);
    assert!(out.status.success(), "deploy.sh {args:?}: {}", text(&out));
    text(&out)
}

/// Whether this test can install (root); when not, panics under CI=true, else says why.
fn is_root() -> bool {
    let uid = fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX);
    if uid != 0 {
        let msg = "deploy.sh install needs root (useradd, chown)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
    }
    uid == 0
}

/// A temp root with the minimal passwd, group, shadow and gshadow useradd --prefix needs.
fn root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    fs::create_dir_all(&etc).unwrap();
    fs::write(etc.join("passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(etc.join("group"), "root:x:0:\n").unwrap();
    fs::write(etc.join("shadow"), "root:*:19000:0:99999:7:::\n").unwrap();
    fs::write(etc.join("gshadow"), "root:*::\n").unwrap();
    root
}

fn instance_dir(root: &Path, kind: &str, n: &str) -> PathBuf {
    match kind {
        "dhtdump" => root.join(format!("srv/dhtnode/dhtnode-{n}/dump")),
        _ => root.join(format!("srv/{kind}/{kind}-{n}")),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The uid and gid of `name` in ROOT's passwd.
fn user_ids(root: &Path) -> (u32, u32) {
    let passwd = fs::read_to_string(root.join("etc/passwd")).unwrap();
    let line = passwd.lines().find(|l| l.starts_with("swarm:")).unwrap();
    let f: Vec<&str> = line.split(':').collect();
    assert_eq!(f[6], "/usr/sbin/nologin", "{line}");
    let group = fs::read_to_string(root.join("etc/group")).unwrap();
    let g = group.lines().find(|l| l.starts_with("swarm:")).unwrap();
    let gid: u32 = g.split(':').nth(2).unwrap().parse().unwrap();
    assert_eq!(f[3].parse::<u32>().unwrap(), gid, "primary group");
    (f[2].parse().unwrap(), gid)
}

fn versions(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir.join("versions"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

/// Installs `kind` instance 1 into `root` and checks the layout.
fn install(root: &Path, kind: &str, port: Option<u16>) -> PathBuf {
    let r = root.to_str().unwrap();
    let b = bin(kind);
    let mut args = vec![
        "install",
        kind,
        "1",
        "--root",
        r,
        "--binary",
        b.to_str().unwrap(),
    ];
    let port = port.map(|p| p.to_string());
    if let Some(p) = &port {
        args.extend(["--port", p]);
    }
    args.extend(["--init", "systemd"]);
    deploy_ok(&args);
    let dir = instance_dir(root, kind, "1");
    let installed = dir.join(kind);
    assert_eq!(fs::read(&installed).unwrap(), fs::read(&b).unwrap());
    assert_eq!(
        fs::metadata(&installed).unwrap().permissions().mode() & 0o777,
        0o755
    );
    let (uid, gid) = user_ids(root);
    let mut owned = vec!["log"];
    if kind != "dhtdump" {
        owned.push("data");
    }
    for sub in owned {
        let m = fs::metadata(dir.join(sub)).unwrap();
        assert!(m.is_dir(), "{kind}: {sub}");
        assert_eq!((m.uid(), m.gid()), (uid, gid), "{kind}: {sub} owner");
    }
    assert!(dir.join("versions").is_dir());
    assert!(dir.join("etc/config.ini").is_file());
    let unit = root.join(format!("etc/systemd/system/{kind}@.service"));
    let repo_unit = repo().join(format!("etc/systemd/{kind}@.service"));
    assert_eq!(fs::read(unit).unwrap(), fs::read(repo_unit).unwrap());
    let rule = root.join(format!("etc/logrotate.d/swarm-{kind}"));
    let repo_rule = repo().join(format!("etc/logrotate/{kind}"));
    assert_eq!(fs::read(rule).unwrap(), fs::read(repo_rule).unwrap());
    dir
}

/// Upgrades to a changed binary (the old one plus a trailing comment, still runnable), then
/// rolls back; checks both binaries, versions/ and that the config did not change.
fn upgrade_and_roll_back(root: &Path, kind: &str, dir: &Path) {
    let r = root.to_str().unwrap();
    let old = fs::read(dir.join(kind)).unwrap();
    let config = fs::read(dir.join("etc/config.ini")).unwrap();
    let mut new = old.clone();
    new.extend_from_slice(b"\n# swarmnodes deploy test build\n");
    let new_path = root.join(format!("{kind}.new"));
    fs::write(&new_path, &new).unwrap();
    fs::set_permissions(&new_path, fs::Permissions::from_mode(0o755)).unwrap();

    deploy_ok(&[
        "upgrade",
        kind,
        "1",
        "--root",
        r,
        "--binary",
        new_path.to_str().unwrap(),
    ]);
    assert_eq!(
        fs::read(dir.join(kind)).unwrap(),
        new,
        "{kind}: new binary in place"
    );
    let kept = versions(dir);
    assert_eq!(kept.len(), 1, "{kind}: {kept:?}");
    let name = kept[0].file_name().unwrap().to_str().unwrap().to_owned();
    let stamp = name.strip_prefix(&format!("{kind}-")).unwrap();
    assert!(stamp.len() == 15 && stamp.as_bytes()[8] == b'T', "{name}");
    assert_eq!(fs::read(&kept[0]).unwrap(), old, "{kind}: old binary kept");
    assert_eq!(fs::read(dir.join("etc/config.ini")).unwrap(), config);

    let said = deploy_ok(&["rollback", kind, "1", "--root", r]);
    assert_eq!(
        fs::read(dir.join(kind)).unwrap(),
        old,
        "{kind}: rolled back"
    );
    let kept = versions(dir);
    assert_eq!(kept.len(), 1, "{kind}: {kept:?}");
    assert!(
        kept[0].to_str().unwrap().ends_with(".rolled-back"),
        "{kept:?}"
    );
    assert_eq!(
        fs::read(&kept[0]).unwrap(),
        new,
        "{kind}: replaced binary kept"
    );
    assert!(said.contains("undo with"), "{said}");
    assert_eq!(fs::read(dir.join("etc/config.ini")).unwrap(), config);

    // Nothing older is left: a second rollback refuses, naming the directory.
    let out = deploy(&["rollback", kind, "1", "--root", r]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains(&dir.join("versions").display().to_string()));
    let status = deploy_ok(&["status", kind, "1", "--root", r]);
    assert!(status.contains(".rolled-back"), "{status}");
}

/// Runs the installed program from its directory with its installed config until it says it
/// listens (dhtdump: until its --oneshot dump is done); then SIGTERM, exit 0.
fn run_installed(dir: &Path, kind: &str, extra: &[&str]) {
    let mut child = Command::new(dir.join(kind))
        .args(["-c", "etc/config.ini"])
        .args(extra)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if kind == "dhtdump" {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "dhtdump --oneshot: {err}");
        assert!(!err.contains("unknown "), "config warnings: {err}");
        return;
    }
    let stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    for line in BufReader::new(stderr).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("listening on") {
            break;
        }
    }
    assert!(seen.contains("listening on"), "{kind}: {seen}");
    assert!(
        !seen.contains("unknown "),
        "{kind}: config warnings: {seen}"
    );
    let addr = seen
        .split("listening on ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next();
    let port: u16 = addr.unwrap().rsplit(':').next().unwrap().parse().unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "{kind}: no answer on {port}"
    );
    let status = Command::new("kill").arg(child.id().to_string()).status();
    assert!(status.unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "{kind} did not stop");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(exit.success(), "{kind}: {exit}");
    assert!(dir.join("log/root.log").is_file(), "{kind}: no root.log");
}

#[test]
fn install_upgrade_rollback_and_start_every_program() {
    if !is_root() {
        return;
    }
    let root = root();
    let dht_port = free_port();
    let dht = install(root.path(), "dhtnode", Some(dht_port));
    let dump = install(root.path(), "dhtdump", None);
    // dhtdump dumps its own node: the node's port and its data directory.
    let dump_conf = fs::read_to_string(dump.join("etc/config.ini")).unwrap();
    assert!(
        dump_conf.contains(&format!("\nport = {dht_port}\n")),
        "{dump_conf}"
    );
    assert!(dump_conf.contains("\ndata_dir = ../data\n"));
    let queue = install(root.path(), "queuenode", Some(free_port()));
    let logfiles = install(root.path(), "logfilesnode", Some(free_port()));
    // One user and group for all of them.
    let passwd = fs::read_to_string(root.path().join("etc/passwd")).unwrap();
    assert_eq!(passwd.matches("swarm:").count(), 1, "{passwd}");

    for (kind, dir) in [("dhtnode", &dht), ("dhtdump", &dump), ("queuenode", &queue)] {
        upgrade_and_roll_back(root.path(), kind, dir);
    }
    upgrade_and_roll_back(root.path(), "logfilesnode", &logfiles);

    for (kind, dir) in [("queuenode", &queue), ("logfilesnode", &logfiles)] {
        run_installed(dir, kind, &[]);
    }
    // The dht node serves while its dhtdump dumps it once.
    let mut node = Command::new(dht.join("dhtnode"))
        .args(["-c", "etc/config.ini"])
        .current_dir(&dht)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(node.stderr.take().unwrap()).lines();
    let listening = lines
        .by_ref()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"));
    assert!(listening.is_some_and(|l| l.contains(&format!(":{dht_port}"))));
    run_installed(&dump, "dhtdump", &["--oneshot"]);
    let _ = Command::new("kill").arg(node.id().to_string()).status();
    assert!(node.wait().unwrap().success());
}

#[test]
fn install_keeps_an_existing_config_and_installs_upstart_jobs() {
    if !is_root() {
        return;
    }
    let root = root();
    let r = root.path().to_str().unwrap();
    let b = bin("queuenode");
    let args = [
        "install",
        "queuenode",
        "7",
        "--root",
        r,
        "--binary",
        b.to_str().unwrap(),
    ];
    let mut first = args.to_vec();
    first.extend(["--init", "upstart", "--port", "11007"]);
    deploy_ok(&first);
    for job in ["queue", "queuenode-instance"] {
        let installed = fs::read(root.path().join(format!("etc/init/{job}.conf"))).unwrap();
        assert_eq!(
            installed,
            fs::read(repo().join(format!("etc/init/{job}.conf"))).unwrap()
        );
    }
    let config = instance_dir(root.path(), "queuenode", "7").join("etc/config.ini");
    assert!(fs::read_to_string(&config)
        .unwrap()
        .contains("\nport = 11007\n"));
    fs::write(&config, "; edited by the operator\n").unwrap();
    let mut again = args.to_vec();
    again.extend(["--port", "11008", "--no-service"]);
    let said = deploy_ok(&again);
    assert!(said.contains("kept"), "{said}");
    assert_eq!(
        fs::read_to_string(&config).unwrap(),
        "; edited by the operator\n"
    );
}

#[test]
fn bad_arguments_exit_2_and_failures_name_the_path() {
    let help = deploy(&["--help"]);
    assert!(help.status.success());
    assert!(
        text(&help).contains("deploy.sh rollback KIND INSTANCE"),
        "{}",
        text(&help)
    );
    for args in [
        &["install"][..],
        &["frobnicate", "dhtnode", "1"],
        &["install", "redisnode", "1"],
        &["install", "dhtnode", "../1"],
        &["install", "dhtnode", "1", "--colour"],
        &["rollback", "dhtnode", "1", "--binary", "x"],
        &["install", "dhtnode", "1", "--port", "70000"],
    ] {
        let out = deploy(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    let root = root();
    let r = root.path().to_str().unwrap();
    let out = deploy(&[
        "upgrade", "dhtnode", "1", "--root", r, "--binary", "/bin/sh",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let missing = instance_dir(root.path(), "dhtnode", "1").join("dhtnode");
    assert!(
        text(&out).contains(&missing.display().to_string()),
        "{}",
        text(&out)
    );
    if is_root() {
        let out = deploy(&[
            "install", "dhtdump", "1", "--root", r, "--binary", "/bin/sh",
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out).contains("install dhtnode 1 first"),
            "{}",
            text(&out)
        );
        let out = deploy(&[
            "install",
            "dhtnode",
            "1",
            "--root",
            r,
            "--binary",
            "/nonexistent",
        ]);
        assert_eq!(out.status.code(), Some(1));
        assert!(text(&out).contains("/nonexistent"), "{}", text(&out));
    }
}
