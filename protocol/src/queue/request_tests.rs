//! Queue request tests: every request byte for byte against bytes written out by hand from
//! spec/queue.md section 2, stream records, and round-trip / every-cut properties. The helpers
//! here are shared with `reply_tests`.

use super::*;
use crate::error::{DecodeError, ProtocolError};
use crate::wire::MAX_ARRAY_LEN;
use proptest::prelude::*;

/// `i32` LE.
pub(super) fn i(v: i32) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

/// `arr(bytes)`: u64 LE length, bytes.
pub(super) fn arr(b: &[u8]) -> Vec<u8> {
    let mut out = (b.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(b);
    out
}

pub(super) fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

pub(super) const END: [u8; 8] = [0; 8];

#[test]
fn codes_are_the_legacy_table() {
    for (n, cmd) in QueueCommand::ALL.into_iter().enumerate() {
        assert_eq!(cmd.code(), n as i32 + 1);
        assert_eq!(QueueCommand::from_code(cmd.code()), Some(cmd));
    }
    for code in [0, 14, -1, i32::MAX] {
        assert_eq!(QueueCommand::from_code(code), None);
        assert_eq!(
            QueueRequest::decode(&code.to_le_bytes()),
            Err(DecodeError::Invalid(ProtocolError::UnknownCommand(code)))
        );
        assert_eq!(QueueRequest::needed_len(&code.to_le_bytes()), None);
    }
    assert_eq!(QueueCommand::PushMulti2.name(), "PushMulti2");
    assert_eq!(QueueCommand::GetNumConnections.name(), "GetNumConnections");
}

fn request_bytes() -> Vec<(QueueRequest<'static>, Vec<u8>)> {
    let two = || vec![&b"ch1"[..], &b"ch2"[..]];
    let list = cat(&[arr(b"ch1"), arr(b"ch2"), END.to_vec()]);
    vec![
        (
            QueueRequest::Push {
                channel: b"test",
                value: b"foo",
            },
            // spec/queue.md "push foo to test", written out.
            vec![
                0x01, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x74, 0x65, 0x73, 0x74, 0x03, 0, 0, 0, 0,
                0, 0, 0, 0x66, 0x6f, 0x6f,
            ],
        ),
        (QueueRequest::Pop { channel: b"q" }, cat(&[i(2), arr(b"q")])),
        (QueueRequest::GetChannels, i(3)),
        (
            QueueRequest::GetChannelSize { channel: b"q" },
            cat(&[i(4), arr(b"q")]),
        ),
        (QueueRequest::GetSize, i(5)),
        (
            QueueRequest::Consume { channel: b"q" },
            cat(&[i(6), arr(b"q")]),
        ),
        (QueueRequest::GetSizeLimit, i(7)),
        (QueueRequest::GetNumConnections, i(8)),
        (
            QueueRequest::PushMulti {
                channels: two(),
                value: b"v",
            },
            cat(&[i(9), list.clone(), arr(b"v")]),
        ),
        (
            QueueRequest::Produce { channel: b"q" },
            cat(&[i(10), arr(b"q")]),
        ),
        (
            QueueRequest::ProduceMulti { channels: two() },
            cat(&[i(11), list.clone()]),
        ),
        (
            QueueRequest::RemoveChannel { channel: b"q" },
            cat(&[i(12), arr(b"q")]),
        ),
        (
            QueueRequest::PushMulti2 {
                channels: two(),
                value: b"v",
            },
            cat(&[i(13), list, arr(b"v")]),
        ),
    ]
}

#[test]
fn every_request_byte_for_byte() {
    let cases = request_bytes();
    assert_eq!(cases.len(), QueueCommand::ALL.len());
    for (req, bytes) in cases {
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(out, bytes, "{}", req.command().name());
        assert_eq!(QueueRequest::decode(&bytes), Ok((req, bytes.len())));
        assert_eq!(QueueRequest::needed_len(&bytes), Some(bytes.len()));
    }
}

#[test]
fn empty_channel_list_is_a_request() {
    let bytes = cat(&[i(9), END.to_vec(), arr(b"v")]);
    let want = QueueRequest::PushMulti {
        channels: vec![],
        value: b"v",
    };
    assert_eq!(QueueRequest::decode(&bytes), Ok((want, bytes.len())));
}

#[test]
fn needed_len_reads_the_prefixes() {
    let bytes = cat(&[i(9), arr(b"ch1"), arr(b"ch2"), END.to_vec(), arr(b"value")]);
    assert_eq!(QueueRequest::needed_len(&bytes[..3]), None);
    // Code only: a list (one more prefix at least) and the value's prefix.
    assert_eq!(QueueRequest::needed_len(&bytes[..4]), Some(4 + 16));
    // First name's prefix there: the name, then one more list prefix and the value prefix.
    assert_eq!(QueueRequest::needed_len(&bytes[..12]), Some(4 + 11 + 16));
    // Terminator there: the value prefix to come.
    assert_eq!(QueueRequest::needed_len(&bytes[..34]), Some(34 + 8));
    assert_eq!(QueueRequest::needed_len(&bytes[..42]), Some(bytes.len()));
}

#[test]
fn oversized_arrays_are_refused_on_their_prefix() {
    let too_long = (MAX_ARRAY_LEN + 1).to_le_bytes().to_vec();
    for head in [
        cat(&[i(1), too_long.clone()]),
        cat(&[i(1), arr(b"c"), too_long.clone()]),
        cat(&[i(9), arr(b"c"), too_long.clone()]),
        cat(&[i(13), END.to_vec(), too_long.clone()]),
        cat(&[i(11), too_long.clone()]),
    ] {
        assert!(matches!(
            QueueRequest::decode(&head),
            Err(DecodeError::Invalid(ProtocolError::ArrayTooLong { .. }))
        ));
    }
    assert!(matches!(
        decode_stream_record(&too_long),
        Err(DecodeError::Invalid(ProtocolError::ArrayTooLong { .. }))
    ));
}

#[test]
fn produce_stream_records_and_end() {
    let bytes = cat(&[arr(b"r1"), END.to_vec()]);
    assert_eq!(
        decode_stream_record(&bytes),
        Ok((StreamRecord::Record(b"r1"), 10))
    );
    assert_eq!(
        decode_stream_record(&bytes[10..]),
        Ok((StreamRecord::End, 8))
    );
    for cut in 0..10 {
        assert_eq!(
            decode_stream_record(&bytes[..cut]),
            Err(DecodeError::Incomplete)
        );
    }
    let mut end = Vec::new();
    encode_stream_end(&mut end);
    assert_eq!(end, END);
}

#[test]
fn consume_batch_takes_the_complete_records() {
    let bytes = cat(&[arr(b"a"), arr(b"bc"), END.to_vec()]);
    assert_eq!(
        ConsumeBatch::decode(&bytes[..5]),
        Err(DecodeError::Incomplete)
    );
    let (batch, used) = ConsumeBatch::decode(&bytes[..15]).unwrap();
    assert_eq!(
        (batch.records, batch.ended, used),
        (vec![&b"a"[..]], false, 9)
    );
    let (batch, used) = ConsumeBatch::decode(&bytes).unwrap();
    assert_eq!(batch.records, vec![&b"a"[..], &b"bc"[..]]);
    assert!(batch.ended);
    assert_eq!(used, bytes.len());
    // An oversized record after good ones: the good ones first, the error on the next call.
    let bad = cat(&[arr(b"a"), (MAX_ARRAY_LEN + 1).to_le_bytes().to_vec()]);
    let (batch, used) = ConsumeBatch::decode(&bad).unwrap();
    assert_eq!((batch.records.len(), used), (1, 9));
    assert!(ConsumeBatch::decode(&bad[used..]).is_err());
}

fn arb_name() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 1..12)
}

