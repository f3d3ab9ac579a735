//! Redis's side of `swarm-bench scan`: DEL and a prefill of pipelined `XADD key * v value`
//! (the records of the logfiles prefill, without their keys: Redis makes the ids), and the
//! timed read, `XRANGE key - + COUNT n`, then `XRANGE key (last-id + COUNT n` until a page
//! comes back short.

use super::super::records::{key_of, Values};
use super::super::resp::{self, Reply};
use super::super::stream_io::read_reply;
use super::{Read, ScanArgs};
use std::io::{Read as _, Write};
use std::net::TcpStream;
use std::time::Instant;

/// Socket read size of the XRANGE pages.
const READ_CHUNK: usize = 1 << 20;

/// Deletes the stream, then XADDs `--records` records, `--redis-pipeline` per write.
pub fn prefill(s: &mut TcpStream, args: &ScanArgs) -> Result<(), String> {
    let key = args.channel.as_bytes();
    let mut out = Vec::new();
    resp::encode_command(&mut out, &[b"DEL", key]);
    s.write_all(&out).map_err(|e| format!("DEL: {e}"))?;
    match read_reply(s, |buf| resp::parse_reply(buf).map_err(|e| e.to_string()))? {
        Reply::Int(_) => {}
        other => return Err(format!("DEL answered {other:?}")),
    }
    let values = Values::new(args.value_size);
    let mut buf = vec![0u8; 64 * 1024];
    let mut j = 0u64;
    while j < args.records {
        out.clear();
        let n = (args.records - j).min(args.redis_pipeline as u64);
        for _ in 0..n {
            resp::encode_command(&mut out, &[b"XADD", key, b"*", b"v", values.of(key_of(j))]);
            j += 1;
        }
        s.write_all(&out).map_err(|e| format!("XADD: {e}"))?;
        let (mut left, mut end) = (n, 0usize);
        while left > 0 {
            if end == buf.len() {
                let len = buf.len() * 2;
                buf.resize(len, 0);
            }
            let read = s.read(&mut buf[end..]).map_err(|e| format!("XADD: {e}"))?;
            if read == 0 {
                return Err("Redis closed the connection during the prefill".into());
            }
            end += read;
            let mut at = 0;
            while left > 0 {
                match resp::parse_reply(&buf[at..end]).map_err(|e| e.to_string())? {
                    Some((Reply::Bulk(_), used)) => {
                        at += used;
                        left -= 1;
                    }
                    Some((other, _)) => return Err(format!("XADD answered {other:?}")),
                    None => break,
                }
            }
            buf.copy_within(at..end, 0);
            end -= at;
        }
    }
    Ok(())
}

/// Reads the whole stream in pages of `--redis-count`, its entries added to `total`.
pub fn read_all(s: &mut TcpStream, args: &ScanArgs, total: &mut Read) -> std::io::Result<()> {
    let key = args.channel.as_bytes();
    let count = args.redis_count.to_string();
    let mut buf = vec![0u8; READ_CHUNK];
    let mut command = Vec::new();
    let mut start = b"-".to_vec();
    let started = Instant::now();
    loop {
        command.clear();
        resp::encode_command(
            &mut command,
            &[b"XRANGE", key, &start, b"+", b"COUNT", count.as_bytes()],
        );
        s.write_all(&command)?;
        total.requests += 1;
        let (entries, last_id) = read_page(s, &mut buf, total)?;
        if entries < args.redis_count {
            break;
        }
        // The next page starts after the last id (an exclusive start: Redis 6.2 or later).
        start.clear();
        start.push(b'(');
        start.extend_from_slice(&last_id);
    }
    total.elapsed += started.elapsed();
    Ok(())
}

/// Reads one XRANGE reply, parsing each entry once as it arrives; returns the entry count and
/// the last entry's id.
fn read_page(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    total: &mut Read,
) -> std::io::Result<(usize, Vec<u8>)> {
    let (mut at, mut end) = (0usize, 0usize);
    let (mut header, mut done) = (None, 0usize);
    let mut last_id = Vec::new();
    let bad = |e: resp::RespError| invalid(e.to_string());
    loop {
        if header.is_none() {
            if let Some((n, used)) = resp::array_header(&buf[..end]).map_err(bad)? {
                header = Some(n);
                at = used;
            }
        }
        if let Some(n) = header {
            while done < n {
                let mut entry = |id: &[u8], fields: &[&[u8]]| {
                    last_id.clear();
                    last_id.extend_from_slice(id);
                    total.records += 1;
                    total.value_bytes += fields.get(1).map_or(0, |v| v.len() as u64);
                };
                match resp::stream_entry(&buf[at..end], &mut entry).map_err(bad)? {
                    Some(used) => {
                        at += used;
                        done += 1;
                    }
                    None => break,
                }
            }
            if done == n {
                if at != end {
                    return Err(invalid("bytes after the XRANGE reply".into()));
                }
                total.wire_bytes += end as u64;
                return Ok((n, last_id));
            }
        }
        if end == buf.len() {
            let len = buf.len() * 2;
            buf.resize(len, 0);
        }
        let n = s.read(&mut buf[end..])?;
        if n == 0 {
            return Err(invalid("Redis closed the connection mid-read".into()));
        }
        end += n;
    }
}

fn invalid(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg)
}
