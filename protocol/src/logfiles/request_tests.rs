//! Logfiles request tests: every request byte for byte against bytes written out by hand from
//! spec/logfiles.md section 2, length hints and refusals. The helpers here are shared with
//! `reply_tests`.

use super::*;
use crate::error::{DecodeError, ProtocolError};
use crate::wire::MAX_ARRAY_LEN;

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

const LO: &[u8] = b"0000000057275806";
const HI: &[u8] = b"00000000572758ff";

#[test]
fn codes_are_the_legacy_table() {
    let codes: Vec<i32> = LogfilesCommand::ALL.map(LogfilesCommand::code).to_vec();
    assert_eq!(
        codes,
        [3, 17, 18, 19, 22, 23, 24, 28, 29, 31, 32, 34, 35, 36]
    );
    for cmd in LogfilesCommand::ALL {
        assert_eq!(LogfilesCommand::from_code(cmd.code()), Some(cmd));
    }
    // None, the dht's Put/Get, GetResponsibleRange, Listen, GetAllKeys, the dht's Redistribute.
    for code in [0, 1, 7, 20, 25, 30, 33, 37, -1, i32::MAX] {
        assert_eq!(LogfilesCommand::from_code(code), None);
        assert_eq!(
            LogfilesRequest::decode(&code.to_le_bytes()),
            Err(DecodeError::Invalid(ProtocolError::UnknownCommand(code)))
        );
        assert_eq!(LogfilesRequest::needed_len(&code.to_le_bytes()), None);
    }
    assert_eq!(LogfilesCommand::GetRangeRegex.name(), "GetRangeRegex");
    assert_eq!(LogfilesCommand::PutBatch.name(), "PutBatch");
    let streams: Vec<_> = LogfilesCommand::ALL
        .into_iter()
        .filter(|c| c.streams_batches())
        .map(LogfilesCommand::code)
        .collect();
    assert_eq!(streams, [28, 29, 31, 32, 34]);
    for (n, mode) in FilterMode::ALL.into_iter().enumerate() {
        assert_eq!(FilterMode::from_code(n as u8), Some(mode));
    }
    assert_eq!(FilterMode::from_code(3), None);
}

