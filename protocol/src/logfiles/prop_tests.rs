//! Property tests of the logfiles codec: requests and replies built from arbitrary parts round
//! trip through encode and decode, every cut of them is `Incomplete` with a length hint past the
//! cut, and any bytes that decode re-encode to exactly themselves (the decoder is canonical, as
//! the fuzz target checks too).

use super::*;
use crate::error::DecodeError;
use crate::status::Status;
use proptest::prelude::*;

/// The owned parts of a request or reply: command, arrays, a node list, numbers.
type Parts = (
    LogfilesCommand,
    [Vec<u8>; 3],
    Vec<(Vec<u8>, u16)>,
    (usize, f32, u64, u64),
);

fn arb_parts() -> impl Strategy<Value = Parts> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..40);
    (
        proptest::sample::select(LogfilesCommand::ALL.to_vec()),
        [bytes(), bytes(), bytes()],
        proptest::collection::vec(
            (proptest::collection::vec(any::<u8>(), 1..16), any::<u16>()),
            0..4,
        ),
        (
            0..FilterMode::ALL.len(),
            -2.0f32..2.0,
            any::<u64>(),
            any::<u64>(),
        ),
    )
}

fn build_request(p: &Parts) -> LogfilesRequest<'_> {
    let [a, b, c] = &p.1;
    let (a, b, c) = (&a[..], &b[..], &c[..]);
    match p.0 {
        LogfilesCommand::Put => LogfilesRequest::Put {
            channel: a,
            key: b,
            value: c,
        },
        LogfilesCommand::GetChannels => LogfilesRequest::GetChannels,
        LogfilesCommand::GetChannelSize => LogfilesRequest::GetChannelSize { channel: a },
        LogfilesCommand::GetSize => LogfilesRequest::GetSize,
        LogfilesCommand::RemoveChannel => LogfilesRequest::RemoveChannel { channel: a },
        LogfilesCommand::GetNumConnections => LogfilesRequest::GetNumConnections,
        LogfilesCommand::GetVersion => LogfilesRequest::GetVersion,
        LogfilesCommand::GetRange => LogfilesRequest::GetRange {
            channel: a,
            lower: b,
            upper: c,
        },
        LogfilesCommand::GetAll => LogfilesRequest::GetAll { channel: a },
        LogfilesCommand::GetAllFilter => LogfilesRequest::GetAllFilter {
            channel: a,
            filter: c,
        },
        LogfilesCommand::GetRangeFilter => LogfilesRequest::GetRangeFilter {
            channel: a,
            lower: b,
            upper: c,
            filter: a,
        },
        LogfilesCommand::GetRangeRegex => LogfilesRequest::GetRangeRegex {
            channel: a,
            lower: b,
            upper: b,
            mode: FilterMode::ALL[p.3 .0],
            pattern: c,
        },
        LogfilesCommand::Redistribute => LogfilesRequest::Redistribute {
            fraction: p.3 .1,
            nodes: p
                .2
                .iter()
                .map(|(address, port)| RedistributeNode {
                    address,
                    port: *port,
                })
                .collect(),
        },
        LogfilesCommand::PutBatch => LogfilesRequest::PutBatch {
            channel: a,
            batch: c,
        },
    }
}

fn build_reply(p: &Parts, status: Status) -> LogfilesReply<'_> {
    let [a, _, _] = &p.1;
    let node = NodeInfo {
        address: a,
        port: p.2.first().map_or(0, |n| n.1),
    };
    if status != Status::Ok {
        return LogfilesReply::Status(status);
    }
    match p.0 {
        LogfilesCommand::GetChannels => {
            LogfilesReply::Channels(p.2.iter().map(|n| n.0.as_slice()).collect())
        }
        LogfilesCommand::GetChannelSize | LogfilesCommand::GetSize => LogfilesReply::Size {
            node,
            records: p.3 .2,
            bytes: p.3 .3,
        },
        LogfilesCommand::GetNumConnections => LogfilesReply::NumConnections {
            node,
            count: p.3 .2,
        },
        LogfilesCommand::GetVersion => LogfilesReply::Version(a),
        _ => LogfilesReply::Status(Status::Ok),
    }
}

/// A piece of a request body: a short array, an empty one, or a few loose bytes (a mode, a
/// port, part of a fraction), so arbitrary bodies often decode.
fn arb_chunk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..20).prop_map(|b| {
            let mut out = (b.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(&b);
            out
        }),
        Just(vec![0; 8]),
        proptest::collection::vec(any::<u8>(), 1..5),
    ]
}

proptest! {
    #[test]
    fn request_roundtrip_and_every_cut(p in arb_parts(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
        let req = build_request(&p);
        let mut out = Vec::new();
        req.encode(&mut out);
        let len = out.len();
        for cut in 0..len {
            prop_assert_eq!(LogfilesRequest::decode(&out[..cut]), Err(DecodeError::Incomplete));
            match LogfilesRequest::needed_len(&out[..cut]) {
                Some(n) => prop_assert!(n > cut && n <= len, "hint {} at cut {} of {}", n, cut, len),
                None => prop_assert!(cut < 4),
            }
        }
        prop_assert_eq!(LogfilesRequest::needed_len(&out), Some(len));
        out.extend_from_slice(&tail);
        prop_assert_eq!(LogfilesRequest::decode(&out), Ok((req, len)));
    }

    #[test]
    fn reply_roundtrip_and_every_cut(p in arb_parts(), s in 0..Status::ALL.len()) {
        let reply = build_reply(&p, Status::ALL[s]);
        let mut out = Vec::new();
        reply.encode(&mut out);
        for cut in 0..out.len() {
            prop_assert_eq!(LogfilesReply::decode(p.0, &out[..cut]), Err(DecodeError::Incomplete));
        }
        prop_assert_eq!(LogfilesReply::decode(p.0, &out), Ok((reply, out.len())));
    }

    #[test]
    fn decoded_bytes_reencode_to_themselves(
        c in proptest::sample::select(LogfilesCommand::ALL.to_vec()),
        body in proptest::collection::vec(arb_chunk(), 0..8),
    ) {
        let mut bytes = c.code().to_le_bytes().to_vec();
        bytes.extend(body.concat());
        if let Ok((req, used)) = LogfilesRequest::decode(&bytes) {
            prop_assert_eq!(LogfilesRequest::needed_len(&bytes), Some(used));
            let mut out = Vec::new();
            req.encode(&mut out);
            prop_assert_eq!(&out[..], &bytes[..used]);
        }
    }
}
