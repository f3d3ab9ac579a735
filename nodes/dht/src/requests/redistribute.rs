//! Redistribute (33): take a new hash range and move the records of keys now owned by the
//! listed nodes to them (`crate::redist`). Refused with Error (500), nothing changed, when
//! another Redistribute runs, a range is invalid (neither min <= max nor the empty range), an
//! address does not parse, two new ranges overlap, or the new ranges do not cover all of this
//! node's old range (its keys would have no owner: the check the original left as a TODO).
//! Otherwise the range changes at once (written to the config file first; a file that cannot
//! be written refuses the request), the guard on incoming PutBatch starts, and the requester
//! is answered when the move is over: Ok, or Error if a target took nothing for the retry
//! window (the records for it stay here). Listed nodes with the empty range get nothing. The
//! ranges the node gains are remembered for a while (`crate::redist::gain`), so records still
//! arriving from their old owners do not undo what clients wrote or removed here meanwhile.

use super::status;
use crate::event::DhtEvent;
use crate::redist::gain::Gained;
use crate::redist::{range_file, Redistribution, Target};
use crate::session::{Ongoing, Session};
use crate::settings::DhtSettings;
use crate::storage::Storage;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use swarm_core::{Context, Step};
use swarm_protocol::dht::RedistributeNode;
use swarm_protocol::{HashRange, Status};

/// Formats a range for log lines.
fn show(r: HashRange) -> String {
    if r.is_empty() {
        "empty".into()
    } else {
        format!("0x{:016x}..0x{:016x}", r.min, r.max)
    }
}

/// A listed node's address: IP text (as the original sends), or a name resolved once.
fn address(node: &RedistributeNode<'_>) -> Result<SocketAddr, String> {
    let text = std::str::from_utf8(node.address)
        .map_err(|_| format!("address {:?} is not text", node.address))?;
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, node.port));
    }
    (text, node.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("address {text:?} does not resolve"))
}

