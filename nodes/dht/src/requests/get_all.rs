//! GetAll (29), GetAllKeys (30) and GetAllFilter (31): stream a channel as LZO-compressed
//! batches, one batch per resume, so the reply is produced as the socket drains and a whole
//! channel is never built in memory. A missing channel answers Ok and the end marker at once.
//! Batches of values LZO cannot shrink (random, encrypted) are sent as LZO literal runs, which
//! every LZO1X decompressor reads, without the search ([`Compression`]).
//!
//! GetAllFilter matches records whose value contains the filter bytes (case-sensitive
//! substring; the key is not searched; an empty filter matches nothing). A record too large for
//! a batch is skipped with a warning, as in the original.

use super::{status, ChannelCheck};
use crate::session::Ongoing;
use crate::stats::{Action, Stats};
use crate::storage::{record_bytes, Storage};
use memchr::memmem::Finder;
use swarm_core::Step;
use swarm_protocol::batch::{pair_size, BatchBuilder, Compression};
use swarm_protocol::dht::DhtCommand;
use swarm_protocol::wire::put_array;
use swarm_protocol::{format_key, Status};

/// What an iteration sends.
#[derive(Debug)]
enum Kind {
    All,
    Keys,
    Filter(Box<Finder<'static>>),
}

/// A GetAll-style request in progress: which channel incarnation and where in it.
#[derive(Debug)]
pub struct Iteration {
    channel: Box<[u8]>,
    channel_id: u64,
    cursor: usize,
    kind: Kind,
    /// LZO or literals, by how the last batches compressed.
    compression: Compression,
}

impl Iteration {
    /// The request being served.
    pub fn command(&self) -> DhtCommand {
        match self.kind {
            Kind::All => DhtCommand::GetAll,
            Kind::Keys => DhtCommand::GetAllKeys,
            Kind::Filter(_) => DhtCommand::GetAllFilter,
        }
    }
}

/// GetAll, GetAllKeys (`keys_only`) or GetAllFilter (`filter`): Ok, then the first batch;
/// the iteration goes on in `ongoing`.
#[expect(
    clippy::too_many_arguments,
    reason = "the three GetAll requests share this; bundling it again would rebuild the service"
)]
pub(crate) fn get_all(
    storage: &Storage,
    stats: &mut Stats,
    names: &mut ChannelCheck,
    batch: &mut BatchBuilder,
    ongoing: &mut Ongoing,
    channel: &[u8],
    filter: Option<&[u8]>,
    keys_only: bool,
    out: &mut Vec<u8>,
) -> Step {
    if !names.ok(channel, out) {
        return Step::Done;
    }
    status(out, Status::Ok);
    let entry = match storage.channel(channel) {
        Some(entry) if filter != Some(b"") => entry,
        _ => {
            put_array(out, b"");
            return Step::Done;
        }
    };
    let kind = match (filter, keys_only) {
        (Some(f), _) => Kind::Filter(Box::new(Finder::new(f).into_owned())),
        (None, true) => Kind::Keys,
        (None, false) => Kind::All,
    };
    *ongoing = Ongoing::Iteration(Iteration {
        channel: channel.into(),
        channel_id: entry.id,
        cursor: 0,
        kind,
        compression: Compression::default(),
    });
    resume_iteration(storage, stats, batch, ongoing, out)
}

