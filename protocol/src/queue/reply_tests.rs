//! Queue reply tests: every reply byte for byte against bytes written out by hand from
//! spec/queue.md section 2, and round-trip / every-cut properties.

use super::request_tests::{arb_parts, arr, cat, i, Parts, END};
use super::*;
use crate::error::{DecodeError, ProtocolError};
use crate::status::Status;
use proptest::prelude::*;

fn ok() -> Vec<u8> {
    vec![0xc8, 0, 0, 0]
}

fn node() -> Vec<u8> {
    // arr("127.0.0.1") u16(10000)
    cat(&[arr(b"127.0.0.1"), vec![0x10, 0x27]])
}

fn u64le(v: u64) -> Vec<u8> {
    v.to_le_bytes().to_vec()
}

#[test]
fn every_reply_byte_for_byte() {
    let info = NodeInfo {
        address: b"127.0.0.1",
        port: 10000,
    };
    let cases: Vec<(QueueCommand, QueueReply<'_>, Vec<u8>)> = vec![
        (QueueCommand::Push, QueueReply::Status(Status::Ok), ok()),
        (
            QueueCommand::Push,
            QueueReply::Status(Status::OutOfMemory),
            vec![0x97, 0x01, 0, 0],
        ),
        (
            QueueCommand::Pop,
            QueueReply::Value(b"rec"),
            cat(&[ok(), arr(b"rec")]),
        ),
        // "Empty pop": Ok and 8 zero bytes.
        (
            QueueCommand::Pop,
            QueueReply::Value(b""),
            cat(&[ok(), END.to_vec()]),
        ),
        (
            QueueCommand::Pop,
            QueueReply::Status(Status::BadChannelName),
            vec![0x99, 0x01, 0, 0],
        ),
        (
            QueueCommand::GetChannels,
            QueueReply::Channels(vec![b"a", b"b"]),
            cat(&[ok(), arr(b"a"), arr(b"b"), END.to_vec()]),
        ),
        (
            QueueCommand::GetChannelSize,
            QueueReply::Size {
                node: info,
                records: 2,
                bytes: 30,
            },
            cat(&[ok(), node(), u64le(2), u64le(30)]),
        ),
        (
            QueueCommand::GetSize,
            QueueReply::Size {
                node: info,
                records: 0,
                bytes: 0,
            },
            cat(&[ok(), node(), u64le(0), u64le(0)]),
        ),
        (QueueCommand::Consume, QueueReply::Status(Status::Ok), ok()),
        (
            QueueCommand::GetSizeLimit,
            QueueReply::SizeLimit {
                node: info,
                limit: 1 << 20,
            },
            cat(&[ok(), node(), u64le(1 << 20)]),
        ),
        (
            QueueCommand::GetNumConnections,
            QueueReply::NumConnections {
                node: info,
                count: 3,
            },
            cat(&[ok(), node(), u64le(3)]),
        ),
        (
            QueueCommand::GetNumConnections,
            QueueReply::Status(Status::NotSupported),
            vec![0x96, 0x01, 0, 0],
        ),
        (
            QueueCommand::PushMulti,
            QueueReply::Status(Status::Ok),
            ok(),
        ),
        (QueueCommand::Produce, QueueReply::Status(Status::Ok), ok()),
        (
            QueueCommand::ProduceMulti,
            QueueReply::Status(Status::Ok),
            ok(),
        ),
        (
            QueueCommand::RemoveChannel,
            QueueReply::Status(Status::Ok),
            ok(),
        ),
        // PushMulti2 full success: Ok and 8 zero bytes.
        (
            QueueCommand::PushMulti2,
            QueueReply::Failed(vec![]),
            cat(&[ok(), END.to_vec()]),
        ),
        (
            QueueCommand::PushMulti2,
            QueueReply::Failed(vec![b"full"]),
            cat(&[ok(), arr(b"full"), END.to_vec()]),
        ),
        (
            QueueCommand::PushMulti2,
            QueueReply::Status(Status::EmptyValue),
            vec![0x98, 0x01, 0, 0],
        ),
    ];
    for (cmd, reply, bytes) in cases {
        let mut out = Vec::new();
        reply.encode(&mut out);
        assert_eq!(out, bytes, "{} {reply:?}", cmd.name());
        assert_eq!(QueueReply::decode(cmd, &bytes), Ok((reply, bytes.len())));
    }
    assert_eq!(
        QueueReply::decode(QueueCommand::Pop, &i(201)),
        Err(DecodeError::Invalid(ProtocolError::UnknownStatus(201)))
    );
}

fn build_reply<'a>(p: &'a Parts, status: Status) -> QueueReply<'a> {
    let (cmd, a, list, port, x, y) = p;
    let node = NodeInfo {
        address: a,
        port: *port,
    };
    let names = || list.iter().map(Vec::as_slice).collect();
    if status != Status::Ok {
        return QueueReply::Status(status);
    }
    match cmd {
        QueueCommand::Pop => QueueReply::Value(a),
        QueueCommand::GetChannels => QueueReply::Channels(names()),
        QueueCommand::GetChannelSize | QueueCommand::GetSize => QueueReply::Size {
            node,
            records: *x,
            bytes: *y,
        },
        QueueCommand::GetSizeLimit => QueueReply::SizeLimit { node, limit: *x },
        QueueCommand::GetNumConnections => QueueReply::NumConnections { node, count: *x },
        QueueCommand::PushMulti2 => QueueReply::Failed(names()),
        _ => QueueReply::Status(Status::Ok),
    }
}

proptest! {
    #[test]
    fn reply_roundtrip_and_every_cut(p in arb_parts(), s in 0..Status::ALL.len()) {
        let reply = build_reply(&p, Status::ALL[s]);
        let mut out = Vec::new();
        reply.encode(&mut out);
        for cut in 0..out.len() {
            prop_assert_eq!(QueueReply::decode(p.0, &out[..cut]), Err(DecodeError::Incomplete));
        }
        prop_assert_eq!(QueueReply::decode(p.0, &out), Ok((reply, out.len())));
    }
}