/// Every request, the spec's Put example verbatim, the others field by field.
fn request_bytes() -> Vec<(LogfilesRequest<'static>, Vec<u8>)> {
    vec![
        (
            LogfilesRequest::Put {
                channel: b"test",
                key: LO,
                value: b"Hello",
            },
            // spec/logfiles.md 2.1 "Example request for channel test, key 0x57275806".
            cat(&[
                vec![
                    0x03, 0, 0, 0, 0x04, 0, 0, 0, 0, 0, 0, 0, 0x74, 0x65, 0x73, 0x74,
                ],
                vec![0x10, 0, 0, 0, 0, 0, 0, 0],
                b"0000000057275806".to_vec(),
                vec![0x05, 0, 0, 0, 0, 0, 0, 0, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            ]),
        ),
        (LogfilesRequest::GetChannels, vec![0x11, 0, 0, 0]),
        (
            LogfilesRequest::GetChannelSize { channel: b"ch" },
            cat(&[vec![0x12, 0, 0, 0], arr(b"ch")]),
        ),
        (LogfilesRequest::GetSize, vec![0x13, 0, 0, 0]),
        (
            LogfilesRequest::RemoveChannel { channel: b"ch" },
            cat(&[vec![0x16, 0, 0, 0], arr(b"ch")]),
        ),
        (LogfilesRequest::GetNumConnections, vec![0x17, 0, 0, 0]),
        (LogfilesRequest::GetVersion, vec![0x18, 0, 0, 0]),
        (
            LogfilesRequest::GetRange {
                channel: b"ch",
                lower: LO,
                upper: HI,
            },
            cat(&[vec![0x1c, 0, 0, 0], arr(b"ch"), arr(LO), arr(HI)]),
        ),
        (
            LogfilesRequest::GetAll { channel: b"ch" },
            cat(&[vec![0x1d, 0, 0, 0], arr(b"ch")]),
        ),
        (
            LogfilesRequest::GetAllFilter {
                channel: b"ch",
                filter: b"ell",
            },
            cat(&[vec![0x1f, 0, 0, 0], arr(b"ch"), arr(b"ell")]),
        ),
        (
            LogfilesRequest::GetRangeFilter {
                channel: b"ch",
                lower: LO,
                upper: HI,
                filter: b"ell",
            },
            cat(&[
                vec![0x20, 0, 0, 0],
                arr(b"ch"),
                arr(LO),
                arr(HI),
                arr(b"ell"),
            ]),
        ),
        (
            LogfilesRequest::GetRangeRegex {
                channel: b"ch",
                lower: LO,
                upper: HI,
                mode: FilterMode::PcreCaseInsensitive,
                pattern: b"h.l+o",
            },
            cat(&[
                vec![0x22, 0, 0, 0],
                arr(b"ch"),
                arr(LO),
                arr(HI),
                vec![0x02],
                arr(b"h.l+o"),
            ]),
        ),
        (
            LogfilesRequest::Redistribute {
                fraction: 0.5,
                nodes: vec![
                    RedistributeNode {
                        address: b"10.0.0.1",
                        port: 10000,
                    },
                    RedistributeNode {
                        address: b"10.0.0.2",
                        port: 10001,
                    },
                ],
            },
            // f32 0.5 is 0x3f000000; ports 10000 = 0x2710, 10001 = 0x2711; no port after END.
            cat(&[
                vec![0x23, 0, 0, 0, 0, 0, 0, 0x3f],
                arr(b"10.0.0.1"),
                vec![0x10, 0x27],
                arr(b"10.0.0.2"),
                vec![0x11, 0x27],
                END.to_vec(),
            ]),
        ),
        (
            LogfilesRequest::PutBatch {
                channel: b"ch",
                batch: &[0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0],
            },
            // The empty batch of spec/logfiles.md 1.2 as the body.
            cat(&[
                vec![0x24, 0, 0, 0],
                arr(b"ch"),
                vec![
                    0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0, 0,
                ],
            ]),
        ),
    ]
}

#[test]
fn every_request_byte_for_byte() {
    let cases = request_bytes();
    assert_eq!(cases.len(), LogfilesCommand::ALL.len());
    for (req, bytes) in cases {
        let name = req.command().name();
        assert_eq!(
            LogfilesRequest::decode(&bytes),
            Ok((req.clone(), bytes.len())),
            "{name}"
        );
        let mut out = Vec::new();
        req.encode(&mut out);
        assert_eq!(out, bytes, "{name}");
        assert_eq!(
            LogfilesRequest::needed_len(&bytes),
            Some(bytes.len()),
            "{name}"
        );
        for cut in 0..bytes.len() {
            assert_eq!(
                LogfilesRequest::decode(&bytes[..cut]),
                Err(DecodeError::Incomplete),
                "{name} cut at {cut}"
            );
        }
    }
}

#[test]
fn redistribute_with_no_nodes() {
    let bytes = cat(&[i(35), 1.0f32.to_le_bytes().to_vec(), END.to_vec()]);
    let want = LogfilesRequest::Redistribute {
        fraction: 1.0,
        nodes: vec![],
    };
    assert_eq!(LogfilesRequest::decode(&bytes), Ok((want, 16)));
}

#[test]
fn needed_len_reads_the_prefixes() {
    let bytes = cat(&[
        i(34),
        arr(b"ch"),
        arr(LO),
        arr(HI),
        vec![1],
        arr(b"pattern"),
    ]);
    let len = bytes.len();
    assert_eq!(LogfilesRequest::needed_len(&bytes[..3]), None);
    // Code only: three arrays' prefixes, the mode byte, the pattern's prefix.
    assert_eq!(
        LogfilesRequest::needed_len(&bytes[..4]),
        Some(4 + 8 * 3 + 1 + 8)
    );
    // Channel prefix there: its body counts.
    assert_eq!(
        LogfilesRequest::needed_len(&bytes[..12]),
        Some(4 + 10 + 16 + 1 + 8)
    );
    // Up to the mode byte: the pattern's prefix to come.
    let before_pattern = 4 + 10 + 24 + 24 + 1;
    assert_eq!(
        LogfilesRequest::needed_len(&bytes[..before_pattern]),
        Some(before_pattern + 8)
    );
    // Every prefix there: exact.
    assert_eq!(
        LogfilesRequest::needed_len(&bytes[..before_pattern + 8]),
        Some(len)
    );

    let nodes = cat(&[
        i(35),
        vec![0; 4],
        arr(b"10.0.0.1"),
        vec![0x10, 0x27],
        END.to_vec(),
    ]);
    assert_eq!(LogfilesRequest::needed_len(&nodes[..4]), Some(4 + 4 + 8));
    assert_eq!(LogfilesRequest::needed_len(&nodes[..8]), Some(16));
    // The first address's prefix there: the address, its port, and the end of the list.
    assert_eq!(
        LogfilesRequest::needed_len(&nodes[..16]),
        Some(16 + 8 + 2 + 8)
    );
    assert_eq!(LogfilesRequest::needed_len(&nodes[..34]), Some(nodes.len()));
}

#[test]
fn oversized_arrays_are_refused_on_their_prefix() {
    let too_long = (MAX_ARRAY_LEN + 1).to_le_bytes().to_vec();
    let key = arr(LO);
    for head in [
        cat(&[i(3), too_long.clone()]),
        cat(&[i(3), arr(b"c"), too_long.clone()]),
        cat(&[i(3), arr(b"c"), key.clone(), too_long.clone()]),
        cat(&[i(18), too_long.clone()]),
        cat(&[i(22), too_long.clone()]),
        cat(&[i(28), arr(b"c"), key.clone(), too_long.clone()]),
        cat(&[i(29), too_long.clone()]),
        cat(&[i(31), arr(b"c"), too_long.clone()]),
        cat(&[i(32), arr(b"c"), key.clone(), key.clone(), too_long.clone()]),
        cat(&[
            i(34),
            arr(b"c"),
            key.clone(),
            key.clone(),
            vec![0],
            too_long.clone(),
        ]),
        cat(&[i(35), vec![0; 4], arr(b"a"), vec![0, 0], too_long.clone()]),
        cat(&[i(36), arr(b"c"), too_long.clone()]),
        cat(&[i(36), u64::MAX.to_le_bytes().to_vec()]),
    ] {
        assert!(
            matches!(
                LogfilesRequest::decode(&head),
                Err(DecodeError::Invalid(ProtocolError::ArrayTooLong { .. }))
            ),
            "{head:?}"
        );
    }
}

#[test]
fn unknown_filter_mode_is_refused_on_its_byte() {
    let head = cat(&[i(34), arr(b"c"), arr(LO), arr(HI), vec![3]]);
    assert!(matches!(
        LogfilesRequest::decode(&head),
        Err(DecodeError::Invalid(ProtocolError::Malformed(_)))
    ));
}
