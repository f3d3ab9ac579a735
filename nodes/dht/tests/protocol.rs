//! Every legacy dht request against the real `dhtnode` binary, byte for byte, including the
//! spec's worked examples (spec/dht.md section 2.2 and spec/logfiles.md 1.2 for LZO).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::BTreeMap;
use std::time::Duration;
use swarm_protocol::batch::{Items, Pairs};
use swarm_protocol::dht::{DhtRequest, RedistributeNode};
use swarm_protocol::format_key;

#[test]
fn spec_worked_examples() {
    let node = start_node(&[]);
    let mut c = node.connect();
    // Put "test", key 0xAB, value "hi": the exact request bytes of the spec, reply C8 00 00 00.
    let mut put = vec![1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
    put.extend_from_slice(b"test");
    put.extend_from_slice(&[0x10, 0, 0, 0, 0, 0, 0, 0]);
    put.extend_from_slice(b"00000000000000ab");
    put.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 0]);
    put.extend_from_slice(b"hi");
    c.send_raw(&put);
    assert_eq!(c.read_n(4), [0xC8, 0, 0, 0]);
    // GetVersion: 18 00 00 00 -> C8 00 00 00, 08 00.., "20110401".
    c.send_raw(&[0x18, 0, 0, 0]);
    let mut v = vec![0xC8, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0];
    v.extend_from_slice(b"20110401");
    assert_eq!(c.read_n(v.len()), v);
    // GetAll on a missing channel "c": C8 00 00 00 then 8 zero bytes.
    c.send_raw(&[0x1D, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0x63]);
    assert_eq!(c.read_n(12), [0xC8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    // And the value reads back.
    c.exchange(
        &DhtRequest::Get {
            channel: b"test",
            key: b"00000000000000ab",
        },
        &[&OK[..], &arr(b"hi")].concat(),
    );
}

#[test]
fn single_record_requests() {
    let node = start_node_range(0, 0x7fff_ffff_ffff_ffff, &[]);
    let mut c = node.connect();
    let k2 = format_key(2);
    let k1 = format_key(1); // bit-reversed 0x8000..: outside the range
    c.exchange(
        &DhtRequest::Put {
            channel: b"ch",
            key: &k2,
            value: b"two",
        },
        &OK,
    );
    c.exchange(
        &DhtRequest::Put {
            channel: b"ch",
            key: &k1,
            value: b"one",
        },
        &status(404),
    );
    c.exchange(
        &DhtRequest::Put {
            channel: b"bad.name",
            key: &k2,
            value: b"x",
        },
        &status(409),
    );
    c.exchange(
        &DhtRequest::Put {
            channel: b"ch",
            key: &k2,
            value: b"",
        },
        &status(408),
    );
    c.exchange(
        &DhtRequest::Put {
            channel: b"ch",
            key: &k2,
            value: &vec![0u8; 65_504],
        },
        &status(410),
    );
    c.exchange(
        &DhtRequest::Put {
            channel: b"ch",
            key: &format_key(4),
            value: &vec![7u8; 65_503],
        },
        &OK,
    );
    c.exchange(
        &DhtRequest::Get {
            channel: b"ch",
            key: &k2,
        },
        &[&OK[..], &arr(b"two")].concat(),
    );
    c.exchange(
        &DhtRequest::Get {
            channel: b"ch",
            key: &k1,
        },
        &[&OK[..], &arr(b"")].concat(),
    );
    c.exchange(
        &DhtRequest::Get {
            channel: b"none",
            key: &k2,
        },
        &[&OK[..], &arr(b"")].concat(),
    );
    c.exchange(
        &DhtRequest::Exists {
            channel: b"ch",
            key: &k2,
        },
        &[0xc8, 0, 0, 0, 1],
    );
    c.exchange(
        &DhtRequest::Exists {
            channel: b"ch",
            key: &k1,
        },
        &[0xc8, 0, 0, 0, 0],
    );
    c.exchange(
        &DhtRequest::Remove {
            channel: b"ch",
            key: &k1,
        },
        &status(404),
    );
    c.exchange(
        &DhtRequest::Remove {
            channel: b"ch",
            key: &k2,
        },
        &OK,
    );
    c.exchange(
        &DhtRequest::Remove {
            channel: b"ch",
            key: &k2,
        },
        &OK,
    );
    c.exchange(
        &DhtRequest::Exists {
            channel: b"ch",
            key: &k2,
        },
        &[0xc8, 0, 0, 0, 0],
    );
    c.exchange(
        &DhtRequest::Get {
            channel: b"",
            key: &k2,
        },
        &status(409),
    );
}

#[test]
fn node_information_requests() {
    let node = start_node_range(0x10, 0xffff_0000_0000_0000, &[]);
    let port = node.addr().port().to_le_bytes();
    let mut c = node.connect();
    c.put(b"beta", 8, b"12345");
    c.put(b"alpha", 8, b"1");
    c.exchange(&DhtRequest::Listen { channel: b"gamma" }, &OK); // creates an empty channel
    let _listener = c;
    let mut c = node.connect();
    let mut expect = OK.to_vec();
    for name in [&b"alpha"[..], b"beta", b"gamma", b""] {
        expect.extend_from_slice(&arr(name));
    }
    c.exchange(&DhtRequest::GetChannels, &expect);

    let size = |records: u64, bytes: u64| {
        [
            &OK[..],
            &arr(b"127.0.0.1"),
            &port,
            &records.to_le_bytes(),
            &bytes.to_le_bytes(),
        ]
        .concat()
    };
    c.exchange(
        &DhtRequest::GetChannelSize { channel: b"beta" },
        &size(1, 13),
    );
    c.exchange(
        &DhtRequest::GetChannelSize {
            channel: b"nothing",
        },
        &size(0, 0),
    );
    c.exchange(
        &DhtRequest::GetChannelSize { channel: b"a/b" },
        &status(409),
    );
    c.exchange(&DhtRequest::GetSize, &size(2, 22));
    let range = [
        &OK[..],
        &0x10u64.to_le_bytes(),
        &0xffff_0000_0000_0000u64.to_le_bytes(),
    ]
    .concat();
    c.exchange(&DhtRequest::GetResponsibleRange, &range);
    // Two connections are open now (the Listen one and this one).
    let conns = [&OK[..], &arr(b"127.0.0.1"), &port, &2u64.to_le_bytes()].concat();
    c.exchange(&DhtRequest::GetNumConnections, &conns);
    c.exchange(&DhtRequest::RemoveChannel { channel: b"beta" }, &OK);
    c.exchange(&DhtRequest::RemoveChannel { channel: b"beta" }, &OK);
    c.exchange(&DhtRequest::RemoveChannel { channel: b"-" }, &OK);
    c.exchange(&DhtRequest::RemoveChannel { channel: b"b c" }, &status(409));
    c.exchange(&DhtRequest::GetSize, &size(1, 9));
    // A Redistribute whose new ranges leave keys of the node's range without an owner is read
    // completely and refused (Error) without touching anything.
    let nodes = vec![RedistributeNode {
        address: b"127.0.0.1",
        port: 1,
        min: 0,
        max: 9,
    }];
    c.exchange(
        &DhtRequest::Redistribute {
            min: 10,
            max: 20,
            nodes,
        },
        &status(500),
    );
    c.exchange(&DhtRequest::GetResponsibleRange, &range);
}

fn fill(c: &mut Conn, n: u64) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut expect = BTreeMap::new();
    // Pipelined: all Puts in one write, then all replies.
    let mut bytes = Vec::new();
    for k in 0..n {
        let value = format!("{k}-{}", "v".repeat((k % 90) as usize)).into_bytes();
        DhtRequest::Put {
            channel: b"ch",
            key: &format_key(k),
            value: &value,
        }
        .encode(&mut bytes);
        expect.insert(format_key(k).to_vec(), value);
    }
    c.send_raw(&bytes);
    for _ in 0..n {
        assert_eq!(c.read_n(4), OK);
    }
    expect
}

