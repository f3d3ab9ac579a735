//! The test hosts of `swarm_testkit::hosts` with real `dhtnode` binaries: two nodes on two
//! namespaced hosts served to a client in the root namespace (through kill -9 and a restart
//! on the host), a third host cut off the network and back, and `dhtredist` with one node cut
//! off from its target (exit 1 naming it) then resumed. Skipped, with the reason
//! printed, where `ip netns add` fails; the loopback fallback is tested everywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::dhtnode_bin;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use swarm_client::{ClientConfig, DhtClient};
use swarm_testkit::{DhtConn, Host, Node, TestHosts};

const HALF: u64 = u64::MAX / 2;

/// A started dht node on `host` with range `min..=max`, keeping its port across restarts.
fn node_on(host: &Host, min: u64, max: u64) -> Node {
    let mut n = Node::new(dhtnode_bin(), &[]).with_sticky_port();
    n.place_on(host);
    n.set_range(min, max);
    n.start();
    assert_eq!(n.addr().ip(), host.addr());
    n
}

/// Quick timeouts: a cut-off node fails a request within seconds.
fn config() -> ClientConfig {
    ClientConfig::default()
        .with_connect_timeout(Duration::from_millis(500))
        .with_io_timeout(Some(Duration::from_millis(800)))
        .with_reconnect_timeout(Duration::from_secs(2))
        .with_reconnect_backoff_max(Duration::from_millis(200))
}

/// Puts and reads back one record on each of the nodes' halves of the key space.
fn round_trip(client: &DhtClient, value: &[u8]) {
    // Key 0 reverses into the lower half, key 1 into the upper.
    for key in [0u64, 1] {
        client.put("hosts", key, value).unwrap();
        assert_eq!(client.get("hosts", key).unwrap().as_deref(), Some(value));
    }
}

#[test]
fn nodes_on_namespaced_hosts_serve_the_root_namespace_and_a_cut_host_comes_back() {
    let hosts = match TestHosts::isolated(3) {
        Ok(h) => h,
        Err(why) => {
            eprintln!("skipped: needs network namespaces: {why}");
            return;
        }
    };
    let ns: Vec<String> = hosts
        .hosts()
        .iter()
        .map(|h| h.netns().unwrap().into())
        .collect();
    let mut a = node_on(hosts.host(0), 0, HALF);
    let b = node_on(hosts.host(1), HALF + 1, u64::MAX);
    let c = node_on(hosts.host(2), 0, u64::MAX);
    assert_ne!(a.addr().ip(), b.addr().ip());
    // The node runs in its host's namespace, as the child itself (no wrapper process).
    let net = |pid: u32| std::fs::read_link(format!("/proc/{pid}/ns/net")).unwrap();
    assert_ne!(net(a.pid()), net(std::process::id()));
    assert_ne!(net(a.pid()), net(b.pid()));
    let exe = std::fs::read_link(format!("/proc/{}/exe", a.pid())).unwrap();
    assert!(exe.ends_with("dhtnode"), "{exe:?}");
    let client = DhtClient::connect(&[a.addr(), b.addr()], config()).unwrap();
    round_trip(&client, b"first");
    assert_eq!(client.responsible_node(0).unwrap(), a.addr());
    assert_eq!(client.responsible_node(1).unwrap(), b.addr());
    // The node's pid is the child's (ip netns exec execs it): kill -9 and a restart work.
    a.kill9();
    a.start();
    round_trip(&client, b"after restart");

    let third = DhtClient::connect(&[c.addr()], config()).unwrap();
    third.put("hosts", 7, b"seven").unwrap();
    hosts.host(2).set_link(false);
    let e = third.get("hosts", 7).unwrap_err();
    assert_eq!(e.node(), Some(c.addr()), "{e}");
    hosts.host(2).set_link(true);
    assert_eq!(
        third.get("hosts", 7).unwrap().as_deref(),
        Some(&b"seven"[..])
    );
    // The other hosts were not affected.
    round_trip(&client, b"still there");

    drop((a, b, c, client, third));
    drop(hosts);
    let left = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    for name in &ns {
        assert!(!left.contains(name.as_str()), "{name} left behind: {left}");
    }
}