/// The owned parts of a request or reply: command, one array, a list of names, numbers.
pub(super) type Parts = (QueueCommand, Vec<u8>, Vec<Vec<u8>>, u16, u64, u64);

pub(super) fn arb_parts() -> impl Strategy<Value = Parts> {
    (
        proptest::sample::select(QueueCommand::ALL.to_vec()),
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(arb_name(), 0..4),
        any::<u16>(),
        any::<u64>(),
        any::<u64>(),
    )
}

fn build_request<'a>(cmd: QueueCommand, a: &'a [u8], list: &'a [Vec<u8>]) -> QueueRequest<'a> {
    let channels = || list.iter().map(Vec::as_slice).collect();
    match cmd {
        QueueCommand::Push => QueueRequest::Push {
            channel: a,
            value: a,
        },
        QueueCommand::Pop => QueueRequest::Pop { channel: a },
        QueueCommand::GetChannels => QueueRequest::GetChannels,
        QueueCommand::GetChannelSize => QueueRequest::GetChannelSize { channel: a },
        QueueCommand::GetSize => QueueRequest::GetSize,
        QueueCommand::Consume => QueueRequest::Consume { channel: a },
        QueueCommand::GetSizeLimit => QueueRequest::GetSizeLimit,
        QueueCommand::GetNumConnections => QueueRequest::GetNumConnections,
        QueueCommand::PushMulti => QueueRequest::PushMulti {
            channels: channels(),
            value: a,
        },
        QueueCommand::Produce => QueueRequest::Produce { channel: a },
        QueueCommand::ProduceMulti => QueueRequest::ProduceMulti {
            channels: channels(),
        },
        QueueCommand::RemoveChannel => QueueRequest::RemoveChannel { channel: a },
        QueueCommand::PushMulti2 => QueueRequest::PushMulti2 {
            channels: channels(),
            value: a,
        },
    }
}

proptest! {
    #[test]
    fn request_roundtrip_and_every_cut(p in arb_parts(), tail in proptest::collection::vec(any::<u8>(), 0..20)) {
        let req = build_request(p.0, &p.1, &p.2);
        let mut out = Vec::new();
        req.encode(&mut out);
        let len = out.len();
        for cut in 0..len {
            prop_assert_eq!(QueueRequest::decode(&out[..cut]), Err(DecodeError::Incomplete));
            match QueueRequest::needed_len(&out[..cut]) {
                Some(n) => prop_assert!(n > cut && n <= len, "hint {} at cut {} of {}", n, cut, len),
                None => prop_assert!(cut < 4),
            }
        }
        prop_assert_eq!(QueueRequest::needed_len(&out), Some(len));
        out.extend_from_slice(&tail);
        prop_assert_eq!(QueueRequest::decode(&out), Ok((req, len)));
    }
}
