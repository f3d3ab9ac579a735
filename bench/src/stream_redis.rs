//! Redis's two ends of `swarm-bench stream`, on blocking sockets (one thread each): a producer
//! pipelining LPUSH (one record per command, `depth` commands per write, their replies read
//! before the next write) and a consumer looping `RPOP key count` one command at a time, or
//! `count` plain RPOPs per write for Redis before 6.2. Records are those of `stream_io`.

use super::records::Values;
use super::resp::{self, Reply};
use super::stream_io::{make_record, read_reply, stalled, Received, READ_BUF};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Sends one Redis command and returns its reply's kind.
pub fn redis_command(s: &mut TcpStream, args: &[&[u8]]) -> Result<Reply, String> {
    let mut out = Vec::new();
    resp::encode_command(&mut out, args);
    s.write_all(&out).map_err(|e| format!("write: {e}"))?;
    read_reply(s, |buf| resp::parse_reply(buf).map_err(|e| e.to_string()))
}

/// LPUSH of `n` records onto `list`, `depth` commands per write, their replies read before
/// the next write.
pub fn produce_redis(
    s: &mut TcpStream,
    list: &[u8],
    values: &Values,
    (n, depth): (u64, usize),
    size: usize,
    start: Instant,
) -> Result<(), String> {
    let (mut out, mut rec, mut buf) = (Vec::new(), Vec::new(), vec![0u8; 64 * 1024]);
    let mut seq = 0;
    while seq < n {
        out.clear();
        let batch = (n - seq).min(depth as u64);
        for _ in 0..batch {
            make_record(&mut rec, values, seq, start, size);
            resp::encode_command(&mut out, &[b"LPUSH", list, &rec]);
            seq += 1;
        }
        s.write_all(&out).map_err(|e| format!("write: {e}"))?;
        let (mut left, mut end) = (batch, 0usize);
        while left > 0 {
            let read = s.read(&mut buf[end..]).map_err(|e| format!("read: {e}"))?;
            if read == 0 {
                return Err("Redis closed the producer's connection".into());
            }
            end += read;
            let mut at = 0;
            while left > 0 {
                match resp::parse_reply(&buf[at..end]).map_err(|e| e.to_string())? {
                    Some((Reply::Int(_), used)) => {
                        at += used;
                        left -= 1;
                    }
                    Some((other, _)) => return Err(format!("LPUSH answered {other:?}")),
                    None => break,
                }
            }
            buf.copy_within(at..end, 0);
            end -= at;
        }
    }
    Ok(())
}

/// `RPOP list count` in a loop, one command at a time, until `n` records arrived; with
/// `plain`, `count` plain `RPOP list` commands per write instead (Redis before 6.2).
pub fn consume_redis(
    s: &mut TcpStream,
    list: &[u8],
    (count, plain): (usize, bool),
    n: u64,
    start: Instant,
) -> Result<Received, String> {
    let mut got = Received::new();
    let mut command = Vec::new();
    if plain {
        for _ in 0..count {
            resp::encode_command(&mut command, &[b"RPOP", list]);
        }
    } else {
        resp::encode_command(&mut command, &[b"RPOP", list, count.to_string().as_bytes()]);
    }
    let replies = if plain { count } else { 1 };
    let mut buf = vec![0u8; READ_BUF];
    while got.records < n {
        s.write_all(&command).map_err(|e| format!("write: {e}"))?;
        let (mut left, mut at, mut end) = (replies, 0, 0);
        while left > 0 {
            if end == buf.len() {
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
            let read = s.read(&mut buf[end..]).map_err(|e| stalled(&got, n, e))?;
            if read == 0 {
                return Err(format!(
                    "Redis closed the consumer's connection after {} of {n} records",
                    got.records
                ));
            }
            end += read;
            let now = Instant::now();
            while left > 0 {
                let Some(used) = pop_reply(&buf[at..end], plain, &mut got, start, now)? else {
                    break;
                };
                at += used;
                left -= 1;
            }
        }
        if at != end {
            return Err("bytes after the RPOP replies".into());
        }
    }
    Ok(got)
}

/// Counts the records of one complete RPOP reply at the front of `buf` (a bulk string or nil
/// when `plain`, else an array or nil); the bytes it used, `None` while incomplete.
fn pop_reply(
    buf: &[u8],
    plain: bool,
    got: &mut Received,
    start: Instant,
    now: Instant,
) -> Result<Option<usize>, String> {
    let bad = |e: resp::RespError| format!("RPOP reply: {e}");
    if !plain {
        return Ok(
            match resp::for_each_bulk(buf, |rec| got.record(rec, start, now)).map_err(bad)? {
                None => None,
                Some((None, used)) => {
                    got.empty_polls += 1;
                    Some(used)
                }
                Some((Some(_), used)) => Some(used),
            },
        );
    }
    match resp::parse_reply(buf).map_err(bad)? {
        None => Ok(None),
        Some((Reply::Nil, used)) => {
            got.empty_polls += 1;
            Ok(Some(used))
        }
        Some((Reply::Bulk(len), used)) => {
            got.record(&buf[used - 2 - len..used - 2], start, now);
            Ok(Some(used))
        }
        Some((other, _)) => Err(format!("RPOP answered {other:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rpop_replies_of_both_forms() {
        let values = Values::new(16);
        let start = Instant::now();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        make_record(&mut a, &values, 0, start, 16);
        make_record(&mut b, &values, 1, start, 16);
        let mut array = Vec::new();
        resp::encode_command(&mut array, &[&a, &b]); // the same bytes as a reply's array
        let mut got = Received::new();
        let now = Instant::now();
        assert_eq!(
            pop_reply(&array, false, &mut got, start, now),
            Ok(Some(array.len()))
        );
        assert_eq!(
            pop_reply(b"*-1\r\n", false, &mut got, start, now),
            Ok(Some(5))
        );
        assert_eq!(
            pop_reply(&array[..10], false, &mut got, start, now),
            Ok(None)
        );
        assert!(pop_reply(b":1\r\n", false, &mut got, start, now).is_err());
        let bulk = &array[4..]; // "$16\r\n<a>\r\n$16\r\n<b>\r\n"
        assert_eq!(pop_reply(bulk, true, &mut got, start, now), Ok(Some(23)));
        assert_eq!(
            pop_reply(&bulk[23..], true, &mut got, start, now),
            Ok(Some(23))
        );
        assert_eq!(
            pop_reply(b"$-1\r\n", true, &mut got, start, now),
            Ok(Some(5))
        );
        assert!(pop_reply(b":3\r\n", true, &mut got, start, now).is_err());
        assert_eq!((got.records, got.out_of_order, got.empty_polls), (4, 1, 2));
    }
}
