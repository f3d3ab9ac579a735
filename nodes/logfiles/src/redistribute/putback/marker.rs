//! The layout of `<bucket>.tmp.sent`, a move's progress in one bucket: the acknowledged
//! offset and, while a batch is out, that batch's end offset and the destination it went to
//! (the channel is the `.tmp`'s directory). Written by one `pwrite` at offset 0 of a fixed
//! length, which a kill cannot tear; a power loss may, and a checksum makes a torn one read as
//! unknown.
//!
//! | form | bytes | fields |
//! |---|---|---|
//! | ours | 111 | `<acked>:<end>:<destination>:<check>\n`: `acked`, `end` and `check` 20 decimal digits, `destination` an IP address and port padded with spaces to 47 (empty: nothing in flight, `end` = `acked`), `check` the FNV-1a 64 of the 90 bytes before it |
//! | older | 42 | `<acked>:<!acked>\n` (the first version of the move, which wrote no batch in flight): read as nothing in flight |

use crate::storage::named;
use std::fs::{self, OpenOptions};
use std::io;
use std::net::SocketAddr;
use std::path::Path;

/// Width of the destination field (the longest IPv6 socket address, `[…%scope]` aside).
const DEST_WIDTH: usize = 47;
/// Bytes before the checksum.
const BODY_LEN: usize = 20 + 1 + 20 + 1 + DEST_WIDTH + 1;
/// Bytes of our marker.
pub const MARKER_LEN: usize = BODY_LEN + 20 + 1;
/// Bytes of the older marker.
const OLD_LEN: usize = 20 + 1 + 20 + 1;

/// A batch sent and not yet acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InFlight {
    /// The offset after its last record in the `.tmp`.
    pub end: u64,
    /// The destination it went to.
    pub dest: SocketAddr,
}

/// What a marker says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marker {
    /// The offset after the last acknowledged record (0 or inside the header: none was).
    pub acked: u64,
    /// The batch sent after it, if one is out.
    pub in_flight: Option<InFlight>,
}

/// FNV-1a, 64 bits: enough to tell a torn marker (no adversary writes it).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The bytes of `marker`.
pub fn encode(marker: &Marker) -> Vec<u8> {
    let (end, dest) = match marker.in_flight {
        Some(f) => (f.end, f.dest.to_string()),
        None => (marker.acked, String::new()),
    };
    let body = format!("{:020}:{end:020}:{dest:<DEST_WIDTH$}:", marker.acked);
    let check = fnv1a(body.as_bytes());
    let text = format!("{body}{check:020}\n");
    debug_assert_eq!(
        text.len(),
        MARKER_LEN,
        "a destination fits {DEST_WIDTH} bytes"
    );
    text.into_bytes()
}

/// A marker's content, `None` when it is torn or not a marker (putting back too much
/// duplicates, too little would lose).
pub fn parse(bytes: &[u8]) -> Option<Marker> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.len() == OLD_LEN {
        let (a, b) = text.strip_suffix('\n')?.split_once(':')?;
        let (a, b): (u64, u64) = (a.parse().ok()?, b.parse().ok()?);
        return (b == !a).then_some(Marker {
            acked: a,
            in_flight: None,
        });
    }
    if text.len() != MARKER_LEN || !text.ends_with('\n') {
        return None;
    }
    let (body, check) = text.split_at(BODY_LEN);
    if check.trim_end().parse::<u64>().ok()? != fnv1a(body.as_bytes()) {
        return None;
    }
    let acked: u64 = body.get(..20)?.parse().ok()?;
    let end: u64 = body.get(21..41)?.parse().ok()?;
    let dest = body.get(42..42 + DEST_WIDTH)?.trim_end();
    let in_flight = match dest {
        "" => None,
        d => Some(InFlight {
            end,
            dest: d.parse().ok()?,
        }),
    };
    Some(Marker { acked, in_flight })
}

/// Reads the marker at `path`: `None` when there is none, `Some(None)` when it does not parse.
pub fn read(path: &Path) -> Option<Option<Marker>> {
    let bytes = match fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(_) => return Some(None),
    };
    Some(parse(&bytes))
}

/// Writes `marker` at `path`: one `pwrite` of [`MARKER_LEN`] bytes at offset 0 (over a marker
/// of the same length, or a shorter older one), fsynced only when `durable` (see the module
/// doc of `transfer` for why a move does not). Not temp + rename: on ext4 a rename over an
/// existing file flushes the new file's data first (`auto_da_alloc`), 1.5 ms each on the
/// development machine, which made a move six times slower.
pub fn write(path: &Path, marker: &Marker, durable: bool) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(named(path, "open"))?;
    f.write_all_at(&encode(marker), 0)
        .map_err(named(path, "write"))?;
    if durable {
        f.sync_all().map_err(named(path, "fsync"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flight(acked: u64, end: u64, dest: &str) -> Marker {
        Marker {
            acked,
            in_flight: Some(InFlight {
                end,
                dest: dest.parse().unwrap(),
            }),
        }
    }

    #[test]
    fn ours_round_trips_with_and_without_a_batch_in_flight() {
        let idle = Marker {
            acked: 4711,
            in_flight: None,
        };
        for m in [
            idle,
            flight(0, 65_536, "127.0.0.1:1"),
            flight(
                u64::MAX - 1,
                u64::MAX,
                "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
            ),
        ] {
            let bytes = encode(&m);
            assert_eq!(bytes.len(), MARKER_LEN);
            assert_eq!(parse(&bytes), Some(m));
        }
    }

    #[test]
    fn the_older_form_reads_as_nothing_in_flight() {
        let old = format!("{:020}:{:020}\n", 600u64, !600u64);
        assert_eq!(
            parse(old.as_bytes()),
            Some(Marker {
                acked: 600,
                in_flight: None
            })
        );
        let torn = format!("{:020}:{:020}\n", 600u64, !700u64);
        assert_eq!(parse(torn.as_bytes()), None);
    }

    #[test]
    fn a_torn_or_changed_marker_reads_as_unknown() {
        let good = encode(&flight(1000, 66_000, "10.1.2.3:4000"));
        // Any byte changed, or only a part written over an older marker.
        for i in 0..good.len() - 1 {
            let mut bad = good.clone();
            bad[i] = if bad[i] == b'1' { b'2' } else { b'1' };
            assert_eq!(parse(&bad), None, "byte {i} changed");
        }
        let older = encode(&flight(0, 500, "10.1.2.3:4000"));
        let mut half = older.clone();
        half[..50].copy_from_slice(&good[..50]);
        assert_eq!(parse(&half), None);
        assert_eq!(parse(&good[..good.len() - 1]), None);
        assert_eq!(parse(b""), None);
    }

    #[test]
    fn a_write_over_an_older_marker_replaces_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.tmp.sent");
        fs::write(&path, format!("{:020}:{:020}\n", 9u64, !9u64)).unwrap();
        let m = flight(9, 900, "127.0.0.1:99");
        write(&path, &m, false).unwrap();
        assert_eq!(read(&path), Some(Some(m)));
        write(
            &path,
            &Marker {
                acked: 900,
                in_flight: None,
            },
            true,
        )
        .unwrap();
        assert_eq!(read(&path).flatten().map(|m| m.acked), Some(900));
        assert_eq!(read(&dir.path().join("none")), None);
    }
}
