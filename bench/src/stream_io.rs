//! The queue's two ends of `swarm-bench stream` (Produce and Consume through
//! `swarm_protocol::queue`, on blocking sockets, one thread each) and what both targets share:
//! the records and the consumer's tally (`stream_redis` has Redis's ends). Every record starts
//! with its sequence number and the producer's clock (u64 LE each, nanoseconds since the run's
//! start), so the consumer counts records that arrive out of order and measures the end-to-end
//! latency.

use super::records::Values;
use hdrhistogram::Histogram;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};
use swarm_protocol::queue::{
    decode_stream_record, encode_stream_end, QueueCommand, QueueReply, QueueRequest, StreamRecord,
};
use swarm_protocol::wire::put_array;
use swarm_protocol::{DecodeError, Status};

/// Bytes of Produce records per write.
const PRODUCE_CHUNK: usize = 64 * 1024;
/// Consumer read buffer; it grows when one record does not fit.
pub const READ_BUF: usize = 1 << 20;
/// Longest wait for the next record (consumer) or for room to write (producer).
pub const STALL: Duration = Duration::from_secs(10);

/// What a consumer received.
#[derive(Debug)]
pub struct Received {
    /// Records received.
    pub records: u64,
    /// Records whose sequence number was not the one after the previous record's.
    pub out_of_order: u64,
    /// Redis: RPOP replies that were the nil of an empty list.
    pub empty_polls: u64,
    /// End-to-end latency of each record, nanoseconds from the producer's clock to arrival.
    pub latency: Histogram<u64>,
    /// When the last record arrived.
    pub last_at: Option<Instant>,
    next_seq: u64,
}

impl Received {
    pub fn new() -> Received {
        Received {
            records: 0,
            out_of_order: 0,
            empty_polls: 0,
            latency: Histogram::new_with_bounds(1, 600_000_000_000, 3)
                .expect("constant histogram bounds are valid"),
            last_at: None,
            next_seq: 0,
        }
    }

    /// Counts one record that arrived at `now`.
    pub fn record(&mut self, rec: &[u8], start: Instant, now: Instant) {
        let (seq, sent_ns) = stamp_of(rec);
        if seq != self.next_seq {
            self.out_of_order += 1;
        }
        self.next_seq = seq.wrapping_add(1);
        let now_ns = now.saturating_duration_since(start).as_nanos() as u64;
        let _ = self.latency.record(now_ns.saturating_sub(sent_ns).max(1));
        self.records += 1;
        self.last_at = Some(now);
    }
}

/// Writes record `seq`'s value (`size` bytes, at least 16) into `out`, replacing its contents.
pub fn make_record(out: &mut Vec<u8>, values: &Values, seq: u64, start: Instant, size: usize) {
    out.clear();
    out.extend_from_slice(&seq.to_le_bytes());
    let ns = start.elapsed().as_nanos() as u64;
    out.extend_from_slice(&ns.to_le_bytes());
    out.extend_from_slice(&values.of(seq)[..size - 16]);
}

/// The sequence number and send clock at the front of a record (zeros if it is too short).
fn stamp_of(rec: &[u8]) -> (u64, u64) {
    let word = |at: usize| {
        rec.get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map_or(0, u64::from_le_bytes)
    };
    (word(0), word(8))
}

/// Reads until `decode` accepts what is buffered (a handshake reply), with a size bound.
pub fn read_reply<T>(
    s: &mut TcpStream,
    mut decode: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, String>,
) -> Result<T, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        if let Some((reply, used)) = decode(&buf)? {
            if used != buf.len() {
                return Err("bytes after the reply".into());
            }
            return Ok(reply);
        }
        if buf.len() > 64 * 1024 {
            return Err("reply too long".into());
        }
        let n = s.read(&mut chunk).map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Sends a queue request and expects the status alone, `Ok`.
pub fn queue_request_ok(s: &mut TcpStream, req: &QueueRequest<'_>) -> Result<(), String> {
    let mut out = Vec::new();
    req.encode(&mut out);
    s.write_all(&out).map_err(|e| format!("write: {e}"))?;
    let cmd = req.command();
    // The reply borrows the buffer: keep only whether it was `Ok` alone, or what it was.
    let reply = read_reply(s, |buf| match QueueReply::decode(cmd, buf) {
        Ok((QueueReply::Status(Status::Ok), used)) => Ok(Some((Ok(()), used))),
        Ok((other, used)) => Ok(Some((Err(format!("{other:?}")), used))),
        Err(DecodeError::Incomplete) => Ok(None),
        Err(DecodeError::Invalid(e)) => Err(e.to_string()),
    })?;
    reply.map_err(|other| format!("{} answered {other}", cmd.name()))
}

