//! Test hosts: [`TestHosts`] gives a test `n` machines of its own to run nodes on, each with an
//! address, so that a node can be cut off the network (`ip link set … down`), or from one peer
//! only (a blackhole route), without killing it. Where `ip netns` works (root), every host is a
//! network namespace with a veth into a bridge in the root namespace, which the test's clients
//! reach; elsewhere the hosts are loopback addresses (127.0.0.2, 127.0.0.3, …) and cannot be cut off.
//!
//! This file owns the namespaces, links and addresses and their removal: everything made is
//! removed on Drop, which also runs when a test panics (unwinding). Names come from the test
//! process's pid and a per-process counter, so parallel tests and test binaries do not collide:
//! namespaces `swt<pid>-<k>h<i>`, interfaces `sw<pid hex><k>v<i>` and bridge `sw<pid hex><k>br`
//! (at most 15 bytes, the kernel's limit). Addresses are `10.213.<x>.<i>/24`, the bridge
//! `10.213.<x>.254`, `<x>` derived from the pid and the first subnet no interface uses yet.
//!
//! The bridge and each host's `eth0` resolve neighbours (ARP) with a probe every
//! [`ARP_RETRANS_MS`] instead of the kernel's 1 s: after a cut, the root namespace's entry for
//! the host has failed, and a packet to the host waits for the next probe, so with 1 s probes
//! the time to reach a host that came back is up to a second of ARP timer, whatever its
//! clients do. Tests of reconnect times measure the client, not that timer.

use crate::process::NodeProcess;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The interval of ARP probes on the test network's interfaces, in ms (the kernel's default is
/// 1000; see the module doc).
pub const ARP_RETRANS_MS: u32 = 50;

/// Hosts made by one process so far: part of every name.
static MADE: AtomicUsize = AtomicUsize::new(0);

/// One test host: an address and, for a namespace, the prefix that runs a command inside it.
#[derive(Debug, Clone)]
pub struct Host {
    addr: IpAddr,
    /// The namespace and the root end of its veth; `None` for a loopback host.
    netns: Option<(String, String)>,
}

impl Host {
    /// The host's address: the one its nodes listen on.
    pub fn addr(&self) -> IpAddr {
        self.addr
    }

    /// The command prefix that runs a program on this host: `["ip", "netns", "exec", NAME]`,
    /// or empty for a loopback host. `ip netns exec` execs the program, so its pid is the
    /// program's.
    pub fn prefix(&self) -> Vec<String> {
        match &self.netns {
            Some((ns, _)) => ["ip", "netns", "exec", ns.as_str()]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            None => Vec::new(),
        }
    }

    /// Makes `peer` unreachable from this host alone (`false`: a blackhole route to it in the
    /// host's namespace, so sends to it fail at once) or reachable again (`true`); every other
    /// path stays as it is. Panics for a loopback host.
    pub fn set_route_to(&self, peer: IpAddr, reachable: bool) {
        let (ns, _) = self
            .netns
            .as_ref()
            .expect("a loopback host has no routes of its own");
        let verb = if reachable { "del" } else { "add" };
        ip(&["-n", ns, "route", verb, "blackhole", &format!("{peer}/32")]).unwrap();
    }

    /// The namespace's name, `None` for a loopback host.
    pub fn netns(&self) -> Option<&str> {
        self.netns.as_ref().map(|(ns, _)| ns.as_str())
    }

    /// Takes the host off the network (`down`) or puts it back (`up`), by its veth's root end:
    /// its processes keep running, their connections see no answer. Panics for a loopback
    /// host, which cannot be cut off.
    pub fn set_link(&self, up: bool) {
        let (_, veth) = self
            .netns
            .as_ref()
            .expect("a loopback host cannot be cut off");
        ip(&["link", "set", veth, if up { "up" } else { "down" }]).unwrap();
    }
}

/// `n` test hosts; everything made for them is removed on Drop.
#[derive(Debug)]
pub struct TestHosts {
    hosts: Vec<Host>,
    /// The bridge, `None` for loopback hosts.
    bridge: Option<String>,
}

impl TestHosts {
    /// Namespaced hosts where `ip netns add` works, loopback hosts otherwise (the reason is
    /// printed).
    pub fn new(n: usize) -> TestHosts {
        match TestHosts::isolated(n) {
            Ok(hosts) => hosts,
            Err(why) => {
                eprintln!("test hosts: loopback addresses instead of namespaces: {why}");
                TestHosts::loopback(n)
            }
        }
    }