#[test]
fn a_panicking_test_removes_its_hosts() {
    let names = std::thread::spawn(|| {
        let hosts = match TestHosts::isolated(2) {
            Ok(h) => h,
            Err(why) => {
                eprintln!("skipped: needs network namespaces: {why}");
                return None;
            }
        };
        let names: Vec<String> = hosts
            .hosts()
            .iter()
            .map(|h| h.netns().unwrap().into())
            .collect();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            let _hosts = hosts;
            panic!("a failing test");
        }));
        assert!(result.is_err());
        Some(names)
    })
    .join()
    .unwrap();
    let Some(names) = names else { return };
    let out = std::process::Command::new("ip")
        .args(["netns", "list"])
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    for name in &names {
        assert!(!list.contains(name.as_str()), "{name} left behind: {list}");
    }
}

#[test]
fn loopback_hosts_run_nodes_on_their_own_addresses() {
    let hosts = TestHosts::loopback(2);
    assert!(!hosts.is_isolated());
    assert!(hosts.host(0).prefix().is_empty());
    assert_eq!(hosts.host(1).addr(), IpAddr::from([127, 0, 0, 3]));
    let a = node_on(hosts.host(0), 0, HALF);
    let b = node_on(hosts.host(1), HALF + 1, u64::MAX);
    let addrs: [SocketAddr; 2] = [a.addr(), b.addr()];
    assert_eq!(addrs[0].ip(), IpAddr::from([127, 0, 0, 2]));
    let client = DhtClient::connect(&addrs, config()).unwrap();
    round_trip(&client, b"loopback");
}

/// A dht node of `bin` on `host` with range `min..=max` that gives a target up after 2 s.
fn quick_node_on(host: &Host, min: u64, max: u64) -> Node {
    let mut n = Node::new(
        dhtnode_bin(),
        &[("Performance", "redistribute_retry_s", "2")],
    );
    n.place_on(host);
    n.set_range(min, max);
    n.start();
    n
}

#[test]
fn dhtredist_names_a_node_cut_off_from_its_target_and_a_second_run_resumes() {
    let hosts = match TestHosts::isolated(3) {
        Ok(h) => h,
        Err(why) => {
            eprintln!("skipped: needs network namespaces: {why}");
            return;
        }
    };
    let a = quick_node_on(hosts.host(0), 0, HALF);
    let b = quick_node_on(hosts.host(1), HALF + 1, u64::MAX);
    let c = quick_node_on(hosts.host(2), u64::MAX, 0);
    let recs = swarm_testkit::records(3_000, 5, 30);
    let client = DhtClient::connect(&[a.addr(), b.addr()], config()).unwrap();
    let batch: Vec<(u64, &[u8])> = recs.iter().map(|(k, v)| (*k, v.as_slice())).collect();
    client.put_many("moved", &batch).unwrap();
    // a cannot reach c; the tool (in the root namespace) reaches every node.
    hosts.host(0).set_route_to(hosts.host(2).addr(), false);
    let dir = tempfile::tempdir().unwrap();
    let cur = common::nodes_file(dir.path(), "cur", &[a.addr(), b.addr()]);
    let add = common::nodes_file(dir.path(), "add", &[c.addr()]);
    let args = [
        "--nodes",
        cur.to_str().unwrap(),
        "--add",
        add.to_str().unwrap(),
        "-x",
    ];
    let bin = env!("CARGO_BIN_EXE_dhtredist");
    let r = common::run(bin, &args);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains(&format!("  {}: ", a.addr())),
        "{}",
        r.stderr
    );
    assert!(
        !r.stderr.contains(&format!("  {}: ", b.addr())),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("run the same command again"),
        "{}",
        r.stderr
    );
    // The same command once a can reach c again: it resumes and finishes the move.
    hosts.host(0).set_route_to(hosts.host(2).addr(), true);
    let r = common::run(bin, &args);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("resuming"), "{}", r.stdout);
    let all = DhtClient::connect(&[a.addr(), b.addr(), c.addr()], config()).unwrap();
    for (n, (_, range)) in [&a, &b, &c]
        .iter()
        .zip(all.get_responsible_ranges().unwrap())
    {
        let held = n.connect().get_all(b"moved");
        assert!(!held.is_empty());
        assert!(
            held.keys().all(|k| range.contains(*k)),
            "a key outside {range:?}"
        );
    }
    let keys: Vec<u64> = recs.keys().copied().collect();
    let got = all.get_many("moved", &keys).unwrap();
    for ((k, v), g) in recs.iter().zip(got) {
        assert_eq!(g.as_deref(), Some(v.as_slice()), "key {k:016x}");
    }
}
