//! `swarm`'s failures without a working node, and its help: a refused connection exits 3 at
//! once (under a second, no retry loop) naming the address, a listener that never answers
//! exits 3 after `--timeout`, usage errors exit 2, and `--help` works for every subcommand.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod swarm_common;

use std::net::TcpListener;
use std::time::Duration;
use swarm_common::{closed_port, swarm};

/// One command per node kind that has to reach a node.
const COMMANDS: &[&[&str]] = &[
    &["dht", "get", "ch", "0x1"],
    &["dht", "size"],
    &["queue", "push", "ch", "v"],
    &["queue", "pop", "ch"],
    &["queue", "consume", "ch"],
    &["queue", "size"],
    &["logs", "put", "ch", "0x1", "v"],
    &["logs", "getall", "ch"],
    &["logs", "size"],
];

#[test]
fn a_refused_connection_exits_3_at_once_naming_the_address() {
    let addr = format!("127.0.0.1:{}", closed_port());
    for cmd in COMMANDS {
        let mut args = vec!["--node", addr.as_str()];
        args.extend_from_slice(cmd);
        let run = swarm(&args, b"");
        assert_eq!(run.code, 3, "{cmd:?}: {}", run.stderr);
        assert!(
            run.elapsed < Duration::from_secs(1),
            "{cmd:?} took {:?}",
            run.elapsed
        );
        assert!(run.stderr.contains(&addr), "{cmd:?}: {}", run.stderr);
        assert!(
            run.stderr.to_lowercase().contains("refused"),
            "{cmd:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_silent_listener_exits_3_after_the_timeout() {
    // Connections complete in the kernel's backlog; nobody ever reads or answers.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    for cmd in COMMANDS {
        let mut args = vec!["--node", addr.as_str(), "--timeout", "1"];
        args.extend_from_slice(cmd);
        let run = swarm(&args, b"");
        assert_eq!(run.code, 3, "{cmd:?}: {}", run.stderr);
        assert!(
            run.elapsed >= Duration::from_secs(1),
            "{cmd:?} took {:?}",
            run.elapsed
        );
        assert!(
            run.elapsed < Duration::from_secs(4),
            "{cmd:?} took {:?}",
            run.elapsed
        );
        assert!(run.stderr.contains(&addr), "{cmd:?}: {}", run.stderr);
        assert!(run.stderr.contains("--timeout"), "{cmd:?}: {}", run.stderr);
    }
    drop(listener);
}

#[test]
fn usage_errors_exit_2_before_any_node_is_asked() {
    let addr = format!("127.0.0.1:{}", closed_port());
    let cases: &[(&[&str], &str)] = &[
        (&["dht", "get", "ch", "0x1"], "no node"),
        (&["--node", "nowhere", "dht", "ranges"], "HOST:PORT"),
        (
            &["--node", &addr, "dht", "get", "ch", "12"],
            "16 hex digits",
        ),
        (
            &[
                "--node",
                &addr,
                "--decimal",
                "logs",
                "range",
                "ch",
                "1",
                "x",
            ],
            "decimal",
        ),
        (
            &[
                "--node",
                &addr,
                "dht",
                "put",
                "ch",
                "0x1",
                "--file",
                "/nonexistent",
            ],
            "/nonexistent",
        ),
        (
            &["--node", &addr, "--hex", "queue", "push", "ch", "xyz"],
            "hex",
        ),
        (
            &["--nodes", "/nonexistent/nodes", "queue", "pop", "ch"],
            "/nonexistent/nodes",
        ),
        (
            &["--node", &addr, "--timeout", "0", "dht", "ranges"],
            "timeout",
        ),
        (
            &["--node", &addr, "--hex", "--json", "dht", "ranges"],
            "cannot be used",
        ),
        (&["--node", &addr, "dht", "frobnicate"], "unrecognized"),
    ];
    for (args, needle) in cases {
        let run = swarm(args, b"");
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(needle),
            "{needle:?} for {args:?}: {}",
            run.stderr
        );
        assert!(
            run.elapsed < Duration::from_secs(1),
            "{args:?} took {:?}",
            run.elapsed
        );
    }
}

#[test]
fn a_nodes_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("127.0.0.1:{}", closed_port());
    let path = dir.path().join("nodes.txt");
    std::fs::write(&path, format!("# test\n{addr}\n")).unwrap();
    let run = swarm(
        &["--nodes", path.to_str().unwrap(), "queue", "pop", "ch"],
        b"",
    );
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains(&addr), "{}", run.stderr);
}

#[test]
fn every_subcommand_has_help() {
    let tree: &[(&str, &[&str])] = &[
        (
            "dht",
            &[
                "get",
                "put",
                "remove",
                "exists",
                "getall",
                "keys",
                "listen",
                "channels",
                "size",
                "ranges",
                "remove-channel",
            ],
        ),
        (
            "queue",
            &[
                "push",
                "pop",
                "consume",
                "produce",
                "size",
                "channels",
                "remove-channel",
            ],
        ),
        (
            "logs",
            &[
                "put",
                "range",
                "getall",
                "size",
                "channels",
                "remove-channel",
            ],
        ),
    ];
    let top = swarm(&["--help"], b"").ok();
    assert!(top.text().contains("Exit codes:"), "{}", top.text());
    assert!(top.text().contains("--timeout"));
    for (kind, subs) in tree {
        let run = swarm(&[kind, "--help"], b"").ok();
        for sub in *subs {
            assert!(run.text().contains(sub), "{kind} --help lists {sub}");
            let help = swarm(&[kind, sub, "--help"], b"").ok().text();
            assert!(help.starts_with(char::is_uppercase), "{kind} {sub}: {help}");
            assert!(help.contains("Usage: swarm"), "{kind} {sub}: {help}");
            assert!(help.contains("--node"), "{kind} {sub}: globals listed");
        }
    }
    let put = swarm(&["dht", "put", "--help"], b"").ok().text();
    for needle in ["<CHANNEL>", "<KEY>", "[VALUE]", "--file", "stdin"] {
        assert!(put.contains(needle), "{needle:?} in {put}");
    }
}
