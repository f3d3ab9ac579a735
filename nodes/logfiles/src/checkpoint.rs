//! `checkpoint.dat` (spec/logfiles.md section 3.5): one text line per tracked bucket,
//! `<channel> <bucket first key, decimal> <offset, decimal>\n`, written every
//! `checkpoint_commit_seconds` after the open buckets were fsynced, removed at a clean shutdown,
//! and read at start to truncate each listed bucket that is longer than its offset (what was
//! written after the last checkpoint is dropped, as in the original).
//!
//! Ours: the file lives in the configured `data_dir` (the original hard-coded `data`), and it is
//! written by the safe-file path: `checkpoint.dat.tmp`, fsync, rename, fsync the directory (the
//! original renamed without an fsync). So the file is never torn; a line that does not parse
//! (a file edited by hand, a disk error) is an error naming the line, and the node refuses to
//! guess which buckets to cut.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use swarm_core::files::sync_dir;

/// The checkpoint's name in `data_dir`.
pub const CHECKPOINT_FILE: &str = "checkpoint.dat";
/// The temp file a checkpoint is written to before the rename.
pub const CHECKPOINT_TMP: &str = "checkpoint.dat.tmp";

/// One tracked bucket: its channel, the first key it may hold (which names its file), and the
/// length of the file the checkpoint vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The channel name (`[_0-9a-zA-Z-]`, as the original's `fscanf` pattern).
    pub channel: String,
    /// The bucket's first key (`key & !0xfff`).
    pub bucket_start: u64,
    /// Bytes of the bucket file that were fsynced when the checkpoint was written.
    pub offset: u64,
}

/// A line of a checkpoint that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointError {
    /// 1-based line number.
    pub line: usize,
    /// The line as found (lossy UTF-8, at most 200 bytes).
    pub text: String,
    /// What is wrong with it.
    pub why: &'static str,
}

impl fmt::Display for CheckpointError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}: {:?}", self.line, self.why, self.text)
    }
}

impl std::error::Error for CheckpointError {}

fn channel_ok(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// Parses a checkpoint's contents. An empty file is an empty checkpoint; the last line may
/// lack its newline.
pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, CheckpointError> {
    let mut entries = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        if raw.is_empty() {
            continue;
        }
        let fail = |why| CheckpointError {
            line: i + 1,
            text: String::from_utf8_lossy(&raw[..raw.len().min(200)]).into_owned(),
            why,
        };
        let line = std::str::from_utf8(raw).map_err(|_| fail("not UTF-8"))?;
        let mut fields = line.split(' ');
        let (Some(channel), Some(start), Some(offset), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return Err(fail("expected `<channel> <bucket start> <offset>`"));
        };
        if !channel_ok(channel) {
            return Err(fail("invalid channel name"));
        }
        let number = |s: &str| -> Option<u64> {
            if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        };
        let bucket_start =
            number(start).ok_or_else(|| fail("bucket start is not a decimal u64"))?;
        let offset = number(offset).ok_or_else(|| fail("offset is not a decimal u64"))?;
        entries.push(Entry {
            channel: channel.to_owned(),
            bucket_start,
            offset,
        });
    }
    Ok(entries)
}

/// The file's contents for `entries`.
pub fn encode(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        // Writing to a Vec cannot fail.
        let _ = writeln!(out, "{} {} {}", e.channel, e.bucket_start, e.offset);
    }
    out
}

/// `<data_dir>/checkpoint.dat`.
pub fn checkpoint_path(data_dir: &Path) -> PathBuf {
    data_dir.join(CHECKPOINT_FILE)
}

/// Writes `entries` as `<data_dir>/checkpoint.dat` by the safe-file path: the temp file,
/// fsync, rename, fsync the directory. Errors name the path.
pub fn write(data_dir: &Path, entries: &[Entry]) -> io::Result<()> {
    let tmp = data_dir.join(CHECKPOINT_TMP);
    swarm_core::files::replace(&checkpoint_path(data_dir), &tmp, &encode(entries))
}

/// Reads `<data_dir>/checkpoint.dat`: `Ok(None)` when there is none (the last shutdown was
/// clean, or no checkpoint was written yet).
pub fn read(data_dir: &Path) -> io::Result<Option<Vec<Entry>>> {
    let path = checkpoint_path(data_dir);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", path.display()),
            ))
        }
    };
    parse(&bytes).map(Some).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })
}

/// Removes the checkpoint at a clean shutdown (every bucket was flushed and closed, so nothing
/// is to be cut at the next start). A missing file is fine.
pub fn remove(data_dir: &Path) -> io::Result<()> {
    let path = checkpoint_path(data_dir);
    match fs::remove_file(&path) {
        Ok(()) => sync_dir(data_dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io::Error::new(
            e.kind(),
            format!("cannot remove {}: {e}", path.display()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(channel: &str, bucket_start: u64, offset: u64) -> Entry {
        Entry {
            channel: channel.into(),
            bucket_start,
            offset,
        }
    }

    #[test]
    fn the_original_line_format() {
        let entries = vec![entry("test_ch-1", 0x5a0b_1000, 16), entry("x", !0xfff, 0)];
        let text = encode(&entries);
        assert_eq!(
            text,
            b"test_ch-1 1510674432 16\nx 18446744073709547520 0\n".to_vec()
        );
        assert_eq!(parse(&text).unwrap(), entries);
        // The last newline may be missing; empty lines are skipped; an empty file is empty.
        assert_eq!(parse(b"a 4096 10").unwrap(), vec![entry("a", 4096, 10)]);
        assert_eq!(
            parse(b"\na 4096 10\n\n").unwrap(),
            vec![entry("a", 4096, 10)]
        );
        assert_eq!(parse(b"").unwrap(), vec![]);
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        for (text, line, why) in [
            (&b"a 1 2\nb 1\n"[..], 2, "expected"),
            (b"a 1 2 3\n", 1, "expected"),
            (b"a.b 1 2\n", 1, "channel"),
            (b"a -1 2\n", 1, "bucket start"),
            (b"a 1 0x10\n", 1, "offset"),
            (b"a 1 18446744073709551616\n", 1, "offset"),
            (b"a 1  2\n", 1, "expected"),
            (b"\xff 1 2\n", 1, "UTF-8"),
        ] {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line, line, "{e}");
            assert!(e.to_string().contains(why), "{e}");
        }
    }

    #[test]
    fn write_read_remove_in_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        let entries = vec![entry("ch", 8192, 123)];
        write(dir.path(), &entries).unwrap();
        assert!(!dir.path().join(CHECKPOINT_TMP).exists());
        assert_eq!(read(dir.path()).unwrap(), Some(entries));
        write(dir.path(), &[]).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(vec![]));
        remove(dir.path()).unwrap();
        remove(dir.path()).unwrap();
        assert_eq!(read(dir.path()).unwrap(), None);
        fs::write(checkpoint_path(dir.path()), b"broken line\n").unwrap();
        let e = read(dir.path()).unwrap_err().to_string();
        assert!(e.contains("checkpoint.dat") && e.contains("line 1"), "{e}");
    }

    #[test]
    fn a_write_into_a_missing_directory_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("gone");
        let e = write(&gone, &[]).unwrap_err().to_string();
        assert!(e.contains("checkpoint.dat.tmp"), "{e}");
    }
}