/// Appends the next batch (or the end marker).
pub(crate) fn resume_iteration(
    storage: &Storage,
    stats: &mut Stats,
    batch: &mut BatchBuilder,
    ongoing: &mut Ongoing,
    out: &mut Vec<u8>,
) -> Step {
    let Ongoing::Iteration(it) = ongoing else {
        return Step::Done;
    };
    let channel = match storage.channel(&it.channel) {
        Some(entry) if entry.id == it.channel_id => &entry.data,
        _ => {
            // The channel was removed meanwhile: end the stream.
            put_array(out, b"");
            return Step::Done;
        }
    };
    let (mut records, mut bytes) = (0u64, 0u64);
    while let Some((pos, key, value)) = channel.next_from(it.cursor) {
        let hex = format_key(key);
        let fits = match &it.kind {
            Kind::Keys => batch.try_push_single(&hex),
            Kind::Filter(f) if f.find(value).is_none() => true,
            Kind::All | Kind::Filter(_) => {
                let size = pair_size(hex.len(), value.len());
                if batch.too_large(size) {
                    log::warn!(
                        "Large record ({size} bytes) being skipped for compressed batch request on {}",
                        String::from_utf8_lossy(&it.channel)
                    );
                    true
                } else {
                    let pushed = batch.try_push_pair(&hex, value);
                    if pushed {
                        records += 1;
                        bytes += record_bytes(value.len());
                    }
                    pushed
                }
            }
        };
        if !fits {
            break; // the batch is full; this record starts the next one
        }
        it.cursor = pos + 1;
    }
    stats.action(Action::Iterated, records, bytes);
    if !batch.is_empty() {
        it.compression.finish(batch, out);
        return Step::More;
    }
    put_array(out, b"");
    Step::Done
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use std::collections::BTreeMap;
    use swarm_core::Step;
    use swarm_protocol::batch::{decompress, Items, Pairs};
    use swarm_protocol::dht::DhtRequest;
    use swarm_protocol::{format_key, Reader};

    /// Runs a GetAll-style request to its end; returns the decoded items per batch.
    fn drain(t: &mut Node, req: &DhtRequest<'_>) -> Vec<Vec<u8>> {
        let mut s = t.session(1);
        let (mut out, mut step) = t.request_on(&mut s, req);
        while step == Step::More {
            let (more, next) = t.resume(&mut s);
            out.extend_from_slice(&more);
            step = next;
        }
        assert_eq!(step, Step::Done);
        assert_eq!(&out[..4], &OK);
        let mut r = Reader::new(&out[4..]);
        let mut batches = Vec::new();
        loop {
            let payload = r.read_array().unwrap();
            if payload.is_empty() {
                break;
            }
            batches.push(decompress(payload).unwrap());
        }
        assert!(r.remaining().is_empty());
        batches
    }

    /// Records by key.
    type Records = BTreeMap<Vec<u8>, Vec<u8>>;

    /// The wire arrays of a GetAll of `c`: (array length, uncompressed length) per batch, and
    /// the records.
    fn batch_sizes(t: &mut Node) -> (Vec<(usize, usize)>, Records) {
        let mut s = t.session(1);
        let (mut out, mut step) = t.request_on(&mut s, &DhtRequest::GetAll { channel: b"c" });
        while step == Step::More {
            let (more, next) = t.resume(&mut s);
            out.extend_from_slice(&more);
            step = next;
        }
        let mut r = Reader::new(&out[4..]);
        let (mut sizes, mut records) = (Vec::new(), BTreeMap::new());
        loop {
            let payload = r.read_array().unwrap();
            if payload.is_empty() {
                break;
            }
            let raw = decompress(payload).unwrap();
            sizes.push((payload.len(), raw.len()));
            for p in Pairs::new(&raw) {
                let (k, v) = p.unwrap();
                records.insert(k.to_vec(), v.to_vec());
            }
        }
        (sizes, records)
    }

    #[test]
    fn values_that_do_not_compress_go_out_as_literals_and_text_stays_compressed() {
        let mut t = Node::new();
        let mut expect = BTreeMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for k in 0..3000u64 {
            let v: Vec<u8> = (0..500)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    (x >> 24) as u8
                })
                .collect();
            t.request(&DhtRequest::Put {
                channel: b"c",
                key: &format_key(k),
                value: &v,
            });
            expect.insert(format_key(k).to_vec(), v);
        }
        let (sizes, got) = batch_sizes(&mut t);
        assert_eq!(got, expect);
        assert!(sizes.len() > 18, "{} batches", sizes.len());
        // The first batch is searched and found not to shrink; the next 16 are literals:
        // 8 bytes of length, a run header of 1 + len/255 bytes, the raw bytes, 3 end bytes.
        for (i, &(wire, raw)) in sizes.iter().enumerate().skip(1).take(16) {
            assert_eq!(wire, 8 + 2 + (raw - 18 - 1) / 255 + raw + 3, "batch {i}");
        }

        let mut t = Node::new();
        for k in 0..3000u64 {
            t.request(&DhtRequest::Put {
                channel: b"c",
                key: &format_key(k),
                value: format!("value {k} {}", "text ".repeat(100)).as_bytes(),
            });
        }
        let (sizes, got) = batch_sizes(&mut t);
        assert_eq!(got.len(), 3000);
        for (i, &(wire, raw)) in sizes.iter().enumerate() {
            assert!(wire < raw / 2, "batch {i}: {wire} of {raw} bytes");
        }
    }

    #[test]
    fn missing_channel_is_ok_and_end_marker() {
        let mut t = Node::new();
        let out = t.request(&DhtRequest::GetAll { channel: b"c" });
        assert_eq!(out, [0xc8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        assert!(t.service.storage().channel(b"c").is_none());
    }

    #[test]
    fn all_keys_and_filter_over_many_batches() {
        let mut t = Node::new();
        let mut expect = BTreeMap::new();
        for k in 0..5000u64 {
            let v = format!("value {k} {}", "x".repeat((k % 50) as usize));
            t.request(&DhtRequest::Put {
                channel: b"c",
                key: &format_key(k),
                value: v.as_bytes(),
            });
            expect.insert(format_key(k).to_vec(), v.into_bytes());
        }
        let batches = drain(&mut t, &DhtRequest::GetAll { channel: b"c" });
        assert!(batches.len() > 2, "spread over several batches");
        let mut got = BTreeMap::new();
        for raw in &batches {
            assert!(raw.len() <= t.service.settings().batch_size);
            for p in Pairs::new(raw) {
                let (k, v) = p.unwrap();
                assert!(
                    got.insert(k.to_vec(), v.to_vec()).is_none(),
                    "each record once"
                );
            }
        }
        assert_eq!(got, expect);

        let keys: Vec<Vec<u8>> = drain(&mut t, &DhtRequest::GetAllKeys { channel: b"c" })
            .iter()
            .flat_map(|raw| {
                Items::new(raw)
                    .map(|i| i.unwrap().to_vec())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(keys.len(), 5000);

        let filtered: BTreeMap<_, _> = drain(
            &mut t,
            &DhtRequest::GetAllFilter {
                channel: b"c",
                filter: b"0",
            },
        )
        .iter()
        .flat_map(|raw| {
            Pairs::new(raw)
                .map(|p| p.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
        let want: BTreeMap<_, _> = expect
            .into_iter()
            .filter(|(_, v)| v.contains(&b'0'))
            .collect();
        assert_eq!(filtered, want);
        assert!(drain(
            &mut t,
            &DhtRequest::GetAllFilter {
                channel: b"c",
                filter: b""
            }
        )
        .is_empty());
    }

    #[test]
    fn removal_during_iteration_ends_the_stream() {
        let mut t = Node::new();
        for k in 0..20_000u64 {
            t.request(&DhtRequest::Put {
                channel: b"c",
                key: &format_key(k),
                value: &[b'v'; 60],
            });
        }
        let mut s = t.session(1);
        let (_, step) = t.request_on(&mut s, &DhtRequest::GetAll { channel: b"c" });
        assert_eq!(step, Step::More);
        t.request(&DhtRequest::RemoveChannel { channel: b"c" });
        t.request(&DhtRequest::Put {
            channel: b"c",
            key: &format_key(1),
            value: b"new",
        });
        let (out, step) = t.resume(&mut s);
        assert_eq!((out, step), (vec![0u8; 8], Step::Done));
    }
}
