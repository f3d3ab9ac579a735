//! The RESP subset the benchmark speaks to Redis: commands (SET/GET/EXISTS/DEL, LPUSH/RPOP)
//! written as arrays of bulk strings, a reply parser for every RESP2 type (`+`, `-`, `:`, `$`
//! incl. nil, `*`) that returns "incomplete" (`Ok(None)`) until a whole reply is buffered, and
//! a walk over the records of an array of bulk strings (the reply to `RPOP key count`), and the
//! pieces of an XRANGE reply (its array header, then one stream entry at a time, so a reader
//! walks each entry once as it arrives).

use std::fmt;

/// Longest length or integer line accepted, so a broken stream cannot make us buffer forever.
const MAX_LINE: usize = 64;
/// Largest bulk string accepted (Redis's own default proto-max-bulk-len is 512 MB).
const MAX_BULK: i64 = 512 * 1024 * 1024;

/// The kind of one parsed reply (payloads are skipped: the benchmark only needs their shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// `+...`: a status such as OK.
    Simple,
    /// `-...`: an error.
    Error,
    /// `:n`.
    Int(i64),
    /// `$n` with n bytes.
    Bulk(usize),
    /// `$-1` or `*-1`.
    Nil,
    /// `*n` and its n elements.
    Array(usize),
}

/// A stream that is not RESP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RespError(pub &'static str);

impl fmt::Display for RespError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bad RESP reply: {}", self.0)
    }
}

impl std::error::Error for RespError {}