#[test]
fn get_all_variants_stream_batches() {
    let node = start_node(&[]);
    let mut c = node.connect();
    let expect = fill(&mut c, 20_000);

    c.send(&DhtRequest::GetAll { channel: b"ch" });
    assert_eq!(c.read_n(4), OK);
    let batches = c.read_batches();
    assert!(batches.len() > 10);
    let mut got = BTreeMap::new();
    for raw in &batches {
        assert!(raw.len() <= 65_535);
        for p in Pairs::new(raw) {
            let (k, v) = p.unwrap();
            assert!(got.insert(k.to_vec(), v.to_vec()).is_none());
        }
    }
    assert_eq!(got, expect);

    c.send(&DhtRequest::GetAllKeys { channel: b"ch" });
    assert_eq!(c.read_n(4), OK);
    let mut keys: Vec<Vec<u8>> = c
        .read_batches()
        .iter()
        .flat_map(|raw| {
            Items::new(raw)
                .map(|i| i.unwrap().to_vec())
                .collect::<Vec<_>>()
        })
        .collect();
    keys.sort();
    assert_eq!(keys, expect.keys().cloned().collect::<Vec<_>>());

    c.send(&DhtRequest::GetAllFilter {
        channel: b"ch",
        filter: b"99-",
    });
    assert_eq!(c.read_n(4), OK);
    let filtered: BTreeMap<_, _> = c
        .read_batches()
        .iter()
        .flat_map(|raw| {
            Pairs::new(raw)
                .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let want: BTreeMap<_, _> = expect
        .iter()
        .filter(|(_, v)| v.windows(3).any(|w| w == b"99-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_eq!(filtered, want);
    assert!(!want.is_empty());
    // The connection is still in sync afterwards.
    c.exchange(
        &DhtRequest::GetVersion,
        &[&OK[..], &arr(b"20110401")].concat(),
    );
    c.exchange(&DhtRequest::GetAll { channel: b"bad!" }, &status(409));
}

#[test]
fn put_batch_with_liblzo2_example() {
    let node = start_node(&[]);
    let mut c = node.connect();
    let mut payload = 37u64.to_le_bytes().to_vec();
    payload.extend_from_slice(&[
        0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x30, 0xc0, 0x00, 0x00, 0x03, b'5', b'7', b'2', b'7',
        b'5', b'8', b'0', b'6', 0x05, 0, 0, 0, 0, 0, 0, 0, b'H', b'e', b'l', b'l', b'o', 0x11,
        0x00, 0x00,
    ]);
    c.exchange(
        &DhtRequest::PutBatch {
            channel: b"logs",
            batch: &payload,
        },
        &OK,
    );
    c.exchange(
        &DhtRequest::Get {
            channel: b"logs",
            key: b"0000000057275806",
        },
        &[&OK[..], &arr(b"Hello")].concat(),
    );
    // GetAll of that one record: our LZO output equals liblzo2's, so the reply is the spec's.
    c.send(&DhtRequest::GetAll { channel: b"logs" });
    let mut want = OK.to_vec();
    want.extend_from_slice(&arr(&payload));
    want.extend_from_slice(&[0; 8]);
    assert_eq!(c.read_n(want.len()), want);
}

#[test]
fn listen_gets_puts_and_ends_on_remove_channel() {
    let node = start_node(&[]);
    let mut listener = node.connect();
    listener.exchange(&DhtRequest::Listen { channel: b"ch" }, &OK);
    let mut c = node.connect();
    c.put(b"ch", 0xdead, b"first");
    c.put(b"other", 1, b"not for the listener");
    c.put(b"ch", 0xbeef, b"second");
    let want = [
        arr(&format_key(0xdead)),
        arr(b"first"),
        arr(&format_key(0xbeef)),
        arr(b"second"),
    ]
    .concat();
    assert_eq!(listener.read_n(want.len()), want);
    c.exchange(&DhtRequest::RemoveChannel { channel: b"ch" }, &OK);
    assert_eq!(
        listener.read_n(16),
        [0u8; 16],
        "two empty arrays end the Listen"
    );
    // The connection goes on with the next request.
    listener.exchange(
        &DhtRequest::GetVersion,
        &[&OK[..], &arr(b"20110401")].concat(),
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let node = start_node(&[]);
    let mut c = node.connect();
    let mut bytes = Vec::new();
    DhtRequest::Put {
        channel: b"p",
        key: &format_key(5),
        value: b"five",
    }
    .encode(&mut bytes);
    DhtRequest::Get {
        channel: b"p",
        key: &format_key(5),
    }
    .encode(&mut bytes);
    DhtRequest::Exists {
        channel: b"p",
        key: &format_key(6),
    }
    .encode(&mut bytes);
    DhtRequest::GetAll { channel: b"empty" }.encode(&mut bytes);
    DhtRequest::GetVersion.encode(&mut bytes);
    // Sent a byte at a time: decoding must cope with requests cut anywhere.
    for b in &bytes {
        c.send_raw(std::slice::from_ref(b));
    }
    let want = [
        OK.to_vec(),
        [&OK[..], &arr(b"five")].concat(),
        vec![0xc8, 0, 0, 0, 0],
        [&OK[..], &[0u8; 8][..]].concat(),
        [&OK[..], &arr(b"20110401")].concat(),
    ]
    .concat();
    assert_eq!(c.read_n(want.len()), want);
    std::thread::sleep(Duration::from_millis(50));
}

/// Many connections each writing a long run of keyed requests at once: the loop reads them all
/// before handling any and lets the node prefetch their records (`Service::prefetch`), which
/// must not change a single reply. Covers Puts that add and overwrite (same and other length),
/// Gets and Exists of present and missing keys, Removes, a bad channel name, a channel created
/// in mid-run, and a Get cut in two by the end of the write.
#[test]
fn pipelined_runs_on_many_connections_answer_as_one_by_one() {
    let node = start_node(&[]);
    let conns = 12;
    let mut clients: Vec<_> = (0..conns).map(|_| node.connect()).collect();
    let mut wanted = Vec::new();
    let mut tails = Vec::new();
    for (i, c) in clients.iter_mut().enumerate() {
        let channel = format!("pf{}", i % 3).into_bytes();
        let mut model: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
        let mut bytes = Vec::new();
        let mut want = Vec::new();
        for step in 0..120u64 {
            // Keys shared by the connections of a channel would race; give each its own.
            let key = (i as u64) << 32 | (step % 40);
            let k = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            let hex = format_key(k);
            match step % 6 {
                0 | 3 => {
                    let value = vec![b'a' + (step % 26) as u8; 1 + (step as usize * 7) % 50];
                    DhtRequest::Put {
                        channel: &channel,
                        key: &hex,
                        value: &value,
                    }
                    .encode(&mut bytes);
                    model.insert(k, value);
                    want.extend_from_slice(&OK);
                }
                1 => {
                    DhtRequest::Get {
                        channel: &channel,
                        key: &hex,
                    }
                    .encode(&mut bytes);
                    want.extend_from_slice(&OK);
                    want.extend_from_slice(&arr(model.get(&k).map_or(&[][..], |v| &v[..])));
                }
                2 => {
                    DhtRequest::Exists {
                        channel: &channel,
                        key: &hex,
                    }
                    .encode(&mut bytes);
                    want.extend_from_slice(&OK);
                    want.push(u8::from(model.contains_key(&k)));
                }
                4 => {
                    DhtRequest::Remove {
                        channel: &channel,
                        key: &hex,
                    }
                    .encode(&mut bytes);
                    model.remove(&k);
                    want.extend_from_slice(&OK);
                }
                _ => {
                    DhtRequest::Get {
                        channel: b"bad channel!",
                        key: &hex,
                    }
                    .encode(&mut bytes);
                    want.extend_from_slice(&status(409)); // BadChannelName
                }
            }
        }
        // A Get cut in two: the first part ends this write.
        let key = format_key(1);
        let mut get = Vec::new();
        DhtRequest::Get {
            channel: b"pfnew",
            key: &key,
        }
        .encode(&mut get);
        let cut = get.len() - 5;
        bytes.extend_from_slice(&get[..cut]);
        c.send_raw(&bytes);
        tails.push(get[cut..].to_vec());
        wanted.push(want);
    }
    for ((c, want), tail) in clients.iter_mut().zip(&wanted).zip(&tails) {
        assert_eq!(c.read_n(want.len()), *want);
        c.send_raw(tail);
        assert_eq!(c.read_n(OK.len() + 8), [&OK[..], &arr(b"")].concat());
    }
}
