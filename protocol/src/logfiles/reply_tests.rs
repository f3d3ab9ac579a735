//! Logfiles reply tests: replies byte for byte from spec/logfiles.md section 2, the batch stream
//! of section 1.2 (its worked example and the original's empty batch).

use super::request_tests::{arr, cat, i, END};
use super::*;
use crate::batch::{decompress, BatchBuilder, Pairs, DEFAULT_BATCH_SIZE};
use crate::error::{DecodeError, ProtocolError};
use crate::status::Status;
use crate::wire::MAX_ARRAY_LEN;

/// The worked example's 38 LZO bytes: record `0000000057275806` = `Hello`.
const HELLO_LZO: [u8; 38] = [
    0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0x30, 0xc0, 0, 0, 0x03, 0x35, 0x37, 0x32, 0x37, 0x35, 0x38,
    0x30, 0x36, 0x05, 0, 0, 0, 0, 0, 0, 0, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x11, 0, 0,
];

#[test]
fn spec_batch_stream_example() {
    // c8 00 00 00 | 2e 00x7 | 25 00x7 | <38 bytes> | 00x8
    let wire = cat(&[
        vec![0xc8, 0, 0, 0],
        vec![0x2e, 0, 0, 0, 0, 0, 0, 0],
        vec![0x25, 0, 0, 0, 0, 0, 0, 0],
        HELLO_LZO.to_vec(),
        END.to_vec(),
    ]);
    let (head, used) = LogfilesReply::decode(LogfilesCommand::GetRange, &wire).unwrap();
    assert_eq!((head, used), (LogfilesReply::Status(Status::Ok), 4));
    let (item, n) = decode_batch_item(&wire[used..]).unwrap();
    assert_eq!(n, 8 + 46);
    let BatchItem::Batch(batch) = item else {
        panic!("expected a batch, got {item:?}");
    };
    let raw = decompress(batch).unwrap();
    assert_eq!(raw.len(), 0x25);
    let pairs: Vec<_> = Pairs::new(&raw).collect::<Result<_, _>>().unwrap();
    assert_eq!(pairs, [(&b"0000000057275806"[..], &b"Hello"[..])]);
    assert_eq!(
        decode_batch_item(&wire[used + n..]),
        Ok((BatchItem::End, 8))
    );
    for cut in 0..n {
        assert_eq!(
            decode_batch_item(&wire[used..used + cut]),
            Err(DecodeError::Incomplete)
        );
    }

    // Our batcher writes the same bytes.
    let mut builder = BatchBuilder::new(DEFAULT_BATCH_SIZE);
    assert!(builder.try_push_pair(b"0000000057275806", b"Hello"));
    let mut ours = Vec::new();
    builder.finish_into(&mut ours);
    encode_stream_end(&mut ours);
    let (BatchItem::Batch(b), n) = decode_batch_item(&ours).unwrap() else {
        panic!("expected a batch");
    };
    assert_eq!(decompress(b).unwrap(), raw);
    assert_eq!(&b[8..], HELLO_LZO, "LZO1X-1 as liblzo2's");
    assert_eq!(&ours[n..], END);
}

#[test]
fn original_empty_batch_is_a_batch_without_records() {
    // 0b 00x7 | 00x8 11 00 00 | 00x8: what the original sends for no records.
    let wire = cat(&[
        vec![0x0b, 0, 0, 0, 0, 0, 0, 0],
        vec![0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0],
        END.to_vec(),
    ]);
    let (BatchItem::Batch(batch), n) = decode_batch_item(&wire).unwrap() else {
        panic!("expected a batch");
    };
    assert_eq!(n, 19);
    assert!(decompress(batch).unwrap().is_empty());
    assert_eq!(decode_batch_item(&wire[n..]), Ok((BatchItem::End, 8)));
    // Our batcher's empty batch is the same 19 bytes, so a node can send it as the original did.
    let mut ours = Vec::new();
    BatchBuilder::new(DEFAULT_BATCH_SIZE).finish_into(&mut ours);
    encode_stream_end(&mut ours);
    assert_eq!(ours, wire);
}

#[test]
fn batch_items_that_cannot_be_batches() {
    let too_long = (MAX_ARRAY_LEN + 1).to_le_bytes();
    assert!(matches!(
        decode_batch_item(&too_long),
        Err(DecodeError::Invalid(ProtocolError::ArrayTooLong { .. }))
    ));
    assert_eq!(
        decode_batch_item(&arr(b"1234567")),
        Err(DecodeError::Invalid(ProtocolError::BadBatch(
            "shorter than its length header"
        )))
    );
}

#[test]
fn replies_byte_for_byte() {
    let version = cat(&[
        vec![0xc8, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0],
        b"20110401".to_vec(),
    ]);
    let node = NodeInfo {
        address: b"0.0.0.0",
        port: 10000,
    };
    let node_bytes = cat(&[arr(b"0.0.0.0"), vec![0x10, 0x27]]);
    let cases = [
        (
            LogfilesCommand::Put,
            LogfilesReply::Status(Status::Ok),
            i(200),
        ),
        (
            LogfilesCommand::Put,
            LogfilesReply::Status(Status::EmptyValue),
            vec![0x98, 0x01, 0, 0],
        ),
        (
            LogfilesCommand::GetRangeRegex,
            LogfilesReply::Status(Status::Error),
            vec![0xf4, 0x01, 0, 0],
        ),
        (
            LogfilesCommand::GetVersion,
            LogfilesReply::Version(API_VERSION),
            version,
        ),
        (
            LogfilesCommand::GetChannels,
            LogfilesReply::Channels(vec![b"a", b"bc"]),
            cat(&[i(200), arr(b"a"), arr(b"bc"), END.to_vec()]),
        ),
        (
            LogfilesCommand::GetNumConnections,
            LogfilesReply::NumConnections { node, count: 3 },
            cat(&[i(200), node_bytes.clone(), 3u64.to_le_bytes().to_vec()]),
        ),
        (
            LogfilesCommand::GetChannelSize,
            LogfilesReply::Size {
                node,
                records: 2,
                bytes: 10,
            },
            cat(&[
                i(200),
                node_bytes,
                2u64.to_le_bytes().to_vec(),
                10u64.to_le_bytes().to_vec(),
            ]),
        ),
    ];
    for (cmd, reply, bytes) in cases {
        assert_eq!(
            LogfilesReply::decode(cmd, &bytes),
            Ok((reply.clone(), bytes.len()))
        );
        let mut out = Vec::new();
        reply.encode(&mut out);
        assert_eq!(out, bytes, "{}", cmd.name());
    }
}

#[test]
fn unknown_status_is_refused() {
    assert_eq!(
        LogfilesReply::decode(LogfilesCommand::Put, &201i32.to_le_bytes()),
        Err(DecodeError::Invalid(ProtocolError::UnknownStatus(201)))
    );
}