/// Appends `*N` then each argument as a bulk string.
pub fn encode_command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.push(b'*');
    put_decimal(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        put_decimal(out, arg.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

fn put_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

/// Parses one reply from the front of `buf`: `Ok(Some((reply, bytes used)))`, `Ok(None)` when
/// more bytes are needed.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, RespError> {
    let Some((line, mut used)) = line(buf)? else {
        return Ok(None);
    };
    let (kind, rest) = line.split_first().ok_or(RespError("empty line"))?;
    let reply = match kind {
        b'+' => Reply::Simple,
        b'-' => Reply::Error,
        b':' => Reply::Int(number(rest)?),
        b'$' => match number(rest)? {
            -1 => Reply::Nil,
            n if (0..=MAX_BULK).contains(&n) => {
                let n = n as usize;
                if buf.len() < used + n + 2 {
                    return Ok(None);
                }
                if &buf[used + n..used + n + 2] != b"\r\n" {
                    return Err(RespError("bulk string not followed by CRLF"));
                }
                used += n + 2;
                Reply::Bulk(n)
            }
            _ => return Err(RespError("bad bulk length")),
        },
        b'*' => match number(rest)? {
            -1 => Reply::Nil,
            n if n >= 0 => {
                for _ in 0..n {
                    match parse_reply(&buf[used..])? {
                        Some((_, len)) => used += len,
                        None => return Ok(None),
                    }
                }
                Reply::Array(n as usize)
            }
            _ => return Err(RespError("bad array length")),
        },
        _ => return Err(RespError("unknown type byte")),
    };
    Ok(Some((reply, used)))
}

/// Parses one reply to `RPOP key count` at the front of `buf`: `Ok(Some((Some(n), used)))`
/// for an array of n bulk strings, each handed to `record` in order; `Ok(Some((None, used)))`
/// for the nil array of an empty list; `Ok(None)` (and no `record` call) while incomplete.
pub fn for_each_bulk(
    buf: &[u8],
    mut record: impl FnMut(&[u8]),
) -> Result<Option<(Option<usize>, usize)>, RespError> {
    let (n, used) = match parse_reply(buf)? {
        None => return Ok(None),
        Some((Reply::Nil, used)) => return Ok(Some((None, used))),
        Some((Reply::Array(n), used)) => (n, used),
        Some(_) => return Err(RespError("not an array of bulk strings")),
    };
    // The whole reply is buffered and well formed: walk it again for the payloads.
    let Some((_, mut at)) = line(buf)? else {
        return Err(RespError("array header vanished"));
    };
    for _ in 0..n {
        match parse_reply(&buf[at..])? {
            Some((Reply::Bulk(len), item)) => {
                let payload_end = at + item - 2;
                record(&buf[payload_end - len..payload_end]);
                at += item;
            }
            _ => return Err(RespError("array element is not a bulk string")),
        }
    }
    Ok(Some((Some(n), used)))
}

/// The header `*n` of an array at the front of `buf`: `Ok(Some((n, header bytes)))`, `Ok(None)`
/// while incomplete; a nil array or any other reply is an error.
pub fn array_header(buf: &[u8]) -> Result<Option<(usize, usize)>, RespError> {
    let Some((line, used)) = line(buf)? else {
        return Ok(None);
    };
    match line.split_first() {
        Some((b'*', digits)) => match number(digits)? {
            n if n >= 0 => Ok(Some((n as usize, used))),
            _ => Err(RespError("not an array of entries")),
        },
        _ => Err(RespError("not an array")),
    }
}

/// One stream entry `[id, [field, value, ...]]` at the front of `buf`: `Ok(Some(used))` after
/// calling `entry(id, fields)`, `Ok(None)` (and no call) while incomplete.
pub fn stream_entry(
    buf: &[u8],
    entry: &mut impl FnMut(&[u8], &[&[u8]]),
) -> Result<Option<usize>, RespError> {
    let used = match parse_reply(buf)? {
        None => return Ok(None),
        Some((Reply::Array(2), used)) => used,
        Some(_) => return Err(RespError("stream entry is not [id, fields]")),
    };
    // The entry is buffered and well formed: walk its structure.
    let (id, next) = bulk_at(buf, array_at(buf, 0)?.1)?;
    let (k, mut next) = array_at(buf, next)?;
    let mut fields: Vec<&[u8]> = Vec::with_capacity(k);
    for _ in 0..k {
        let (field, after) = bulk_at(buf, next)?;
        fields.push(field);
        next = after;
    }
    entry(id, &fields);
    Ok(Some(used))
}

/// The length of the array whose header starts at `at` (a complete reply) and where its first
/// element starts.
fn array_at(buf: &[u8], at: usize) -> Result<(usize, usize), RespError> {
    match (line(&buf[at..])?, parse_reply(&buf[at..])?) {
        (Some((_, head)), Some((Reply::Array(n), _))) => Ok((n, at + head)),
        _ => Err(RespError("expected an array")),
    }
}

/// The payload of the bulk string at `at` (a complete reply) and where the next item starts.
fn bulk_at(buf: &[u8], at: usize) -> Result<(&[u8], usize), RespError> {
    match parse_reply(&buf[at..])? {
        Some((Reply::Bulk(len), used)) => {
            let end = at + used - 2;
            Ok((&buf[end - len..end], at + used))
        }
        _ => Err(RespError("expected a bulk string")),
    }
}

/// The first CRLF-terminated line (without CRLF) and the bytes it takes with its CRLF.
fn line(buf: &[u8]) -> Result<Option<(&[u8], usize)>, RespError> {
    match buf.iter().position(|&b| b == b'\n') {
        Some(end) if end > 0 && buf[end - 1] == b'\r' => Ok(Some((&buf[..end - 1], end + 1))),
        Some(_) => Err(RespError("line not ended by CRLF")),
        None if buf.len() > MAX_LINE && buf[0] != b'+' && buf[0] != b'-' => {
            Err(RespError("length line too long"))
        }
        None => Ok(None),
    }
}

fn number(digits: &[u8]) -> Result<i64, RespError> {
    std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(RespError("bad number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_set_as_array_of_bulk_strings() {
        let mut out = Vec::new();
        encode_command(&mut out, &[b"SET", b"00000000000000ab", b"hello"]);
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$16\r\n00000000000000ab\r\n$5\r\nhello\r\n"
        );
    }

    #[test]
    fn parses_every_type() {
        let cases: [(&[u8], Reply); 7] = [
            (b"+OK\r\n", Reply::Simple),
            (b"-ERR wrong type\r\n", Reply::Error),
            (b":1\r\n", Reply::Int(1)),
            (b"$5\r\nhe\r\no\r\n", Reply::Bulk(5)),
            (b"$-1\r\n", Reply::Nil),
            (b"*-1\r\n", Reply::Nil),
            (b"*2\r\n$1\r\na\r\n:-3\r\n", Reply::Array(2)),
        ];
        for (bytes, want) in cases {
            assert_eq!(
                parse_reply(bytes),
                Ok(Some((want, bytes.len()))),
                "{bytes:?}"
            );
            for cut in 0..bytes.len() {
                assert_eq!(
                    parse_reply(&bytes[..cut]),
                    Ok(None),
                    "{bytes:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn pipelined_replies_parse_one_by_one() {
        let buf = b"+OK\r\n$3\r\nabc\r\n$-1\r\n:0\r\n";
        let mut at = 0;
        let mut got = Vec::new();
        while let Some((reply, used)) = parse_reply(&buf[at..]).expect("valid") {
            got.push(reply);
            at += used;
        }
        assert_eq!(at, buf.len());
        assert_eq!(
            got,
            [Reply::Simple, Reply::Bulk(3), Reply::Nil, Reply::Int(0)]
        );
    }

    #[test]
    fn walks_the_records_of_a_bulk_array() {
        let buf = b"*3\r\n$2\r\nab\r\n$0\r\n\r\n$4\r\nc\r\nd\r\n:1\r\n";
        let mut got: Vec<Vec<u8>> = Vec::new();
        let r = for_each_bulk(buf, |rec| got.push(rec.to_vec()));
        assert_eq!(r, Ok(Some((Some(3), buf.len() - 4))));
        assert_eq!(got, [&b"ab"[..], b"", b"c\r\nd"]);
        for cut in 0..buf.len() - 4 {
            let r = for_each_bulk(&buf[..cut], |_| panic!("a record of an incomplete reply"));
            assert_eq!(r, Ok(None), "cut at {cut}");
        }
        assert_eq!(
            for_each_bulk(b"*-1\r\n", |_| panic!("no records")),
            Ok(Some((None, 5)))
        );
        assert!(for_each_bulk(b"*1\r\n:1\r\n", |_| {}).is_err());
        assert!(for_each_bulk(b"$1\r\na\r\n", |_| {}).is_err());
        assert!(for_each_bulk(b"-WRONGTYPE\r\n", |_| {}).is_err());
    }

    /// Entries as (id, fields).
    type Entries = Vec<(Vec<u8>, Vec<Vec<u8>>)>;

    /// An XRANGE reply walked as `scan::redis` does: header, then entry after entry.
    fn entries(buf: &[u8]) -> Result<Option<(Entries, usize)>, RespError> {
        let Some((n, mut at)) = array_header(buf)? else {
            return Ok(None);
        };
        let mut got = Vec::new();
        let mut entry = |id: &[u8], f: &[&[u8]]| {
            got.push((id.to_vec(), f.iter().map(|x| x.to_vec()).collect()))
        };
        for _ in 0..n {
            match stream_entry(&buf[at..], &mut entry)? {
                Some(used) => at += used,
                None => return Ok(None),
            }
        }
        Ok(Some((got, at)))
    }

    #[test]
    fn walks_the_entries_of_a_stream() {
        let buf = b"*2\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nv\r\n$2\r\nab\r\n\
                    *2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nv\r\n$0\r\n\r\n+OK\r\n";
        let (got, used) = entries(buf).expect("valid").expect("complete");
        assert_eq!(used, buf.len() - 5);
        assert_eq!(
            got[0],
            (b"1-0".to_vec(), vec![b"v".to_vec(), b"ab".to_vec()])
        );
        assert_eq!(got[1], (b"1-1".to_vec(), vec![b"v".to_vec(), b"".to_vec()]));
        for cut in 0..buf.len() - 5 {
            assert_eq!(entries(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(entries(b"*0\r\n"), Ok(Some((Vec::new(), 4))));
        assert!(entries(b"*1\r\n$1\r\na\r\n").is_err());
        assert!(entries(b"*1\r\n*1\r\n$1\r\na\r\n").is_err());
        assert!(entries(b"-ERR no such key\r\n").is_err());
        assert!(entries(b"*-1\r\n").is_err());
    }

    #[test]
    fn refuses_garbage() {
        for bad in [
            &b"?x\r\n"[..],
            b"$abc\r\n",
            b"$3\r\nabcXY",
            b":1\n",
            b"$-2\r\n",
            b"$99999999999999999999999\r\n",
        ] {
            assert!(parse_reply(bad).is_err(), "{bad:?}");
        }
    }
}
