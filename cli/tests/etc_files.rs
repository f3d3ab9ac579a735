//! The files in `etc/` against the tools and programs that read them: `systemd-analyze verify`
//! on every unit (its paths moved into a temp dir holding the built binaries), `logrotate` on
//! every rule (a dry run, then a forced rotation whose reloads go to stand-in `systemctl` and
//! `initctl` commands), every example config.ini against its program's config reader and key
//! list, and the supervisord example against the programs and the deploy layout.
//!
//! `systemd-analyze verify` checks the syntax, the dependencies (BindsTo of dhtdump) and that
//! ExecStart is executable; it does not resolve `User=`/`Group=` (swarm need not exist here).
//! Without logrotate or systemd-analyze the tests that need them say so and pass, except under
//! `CI=true`, where they fail: `scripts/check.sh` installs both.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use swarm_core::ServerConfig;
use swarm_testkit::bins::node_bin;

/// Every program: its binary, the package and env variable of `node_bin`, its etc/ directory.
const PROGRAMS: &[(&str, &str, &str, &str)] = &[
    ("dhtnode", "swarm-dht", "DHTNODE_BIN", "dht"),
    ("dhtdump", "swarm-dhtdump", "DHTDUMP_BIN", "dhtdump"),
    ("queuenode", "swarm-queue", "QUEUENODE_BIN", "queue"),
    (
        "logfilesnode",
        "swarm-logfiles",
        "LOGFILESNODE_BIN",
        "logfiles",
    ),
];

fn etc() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../etc")
}

/// `tool` from PATH or the sbin directories (logrotate is in /usr/sbin, often not in a user's
/// PATH); when missing, panics under CI=true and says why otherwise.
fn tool(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file());
    if found.is_none() {
        let msg = format!("{tool} is not installed (scripts/check.sh installs it)");
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
    }
    found
}

/// The instance directory a unit or job of `bin` runs in, below `srv`.
fn instance_dir(srv: &Path, bin: &str, instance: &str) -> PathBuf {
    match bin {
        "dhtdump" => srv.join(format!("dhtnode/dhtnode-{instance}/dump")),
        _ => srv.join(format!("{bin}/{bin}-{instance}")),
    }
}

#[test]
fn systemd_units_verify_with_the_built_binaries() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let units = tmp.path().join("units");
    let srv = tmp.path().join("srv");
    fs::create_dir_all(&units).unwrap();
    for (bin, package, env, _) in PROGRAMS {
        let text = fs::read_to_string(etc().join(format!("systemd/{bin}@.service"))).unwrap();
        assert!(text.contains("User=swarm\nGroup=swarm\n"), "{bin}: user");
        assert!(
            text.contains("ExecReload=/bin/kill -HUP $MAINPID"),
            "{bin}: reload"
        );
        let moved = text.replace("/srv/", &format!("{}/", srv.display()));
        fs::write(units.join(format!("{bin}@.service")), moved).unwrap();
        let dir = instance_dir(&srv, bin, "1");
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(dir.join("etc/config.ini"), "").unwrap();
        fs::copy(node_bin(package, bin, env), dir.join(bin)).unwrap();
    }
    for (bin, ..) in PROGRAMS {
        let out = Command::new(&analyze)
            .arg("verify")
            .arg(units.join(format!("{bin}@1.service")))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{bin}@1: {stderr}");
        assert_eq!(stderr, "", "{bin}@1 gave warnings");
    }
    // It can fail: instance 2 has no binary.
    let out = Command::new(&analyze)
        .arg("verify")
        .arg(units.join("dhtnode@2.service"))
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn dumping_nodes_are_never_cut_short_and_dhtdump_follows_its_node() {
    for bin in ["dhtnode", "queuenode"] {
        let text = fs::read_to_string(etc().join(format!("systemd/{bin}@.service"))).unwrap();
        assert!(
            text.contains("TimeoutStopSec=infinity\nSendSIGKILL=no\n"),
            "{bin}"
        );
    }
    let dump = fs::read_to_string(etc().join("systemd/dhtdump@.service")).unwrap();
    for line in ["BindsTo=", "PartOf=", "After="] {
        assert!(
            dump.contains(&format!("{line}dhtnode@%i.service\n")),
            "{line}"
        );
    }
    for job in ["dhtnode", "dhtdump", "queuenode", "logfilesnode"] {
        let text = fs::read_to_string(etc().join(format!("init/{job}-instance.conf"))).unwrap();
        assert!(text.contains("setuid swarm\nsetgid swarm\n"), "{job}");
        assert!(
            text.contains("/$INSTANCE") || text.contains("-$INSTANCE"),
            "{job}"
        );
    }
}

