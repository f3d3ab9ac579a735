//! `dhtredist --execute` when nodes fail their Redistribute: a scripted node (a thread on
//! 127.0.0.1 speaking the dht protocol) lets one node answer Ok after a while and another
//! answer Error (500), whatever the real dhtnode does. The tool must wait for both, print
//! progress meanwhile, name the failed node, say a second run resumes, and exit 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{nodes_file, run};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use swarm_protocol::dht::{DhtReply, DhtRequest, NodeInfo, API_VERSION};
use swarm_protocol::{DecodeError, HashRange, Status};

const BIN: &str = env!("CARGO_BIN_EXE_dhtredist");

/// What a scripted node saw: the Redistribute requests' new ranges and node lists.
type Seen = Arc<Mutex<Vec<(HashRange, Vec<(String, u16, HashRange)>)>>>;

/// A scripted node with `range` that answers Redistribute `status` after `delay`.
fn scripted(range: HashRange, status: Status, delay: Duration) -> (SocketAddr, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let s = Arc::clone(&s);
            thread::spawn(move || serve(stream, range, status, delay, &s));
        }
    });
    (addr, seen)
}

fn serve(mut stream: TcpStream, range: HashRange, status: Status, delay: Duration, seen: &Seen) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let (out, used) = match DhtRequest::decode(&buf) {
            Ok((req, used)) => {
                let mut out = Vec::new();
                match req {
                    DhtRequest::GetVersion => DhtReply::Version(API_VERSION).encode(&mut out),
                    DhtRequest::GetResponsibleRange => DhtReply::Range {
                        min: range.min,
                        max: range.max,
                    }
                    .encode(&mut out),
                    DhtRequest::GetSize => DhtReply::Size {
                        node: NodeInfo {
                            address: b"127.0.0.1",
                            port: 1,
                        },
                        records: 10,
                        bytes: 100,
                    }
                    .encode(&mut out),
                    DhtRequest::Redistribute { min, max, nodes } => {
                        let nodes = nodes
                            .iter()
                            .map(|n| {
                                let a = String::from_utf8_lossy(n.address).into_owned();
                                (
                                    a,
                                    n.port,
                                    HashRange {
                                        min: n.min,
                                        max: n.max,
                                    },
                                )
                            })
                            .collect();
                        seen.lock().unwrap().push((HashRange { min, max }, nodes));
                        thread::sleep(delay);
                        DhtReply::Status(status).encode(&mut out);
                    }
                    _ => DhtReply::Status(Status::NotSupported).encode(&mut out),
                }
                (out, used)
            }
            Err(DecodeError::Incomplete) => match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            },
            Err(DecodeError::Invalid(_)) => return,
        };
        buf.drain(..used);
        if stream.write_all(&out).is_err() {
            return;
        }
    }
}

#[test]
fn a_failed_node_is_named_the_others_are_awaited_and_the_exit_code_is_1() {
    let half = u64::MAX / 2;
    let low = HashRange { min: 0, max: half };
    let high = HashRange {
        min: half + 1,
        max: u64::MAX,
    };
    let (a, seen_a) = scripted(low, Status::Ok, Duration::from_millis(1200));
    let (b, seen_b) = scripted(high, Status::Error, Duration::from_millis(100));
    let (c, seen_c) = scripted(HashRange::EMPTY, Status::Ok, Duration::ZERO);
    let dir = tempfile::tempdir().unwrap();
    let cur = nodes_file(dir.path(), "cur", &[a, b]);
    let add = nodes_file(dir.path(), "add", &[c]);
    let (cur, add) = (cur.to_str().unwrap(), add.to_str().unwrap());
    let r = run(
        BIN,
        &["--nodes", cur, "--add", add, "-x", "--progress", "0.3"],
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains(&format!("{b}: node {b}: Redistribute answered")),
        "{}",
        r.stderr
    );
    assert!(!r.stderr.contains(&format!("  {a}:")), "{}", r.stderr);
    assert!(
        r.stderr.contains("run the same command again"),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains(&format!("{a}: done after 1.")),
        "{}",
        r.stdout
    );
    // Progress lines came while the slow node ran.
    assert!(r.stdout.contains("10 records, 100 bytes"), "{}", r.stdout);
    // Every node got its new range and all the others with theirs.
    let q = half / 2;
    let new_a = HashRange { min: 0, max: q };
    let new_c = HashRange {
        min: q + 1,
        max: half,
    };
    let entry = |addr: SocketAddr, r: HashRange| ("127.0.0.1".to_string(), addr.port(), r);
    assert_eq!(
        *seen_a.lock().unwrap(),
        [(new_a, vec![entry(b, high), entry(c, new_c)])]
    );
    assert_eq!(
        *seen_b.lock().unwrap(),
        [(high, vec![entry(a, new_a), entry(c, new_c)])]
    );
    assert_eq!(
        *seen_c.lock().unwrap(),
        [(new_c, vec![entry(a, new_a), entry(b, high)])]
    );
}
