//! What the wire, format and bad-input tests share: the node of this package started with
//! the tests' defaults, requests and replies spelled out byte by byte (so a test checks the
//! codec instead of trusting it), bucket files written by hand, and the control check each
//! bad-input case ends with.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::time::Duration;
pub use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};
pub use swarm_testkit::{arr, status, Conn, OK};

/// This package's node binary.
pub const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");

/// How long a test waits for a line in root.log.
pub const LOG_WAIT: Duration = Duration::from_secs(10);

/// A node over a new temp directory, started; `overrides` replace or add to the defaults.
pub fn start(overrides: &[(&str, &str, &str)]) -> LogfilesNode {
    let mut node = new_node(overrides);
    node.start();
    node
}

/// As [`start`], not started (for tests that fill the data directory first). Reads on its
/// connections give up after 30 s (the testkit's default).
pub fn new_node(overrides: &[(&str, &str, &str)]) -> LogfilesNode {
    LogfilesNode::new(BIN, overrides)
}

/// Bytes from hex text; spaces, `|` and newlines are ignored (so spec examples paste as is).
pub fn hex(text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|c| c.is_ascii_hexdigit()).collect();
    assert!(digits.len() % 2 == 0, "odd number of hex digits");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

/// A key as it is on the wire: the array of its 16 lowercase hex digits.
pub fn key_arr(key: u64) -> Vec<u8> {
    arr(format!("{key:016x}").as_bytes())
}

/// A request: the i32 LE command code, then `fields`, each already encoded.
pub fn req(code: i32, fields: &[&[u8]]) -> Vec<u8> {
    let mut out = code.to_le_bytes().to_vec();
    for f in fields {
        out.extend_from_slice(f);
    }
    out
}

/// Put 3: channel, key, value.
pub fn put_req(channel: &[u8], key: u64, value: &[u8]) -> Vec<u8> {
    req(3, &[&arr(channel), &key_arr(key), &arr(value)])
}

/// GetRange 28: channel, lower, upper.
pub fn range_req(channel: &[u8], lo: u64, hi: u64) -> Vec<u8> {
    req(28, &[&arr(channel), &key_arr(lo), &key_arr(hi)])
}

/// GetAll 29: channel.
pub fn all_req(channel: &[u8]) -> Vec<u8> {
    req(29, &[&arr(channel)])
}

/// GetRangeRegex 34: channel, lower, upper, mode byte, pattern.
pub fn regex_req(channel: &[u8], lo: u64, hi: u64, mode: u8, pattern: &[u8]) -> Vec<u8> {
    req(
        34,
        &[
            &arr(channel),
            &key_arr(lo),
            &key_arr(hi),
            &[mode],
            &arr(pattern),
        ],
    )
}

/// The reply to a read with no records, as the original sends it (spec 1.2): Ok, the final
/// batch of nothing (8 zero bytes of raw length, then LZO's end marker `11 00 00`), the end.
pub fn empty_stream() -> Vec<u8> {
    hex("c8000000 | 0b00000000000000 | 0000000000000000 110000 | 0000000000000000")
}

/// GetVersion's exact reply.
pub fn version_reply() -> Vec<u8> {
    [&OK[..], &arr(b"20110401")].concat()
}

/// GetVersion on `c`, which must be answered exactly (so nothing was left over before it).
pub fn version_ok(c: &mut Conn) {
    c.exchange_raw(&req(24, &[]), &version_reply());
}

/// A status and nothing after it on `c`: the next request's reply comes next.
pub fn status_only(c: &mut Conn, request: &[u8], code: i32) {
    c.exchange_raw(request, &status(code));
    version_ok(c);
}

/// `records` values, numbered, in a channel the bad-input cases must leave as it is.
pub fn keep_records() -> Vec<Record> {
    (0..50u64)
        .map(|i| (0x5727_5000 + i * 97, format!("keep {i}").into_bytes()))
        .collect()
}

/// A started node with [`keep_records`] in channel `keep`.
pub fn node_with_keep(overrides: &[(&str, &str, &str)]) -> LogfilesNode {
    let node = start(overrides);
    node.connect().put_all(b"keep", &keep_records());
    node
}

/// The end of every bad-input case: on a fresh connection a Put and a GetRange of it are
/// served, and channel `keep` holds exactly [`keep_records`] (by GetRange, GetAll and size).
pub fn control(node: &LogfilesNode, key: u64) {
    let mut c = node.connect();
    let value = format!("control {key}").into_bytes();
    c.exchange_raw(&put_req(b"control", key, &value), &OK);
    assert_eq!(c.get_range(b"control", key, key), vec![(key, value)]);
    let keep = keep_records();
    assert_eq!(c.get_range(b"keep", 0, u64::MAX), keep, "keep changed");
    assert_eq!(c.get_all(b"keep"), keep);
    let bytes = keep.iter().map(|r| r.1.len() as u64).sum();
    assert_eq!(c.channel_size(b"keep"), (keep.len() as u64, bytes));
}

/// Lines of root.log holding `needle`.
pub fn lines_with(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}