/// Writes an executable shell script.
fn script(path: &Path, text: &str) {
    fs::write(path, format!("#!/bin/sh\n{text}")).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Stand-ins for systemctl and initctl: instance 1 of `bin` runs, instance 2 is stopped; a
/// reload is written to `calls`, and fails when the file `fail` exists.
fn fake_inits(dir: &Path, bin: &str, job: &str) {
    let calls = dir.join("calls");
    let fail = dir.join("fail");
    let reload = format!(
        "echo \"reload $*\" >>{}; [ ! -e {} ]",
        calls.display(),
        fail.display()
    );
    script(
        &dir.join("systemctl"),
        &format!(
            "case \"$1\" in\nlist-units) echo '{bin}@1.service loaded active running x' ;;\n\
             reload) shift; {reload} ;;\n*) exit 1 ;;\nesac\n"
        ),
    );
    script(
        &dir.join("initctl"),
        &format!(
            "case \"$1\" in\nlist) echo '{job} (1) start/running, process 1'; \
             echo '{job} (2) stop/waiting' ;;\nreload) shift; {reload} ;;\n*) exit 1 ;;\nesac\n"
        ),
    );
}

fn logrotate(bin: &Path, rule: &Path, state: &Path, path_env: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .arg("-s")
        .arg(state)
        .arg(rule)
        .env("PATH", path_env)
        .output()
        .unwrap()
}

#[test]
fn logrotate_rules_rotate_and_reload_only_running_instances() {
    let Some(logrotate_bin) = tool("logrotate") else {
        return;
    };
    for (bin, ..) in PROGRAMS {
        let text = fs::read_to_string(etc().join(format!("logrotate/{bin}"))).unwrap();
        assert!(
            !text.contains("|| true"),
            "{bin}: a failure must not be hidden"
        );
        let tmp = tempfile::tempdir().unwrap();
        let srv = tmp.path().join("srv");
        let fake = tmp.path().join("bin");
        fs::create_dir_all(&fake).unwrap();
        let job = format!("{bin}-instance");
        fake_inits(&fake, bin, &job);
        let rule = tmp.path().join("rule");
        fs::write(&rule, text.replace("/srv/", &format!("{}/", srv.display()))).unwrap();
        let mut logs = Vec::new();
        for instance in ["1", "2"] {
            let log = instance_dir(&srv, bin, instance).join("log");
            fs::create_dir_all(&log).unwrap();
            for name in ["root.log", "stats.log"] {
                fs::write(log.join(name), "a line\n").unwrap();
                logs.push(log.join(name));
            }
        }
        let state = tmp.path().join("state");
        let path_env = format!("{}:{}", fake.display(), std::env::var("PATH").unwrap());

        let dry = logrotate(&logrotate_bin, &rule, &state, &path_env, &["-d"]);
        let said = String::from_utf8_lossy(&dry.stderr).to_string()
            + &String::from_utf8_lossy(&dry.stdout);
        assert!(dry.status.success(), "{bin}: logrotate -d: {said}");
        for log in &logs {
            assert!(
                said.contains(&log.display().to_string()),
                "{bin}: {log:?}: {said}"
            );
        }

        let run = logrotate(&logrotate_bin, &rule, &state, &path_env, &["-f"]);
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(run.status.success(), "{bin}: logrotate -f: {err}");
        for log in &logs {
            let rotated = PathBuf::from(format!("{}.1", log.display()));
            assert!(rotated.exists(), "{bin}: {rotated:?} missing");
        }
        let calls = fs::read_to_string(fake.join("calls")).unwrap();
        let expected = [
            format!("reload {bin}@1.service\n"),
            format!("reload {job} INSTANCE=1\n"),
        ];
        assert!(expected.contains(&calls), "{bin}: reloads {calls:?}");

        // A reload that fails fails the rotation.
        fs::write(fake.join("fail"), "").unwrap();
        for log in &logs {
            fs::write(log, "another line\n").unwrap();
        }
        let run = logrotate(&logrotate_bin, &rule, &state, &path_env, &["-f"]);
        assert!(
            !run.status.success(),
            "{bin}: a failed reload was not reported"
        );
    }
}

/// `(section, key)` of every `key = value` line of `text`, commented out (`; key = value`) or
/// not, under the last `[section]` line above it (also commented out).
fn documented_keys(text: &str) -> BTreeSet<(String, String)> {
    let mut keys = BTreeSet::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.strip_prefix(';').unwrap_or(line).trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let Some((key, _)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let is_name =
            !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
        if is_name {
            keys.insert((section.clone(), key.to_owned()));
        }
    }
    keys
}

/// What every example documents beside the program's key list: the log and stats keys (their
/// sections are never warned about, so no key list holds them), metrics included.
const LOG_AND_STATS_KEYS: &[(&str, &str)] = &[
    ("LOG.Root", "file"),
    ("STATS", "file_name"),
    ("STATS", "http_port"),
    ("STATS", "http_address"),
];

fn check_documented(example: &str, known: &[(&str, &str)]) {
    let text = fs::read_to_string(etc().join(example)).unwrap();
    let documented = documented_keys(&text);
    let sections: BTreeSet<&str> = documented.iter().map(|(s, _)| s.as_str()).collect();
    for (section, key) in known.iter().chain(LOG_AND_STATS_KEYS) {
        let found = if *key == "*" {
            sections.contains(section)
        } else {
            documented.contains(&((*section).to_owned(), (*key).to_owned()))
        };
        assert!(found, "{example} does not document [{section}] {key}");
    }
}

fn ini(example: &str) -> (ini::Ini, String) {
    let path = etc().join(example);
    (
        swarm_core::config::load_ini(&path).unwrap(),
        example.to_owned(),
    )
}

#[test]
fn example_configs_load_without_warnings_and_document_every_key() {
    let with_server = |own: &[(&'static str, &'static str)]| {
        let mut known = ServerConfig::KNOWN_KEYS.to_vec();
        known.extend_from_slice(own);
        known
    };

    let (dht, name) = ini("dht/config.ini");
    swarm_dht::config::DhtConfig::from_ini(&dht, &name).unwrap();
    assert_eq!(swarm_dht::config::DhtConfig::warnings(&dht, &name), []);
    check_documented(&name, &with_server(swarm_dht::config::KNOWN_KEYS));

    let (queue, name) = ini("queue/config.ini");
    swarm_queue::config::QueueConfig::from_ini(&queue, &name).unwrap();
    assert_eq!(
        swarm_queue::config::QueueConfig::warnings(&queue, &name),
        []
    );
    check_documented(&name, &with_server(swarm_queue::config::KNOWN_KEYS));

    let (logfiles, name) = ini("logfiles/config.ini");
    swarm_logfiles::config::LogfilesConfig::from_ini(&logfiles, &name).unwrap();
    assert_eq!(
        swarm_logfiles::config::LogfilesConfig::warnings(&logfiles, &name),
        []
    );
    check_documented(&name, &with_server(swarm_logfiles::config::KNOWN_KEYS));

    let (dump, name) = ini("dhtdump/config.ini");
    swarm_dhtdump::config::DumpConfig::from_ini(&dump, &name).unwrap();
    assert_eq!(swarm_dhtdump::config::warnings(&dump, &name), []);
    check_documented(&name, swarm_dhtdump::config::KNOWN_KEYS);
}

#[test]
#[should_panic(expected = "does not document [Server] no_such_key")]
fn a_key_missing_from_an_example_fails_the_check() {
    check_documented("dht/config.ini", &[("Server", "no_such_key")]);
}

/// The `deploy.sh install KIND N --port P` lines of the supervisord example's header.
fn deploy_lines(text: &str) -> Vec<(String, String, u16)> {
    text.lines()
        .filter_map(|l| l.split("deploy.sh install ").nth(1))
        .filter_map(|rest| {
            let words: Vec<&str> = rest.split_whitespace().collect();
            match words.as_slice() {
                [kind, n, "--port", port, ..] => {
                    Some(((*kind).to_owned(), (*n).to_owned(), port.parse().ok()?))
                }
                _ => None,
            }
        })
        .collect()
}

#[test]
fn supervisord_example_runs_distinct_instances_of_existing_programs() {
    let path = etc().join("supervisord/swarmnodes.conf");
    let text = fs::read_to_string(&path).unwrap();
    let conf = ini::Ini::load_from_str(&text).unwrap();
    let installs = deploy_lines(&text);
    let ports: BTreeSet<u16> = installs.iter().map(|(_, _, p)| *p).collect();
    assert_eq!(
        ports.len(),
        installs.len(),
        "ports not distinct: {installs:?}"
    );
    let mut dirs = BTreeSet::new();
    let mut programs = BTreeSet::new();
    for (section, props) in conf.iter() {
        let Some(name) = section.and_then(|s| s.strip_prefix("program:")) else {
            continue;
        };
        let (kind, instance) = name.rsplit_once('-').unwrap();
        assert!(
            PROGRAMS.iter().any(|(bin, ..)| *bin == kind),
            "{name}: no program {kind}"
        );
        let dir = props.get("directory").unwrap();
        let expected = instance_dir(Path::new("/srv"), kind, instance);
        assert_eq!(Path::new(dir), expected, "{name}: directory");
        let command = props.get("command").unwrap();
        assert_eq!(
            command,
            format!("{dir}/{kind} -c {dir}/etc/config.ini"),
            "{name}: command"
        );
        assert_eq!(props.get("user"), Some("swarm"), "{name}");
        assert_eq!(props.get("stopsignal"), Some("TERM"), "{name}");
        let wait: u64 = props.get("stopwaitsecs").unwrap().parse().unwrap();
        if kind == "dhtnode" || kind == "queuenode" {
            assert!(
                wait >= 3600,
                "{name}: stopwaitsecs {wait} cuts its dump short"
            );
        }
        if kind != "dhtdump" {
            let port = installs.iter().find(|(k, n, _)| k == kind && n == instance);
            assert!(
                port.is_some(),
                "{name}: no deploy.sh install line with its port"
            );
        }
        assert!(dirs.insert(dir.to_owned()), "{name}: directory used twice");
        programs.insert(name.to_owned());
    }
    assert!(programs.len() >= 6, "{programs:?}");
    for (section, props) in conf.iter() {
        if section.is_some_and(|s| s.starts_with("group:")) {
            for p in props.get("programs").unwrap().split(',') {
                assert!(programs.contains(p.trim()), "group names {p}");
            }
        }
    }
}