/// GetChannelSize: the records `channel` holds (0 for a channel that does not exist).
pub fn queue_channel_records(s: &mut TcpStream, channel: &[u8]) -> Result<u64, String> {
    let mut out = Vec::new();
    QueueRequest::GetChannelSize { channel }.encode(&mut out);
    s.write_all(&out).map_err(|e| format!("write: {e}"))?;
    read_reply(s, |buf| {
        match QueueReply::decode(QueueCommand::GetChannelSize, buf) {
            Ok((QueueReply::Size { records, .. }, used)) => Ok(Some((records, used))),
            Ok((other, _)) => Err(format!("GetChannelSize answered {other:?}")),
            Err(DecodeError::Incomplete) => Ok(None),
            Err(DecodeError::Invalid(e)) => Err(e.to_string()),
        }
    })
}

/// Produce: `n` records of `size` bytes into `channel`, then the empty array that ends the
/// stream. The node sends nothing after the `Ok` of the request; TCP holds the producer back.
pub fn produce_queue(
    s: &mut TcpStream,
    channel: &[u8],
    values: &Values,
    n: u64,
    size: usize,
    start: Instant,
) -> Result<(), String> {
    queue_request_ok(s, &QueueRequest::Produce { channel })?;
    let (mut chunk, mut rec) = (Vec::with_capacity(PRODUCE_CHUNK + size + 8), Vec::new());
    for seq in 0..n {
        make_record(&mut rec, values, seq, start, size);
        put_array(&mut chunk, &rec);
        if chunk.len() >= PRODUCE_CHUNK {
            s.write_all(&chunk).map_err(|e| format!("write: {e}"))?;
            chunk.clear();
        }
    }
    encode_stream_end(&mut chunk);
    s.write_all(&chunk).map_err(|e| format!("write: {e}"))
}

/// Consume from the connection (whose Consume request got `Ok`) until `n` records arrived.
pub fn consume_queue(s: &mut TcpStream, n: u64, start: Instant) -> Result<Received, String> {
    let mut got = Received::new();
    let mut buf = vec![0u8; READ_BUF];
    let (mut at, mut end) = (0usize, 0usize);
    while got.records < n {
        if at > 0 && (at == end || end == buf.len()) {
            buf.copy_within(at..end, 0);
            end -= at;
            at = 0;
        }
        if end == buf.len() {
            let len = buf.len() * 2;
            buf.resize(len, 0);
        }
        let read = s.read(&mut buf[end..]).map_err(|e| stalled(&got, n, e))?;
        if read == 0 {
            return Err(format!(
                "the node closed the Consume stream after {} of {n} records",
                got.records
            ));
        }
        end += read;
        let now = Instant::now();
        while got.records < n {
            match decode_stream_record(&buf[at..end]) {
                Ok((StreamRecord::Record(rec), used)) => {
                    got.record(rec, start, now);
                    at += used;
                }
                Ok((StreamRecord::End, _)) => {
                    return Err(format!(
                        "the Consume stream ended after {} of {n} records",
                        got.records
                    ))
                }
                Err(DecodeError::Incomplete) => break,
                Err(DecodeError::Invalid(e)) => return Err(format!("Consume stream: {e}")),
            }
        }
    }
    Ok(got)
}

/// The consumer's error for a failed read (a stall past [`STALL`] or an I/O error), with the
/// count so far.
pub fn stalled(got: &Received, n: u64, e: io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
            "no record for {} s after {} of {n} records",
            STALL.as_secs(),
            got.records
        ),
        _ => format!("read after {} of {n} records: {e}", got.records),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_carry_their_sequence_and_clock() {
        let values = Values::new(100);
        let start = Instant::now();
        let mut rec = Vec::new();
        make_record(&mut rec, &values, 41, start, 100);
        assert_eq!(rec.len(), 100);
        let (seq, ns) = stamp_of(&rec);
        assert_eq!(seq, 41);
        assert!(ns <= start.elapsed().as_nanos() as u64);
        assert_eq!(stamp_of(b"short"), (0, 0));
    }

    #[test]
    fn order_breaks_are_counted() {
        let values = Values::new(16);
        let start = Instant::now();
        let mut got = Received::new();
        let mut rec = Vec::new();
        for seq in [0, 1, 2, 4, 5, 3] {
            make_record(&mut rec, &values, seq, start, 16);
            got.record(&rec, start, Instant::now());
        }
        assert_eq!((got.records, got.out_of_order), (6, 2));
        assert_eq!(got.latency.len(), 6);
    }
}