    /// `n` hosts in network namespaces; `Err(reason)` only when `ip netns add` fails (not
    /// root, no `ip`): tests that need to cut a host off skip themselves with the reason. Any
    /// later failure panics, after removing what was made.
    pub fn isolated(n: usize) -> Result<TestHosts, String> {
        assert!((1..=250).contains(&n), "1 to 250 hosts");
        let pid = std::process::id();
        let k = MADE.fetch_add(1, Ordering::SeqCst);
        let tag = format!("sw{pid:x}{k:x}");
        let ns = |i: usize| format!("swt{pid}-{k}h{i}");
        // The first namespace shows whether namespaces work here at all.
        ip(&["netns", "add", &ns(1)]).map_err(|e| format!("`ip netns add` failed: {e}"))?;
        // Each part is recorded before it is set up, so Drop removes it if a step panics.
        let mut made = TestHosts {
            hosts: vec![Host {
                addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                netns: Some((ns(1), format!("{tag}v1"))),
            }],
            bridge: Some(format!("{tag}br")),
        };
        let x = free_subnet(pid as usize + k * 37);
        let bridge = format!("{tag}br");
        ip(&["link", "add", &bridge, "type", "bridge"]).unwrap();
        ip(&["addr", "add", &format!("10.213.{x}.254/24"), "dev", &bridge]).unwrap();
        ip(&["link", "set", &bridge, "up"]).unwrap();
        arp_retrans(None, &bridge);
        for i in 1..=n {
            let name = ns(i);
            if i > 1 {
                made.hosts.push(Host {
                    addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                    netns: Some((name.clone(), format!("{tag}v{i}"))),
                });
                ip(&["netns", "add", &name]).unwrap();
            }
            let addr = Ipv4Addr::new(10, 213, x, i as u8);
            made.hosts[i - 1].addr = IpAddr::V4(addr);
            link_host(&name, &format!("{tag}v{i}"), &bridge, addr);
        }
        Ok(made)
    }

    /// `n` hosts on loopback addresses 127.0.0.2, 127.0.0.3, …: no prefix, no cutting off.
    pub fn loopback(n: usize) -> TestHosts {
        assert!((1..=250).contains(&n), "1 to 250 hosts");
        let hosts = (0..n)
            .map(|i| Host {
                addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + i as u8)),
                netns: None,
            })
            .collect();
        TestHosts {
            hosts,
            bridge: None,
        }
    }

    /// Whether the hosts are namespaces (and can be cut off).
    pub fn is_isolated(&self) -> bool {
        self.bridge.is_some()
    }

    /// Host `i`, from 0.
    pub fn host(&self, i: usize) -> &Host {
        &self.hosts[i]
    }

    pub fn hosts(&self) -> &[Host] {
        &self.hosts
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes its veth end, and with it the root end; errors are
        // ignored so that a panic half-way through setup still removes the rest.
        for h in &self.hosts {
            if let Some((ns, veth)) = &h.netns {
                let _ = ip(&["link", "del", veth]);
                let _ = ip(&["netns", "del", ns]);
            }
        }
        if let Some(bridge) = &self.bridge {
            let _ = ip(&["link", "del", bridge]);
        }
    }
}

impl NodeProcess {
    /// Runs the node on `host` from its next start on: through the host's prefix, listening
    /// on the host's address (`[Server] address`).
    pub fn place_on(&mut self, host: &Host) {
        self.set_prefix(&host.prefix());
        self.set("Server", "address", &host.addr().to_string());
    }
}

/// Links the namespace `ns` to `bridge`: a veth `veth` (its root end in the bridge, `eth0`
/// inside) with `addr`/24 inside, and `lo` up.
fn link_host(ns: &str, veth: &str, bridge: &str, addr: Ipv4Addr) {
    ip(&[
        "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns,
    ])
    .unwrap();
    ip(&["link", "set", veth, "master", bridge]).unwrap();
    ip(&["link", "set", veth, "up"]).unwrap();
    ip(&[
        "-n",
        ns,
        "addr",
        "add",
        &format!("{addr}/24"),
        "dev",
        "eth0",
    ])
    .unwrap();
    ip(&["-n", ns, "link", "set", "eth0", "up"]).unwrap();
    ip(&["-n", ns, "link", "set", "lo", "up"]).unwrap();
    arp_retrans(Some(ns), "eth0");
}

/// Sets [`ARP_RETRANS_MS`] on `dev`, in namespace `ns` or the root one.
fn arp_retrans(ns: Option<&str>, dev: &str) {
    let key = format!("net.ipv4.neigh.{dev}.retrans_time_ms={ARP_RETRANS_MS}");
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns, "sysctl"]);
            c
        }
        None => Command::new("sysctl"),
    };
    let out = c
        .args(["-q", "-w", &key])
        .output()
        .expect("cannot run sysctl");
    assert!(
        out.status.success(),
        "sysctl {key}: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
}

/// Runs `ip ARGS`; its stderr on failure.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// A third octet `x` for 10.213.x.0/24 that no interface of the root namespace uses, starting
/// from `seed` (another test process's bridge may hold one).
fn free_subnet(seed: usize) -> u8 {
    let used = Command::new("ip")
        .args(["-o", "-4", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    (0..250)
        .map(|d| ((seed + d) % 250 + 1) as u8)
        .find(|x| !used.contains(&format!("inet 10.213.{x}.")))
        .expect("every 10.213.x.0/24 subnet is in use")
}