/// The targets of a request, checked: valid ranges, parsed addresses, no overlaps with each
/// other or with `own`, and `old` covered by `own` and the targets together.
pub(crate) fn targets(
    own: HashRange,
    old: HashRange,
    nodes: &[RedistributeNode<'_>],
) -> Result<Vec<Target>, String> {
    let mut targets = Vec::new();
    for n in nodes {
        let range = HashRange::from_bounds(n.min, n.max)
            .ok_or_else(|| format!("node range 0x{:016x}..0x{:016x} is invalid", n.min, n.max))?;
        let addr = address(n)?;
        if range.is_empty() {
            continue; // owns nothing: gets nothing
        }
        if range.overlaps(&own) {
            return Err(format!(
                "{addr}'s range {} overlaps this node's new range {}",
                show(range),
                show(own)
            ));
        }
        if let Some(t) = targets.iter().find(|t: &&Target| t.range.overlaps(&range)) {
            return Err(format!("the ranges of {} and {addr} overlap", t.addr));
        }
        targets.push(Target { addr, range });
    }
    if !old.is_empty() {
        let mut ranges: Vec<HashRange> = targets.iter().map(|t| t.range).collect();
        if !own.is_empty() {
            ranges.push(own);
        }
        ranges.sort_by_key(|r| r.min);
        // The first key of the old range not covered yet; `None` once past its end.
        let mut next = Some(old.min);
        for r in ranges {
            match next {
                Some(k) if r.min <= k && r.max >= k => next = r.max.checked_add(1),
                _ => {}
            }
        }
        if let Some(k) = next.filter(|&k| k <= old.max) {
            return Err(format!(
                "the new ranges leave keys of this node's range {} without an owner, from \
                 0x{k:016x}",
                show(old)
            ));
        }
    }
    Ok(targets)
}

/// Redistribute: checks, then the new range, then the move; answered now when refused or
/// when nothing has to move, else when the move is over.
#[expect(
    clippy::too_many_arguments,
    reason = "Redistribute touches the range, the storage and the loop"
)]
pub(crate) fn redistribute(
    redist: &mut Option<Redistribution>,
    gained: &mut Option<Gained>,
    storage: &Storage,
    settings: &mut DhtSettings,
    cx: &mut Context<'_, DhtEvent>,
    s: &mut Session,
    (min, max): (u64, u64),
    nodes: &[RedistributeNode<'_>],
    out: &mut Vec<u8>,
) -> Step {
    let refuse = |out: &mut Vec<u8>, why: String| {
        log::error!("{}: Redistribute refused: {why}", s.peer);
        status(out, Status::Error);
        Step::Done
    };
    if redist.is_some() {
        return refuse(out, "another Redistribute is running".into());
    }
    let Some(own) = HashRange::from_bounds(min, max) else {
        return refuse(
            out,
            format!("new range 0x{min:016x}..0x{max:016x} is invalid"),
        );
    };
    let old = settings.range;
    let targets = match targets(own, old, nodes) {
        Ok(t) => t,
        Err(why) => return refuse(out, why),
    };
    let limit = (storage.bytes() as f64 * settings.redist_memory_limit) as u64;
    let mailbox = cx.mailbox();
    let started = Redistribution::start(
        s.conn,
        targets.clone(),
        storage,
        settings.batch_size,
        limit,
        settings.redist_retry,
        &mailbox,
    );
    let mut r = match started {
        Ok(r) => r,
        Err(e) => return refuse(out, format!("cannot start the forwarder threads: {e}")),
    };
    if own != old {
        match &settings.config_file {
            Some(file) => {
                if let Err(e) = range_file::write_range(file, own) {
                    return refuse(out, format!("cannot write the new range: {e}"));
                }
            }
            None => log::warn!(
                "Redistribute: no config file (embedded default): the new range {} lasts \
                 until the node stops",
                show(own)
            ),
        }
        settings.range = own;
        *gained = Gained::new(old, own, cx.now());
    }
    let list: Vec<String> = targets
        .iter()
        .map(|t| format!("{} {}", t.addr, show(t.range)))
        .collect();
    log::info!(
        "{}: Redistribute: range {} -> {}; records go to [{}]; incoming PutBatch limited to \
         {limit} bytes meanwhile",
        s.peer,
        show(old),
        show(own),
        list.join(", ")
    );
    match r.pump(storage, own, &mailbox) {
        Some(st) => {
            status(out, st);
            Step::Done
        }
        None => {
            *redist = Some(r);
            s.ongoing = Ongoing::Redistribute;
            Step::Wait
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{targets, HashRange, RedistributeNode};
    use crate::requests::testing::*;
    use swarm_protocol::dht::DhtRequest;

    fn node(port: u16, min: u64, max: u64) -> RedistributeNode<'static> {
        RedistributeNode {
            address: b"127.0.0.1",
            port,
            min,
            max,
        }
    }

    const HALF: u64 = 0x7fff_ffff_ffff_ffff;

    #[test]
    fn checks_ranges_overlaps_and_coverage() {
        let low = HashRange::new(0, HALF).unwrap();
        let t = targets(low, HashRange::FULL, &[node(1, HALF + 1, u64::MAX)]).unwrap();
        assert_eq!(t.len(), 1);
        let e = targets(low, HashRange::FULL, &[node(1, HALF + 2, u64::MAX)]).unwrap_err();
        assert!(
            e.contains("without an owner") && e.contains("0x8000000000000000"),
            "{e}"
        );
        let e = targets(low, HashRange::FULL, &[node(1, HALF, u64::MAX)]).unwrap_err();
        assert!(e.contains("overlaps"), "{e}");
        let e = targets(low, low, &[node(1, 5, 1)]).unwrap_err();
        assert!(e.contains("invalid"), "{e}");
        // Draining: the empty own range, two targets covering the old one.
        let t = targets(
            HashRange::EMPTY,
            HashRange::FULL,
            &[
                node(1, 0, HALF),
                node(2, HALF + 1, u64::MAX),
                node(3, u64::MAX, 0),
            ],
        )
        .unwrap();
        assert_eq!(t.len(), 2, "the empty-range node gets nothing");
        let e = targets(
            HashRange::EMPTY,
            HashRange::FULL,
            &[node(1, 0, HALF), node(2, 10, u64::MAX)],
        )
        .unwrap_err();
        assert!(e.contains("overlap"), "{e}");
        let bad = RedistributeNode {
            address: b"no such host.invalid",
            port: 1,
            min: 0,
            max: 1,
        };
        assert!(targets(low, low, &[bad]).unwrap_err().contains("resolve"));
    }

    #[test]
    fn refused_requests_change_nothing() {
        let mut t = Node::new();
        let r = DhtRequest::Redistribute {
            min: 0,
            max: HALF,
            nodes: vec![node(1, HALF + 5, u64::MAX)],
        };
        assert_eq!(t.request(&r), status(500));
        assert_eq!(t.service.settings().range, HashRange::FULL);
    }

    #[test]
    fn incoming_put_batch_is_guarded_while_a_move_runs() {
        use swarm_core::Step;
        use swarm_protocol::batch::{BatchBuilder, DEFAULT_BATCH_SIZE};
        use swarm_protocol::{format_key, Reader};
        let mut t = Node::new();
        // Key 1 (bit-reversed 0x8000..) moves; keys 2, 4, ... stay: 10 records of 100 bytes.
        for k in (1..=20u64).filter(|k| k % 2 == 0).chain([1]) {
            let put = DhtRequest::Put {
                channel: b"c",
                key: &format_key(k),
                value: &[7; 100],
            };
            assert_eq!(t.request(&put), OK);
        }
        let bytes = t.service.storage().bytes();
        // Port 1 refuses connections: the move runs until the 2 s retry window of the tests.
        let mut s = t.session(5);
        let r = DhtRequest::Redistribute {
            min: 0,
            max: HALF,
            nodes: vec![node(1, HALF + 1, u64::MAX)],
        };
        let (out, step) = t.request_on(&mut s, &r);
        assert_eq!((out.len(), step), (0, Step::Wait));
        let batch = |keys: &[u64], len: usize| {
            let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
            for k in keys {
                assert!(b.try_push_pair(&format_key(*k), &vec![1; len]));
            }
            let mut out = Vec::new();
            b.finish_into(&mut out);
            Reader::new(&out).read_array().unwrap().to_vec()
        };
        // 10% more than at the start is the limit: 108 bytes fit, a second record does not.
        let room = (bytes as f64 * 1.1) as u64 - bytes;
        assert!((108..216).contains(&room), "{room}");
        let put_batch = |t: &mut Node, keys: &[u64]| {
            t.request(&DhtRequest::PutBatch {
                channel: b"c",
                batch: &batch(keys, 100),
            })
        };
        assert_eq!(put_batch(&mut t, &[100]), OK);
        assert_eq!(put_batch(&mut t, &[102]), status(407));
        assert_eq!(t.service.storage().get(b"c", 102), None);
    }

    #[test]
    fn records_arriving_for_gained_keys_do_not_undo_client_writes() {
        use swarm_protocol::batch::{BatchBuilder, DEFAULT_BATCH_SIZE};
        use swarm_protocol::{format_key, Reader};
        let mut t = Node::with_range(HashRange::EMPTY);
        let r = DhtRequest::Redistribute {
            min: 0,
            max: u64::MAX,
            nodes: vec![],
        };
        assert_eq!(t.request(&r), OK);
        let put = |t: &mut Node, k: u64, v: &[u8]| {
            t.request(&DhtRequest::Put {
                channel: b"c",
                key: &format_key(k),
                value: v,
            })
        };
        assert_eq!(put(&mut t, 1, b"new"), OK);
        assert_eq!(put(&mut t, 2, b"doomed"), OK);
        let remove = DhtRequest::Remove {
            channel: b"c",
            key: &format_key(2),
        };
        assert_eq!(t.request(&remove), OK);
        let remove = DhtRequest::Remove {
            channel: b"c",
            key: &format_key(4),
        };
        assert_eq!(t.request(&remove), OK);
        // The old owner's records arrive: 1 and 2 older than what clients did, 3 new here.
        let mut b = BatchBuilder::new(DEFAULT_BATCH_SIZE);
        for (k, v) in [(1u64, &b"old"[..]), (2, b"old"), (3, b"moved"), (4, b"old")] {
            assert!(b.try_push_pair(&format_key(k), v));
        }
        let mut out = Vec::new();
        b.finish_into(&mut out);
        let payload = Reader::new(&out).read_array().unwrap().to_vec();
        let pb = DhtRequest::PutBatch {
            channel: b"c",
            batch: &payload,
        };
        assert_eq!(t.request(&pb), OK);
        let st = t.service.storage();
        assert_eq!(st.get(b"c", 1), Some(&b"new"[..]));
        assert_eq!(st.get(b"c", 2), None);
        assert_eq!(st.get(b"c", 3), Some(&b"moved"[..]));
        assert_eq!(st.get(b"c", 4), None);
        // Client writes still overwrite.
        assert_eq!(put(&mut t, 3, b"newer"), OK);
        assert_eq!(t.service.storage().get(b"c", 3), Some(&b"newer"[..]));
    }

    #[test]
    fn nothing_to_move_answers_at_once() {
        let mut t = Node::new();
        // Keys 2, 4 have even keys: bit-reversed below HALF, they stay.
        for k in [b"0000000000000002", b"0000000000000004"] {
            let put = DhtRequest::Put {
                channel: b"c",
                key: k,
                value: b"v",
            };
            assert_eq!(t.request(&put), OK);
        }
        let r = DhtRequest::Redistribute {
            min: 0,
            max: HALF,
            nodes: vec![node(1, HALF + 1, u64::MAX)],
        };
        assert_eq!(t.request(&r), OK);
        assert_eq!(t.service.settings().range, HashRange::new(0, HALF).unwrap());
        assert_eq!(t.service.storage().records(), 2);
        let wrong = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000001",
            value: b"v",
        };
        assert_eq!(t.request(&wrong), status(404));
    }
}
