//! Reading one `.rq` file for the load: its complete records, in one buffer of at most the
//! file's data length, through `swarm_protocol::rq::RqReader`, which stops at a torn tail; and
//! setting an unusable file aside as `<name>.rq.torn-<unix time>`.
//!
//! Memory: the buffer is reserved as the smaller of the header's data length and what the file
//! holds after its header, so a header claiming far more than the file has (torn, or garbage)
//! costs nothing more; the ring copies the buffer, which is then dropped. A reservation the
//! allocator refuses is an error naming the file, not an abort.

use super::super::{naming, TORN_SUFFIX};
use std::fs::{self, File};
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};
use swarm_protocol::rq::{RqError, RqReader, HEADER_LEN};

/// Read buffer: the file is read sequentially, records of up to 10 MiB.
const READ_BUFFER: usize = 1024 * 1024;

/// What a `.rq` file holds.
#[derive(Debug)]
pub(super) struct Contents {
    /// The file's length.
    pub file_len: u64,
    /// Header fields, `None` if the header itself is torn.
    pub header: Option<(u32, u64)>,
    /// Complete records in `data`.
    pub records: u64,
    /// The complete records, `u64 len + payload` each, in pop order.
    pub data: Vec<u8>,
    /// Why reading stopped before the records the header announced (`None`: the file is whole).
    pub problem: Option<RqError>,
}

impl Contents {
    /// Bytes of the file that are not in `data` (header aside): lost if `problem` is set,
    /// trailing bytes the original did not read either if not.
    pub fn bytes_not_loaded(&self) -> u64 {
        let used = match self.header {
            Some(_) => HEADER_LEN + self.data.len() as u64,
            None => 0,
        };
        self.file_len.saturating_sub(used)
    }
}

/// Reads `path`. A torn or inconsistent file is not an error (see [`Contents::problem`]); an
/// I/O error or a refused allocation is, and nothing of the file is used then.
pub(super) fn read_rq(path: &Path) -> io::Result<Contents> {
    let read_error = |e| naming(path, "cannot read")(e);
    let file = File::open(path).map_err(naming(path, "cannot open"))?;
    let file_len = file.metadata().map_err(read_error)?.len();
    let mut contents = Contents {
        file_len,
        header: None,
        records: 0,
        data: Vec::new(),
        problem: None,
    };
    let mut reader = match RqReader::new(BufReader::with_capacity(READ_BUFFER, file)) {
        Ok(r) => r,
        Err(RqError::Io(e)) => return Err(read_error(e)),
        Err(e) => {
            contents.problem = Some(e);
            return Ok(contents);
        }
    };
    contents.header = Some((reader.count(), reader.data_len()));
    let expected = reader.data_len().min(file_len.saturating_sub(HEADER_LEN));
    reserve(&mut contents.data, expected).map_err(naming(path, "cannot load"))?;
    loop {
        match reader.next_record() {
            Ok(Some(record)) => {
                contents
                    .data
                    .extend_from_slice(&(record.len() as u64).to_le_bytes());
                contents.data.extend_from_slice(record);
            }
            Ok(None) => break,
            Err(RqError::Io(e)) => return Err(read_error(e)),
            Err(e) => {
                contents.problem = Some(e);
                break;
            }
        }
    }
    contents.records = reader.records();
    Ok(contents)
}

/// Reserves `len` bytes in `data`, or says why not.
fn reserve(data: &mut Vec<u8>, len: u64) -> io::Result<()> {
    let refused = || {
        io::Error::new(
            io::ErrorKind::OutOfMemory,
            format!("cannot allocate {len} bytes for its records"),
        )
    };
    let len = usize::try_from(len).map_err(|_| refused())?;
    data.try_reserve_exact(len).map_err(|_| refused())
}

/// Renames `path` to `<path>.torn-<unix time>` (with `-<n>` added if that name is taken), so
/// it is kept for the operator and never loaded again. `None` (logged) if the rename failed:
/// the file then stays where it is, and the next graceful shutdown's dump replaces it.
pub(super) fn set_aside(path: &Path) -> Option<PathBuf> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut base = path.as_os_str().to_owned();
    base.push(format!("{TORN_SUFFIX}{secs}"));
    let free = |p: &PathBuf| matches!(fs::symlink_metadata(p), Err(e) if e.kind() == io::ErrorKind::NotFound);
    let Some(to) = (0..1000)
        .map(|n| {
            let mut name = base.clone();
            if n > 0 {
                name.push(format!("-{n}"));
            }
            PathBuf::from(name)
        })
        .find(free)
    else {
        log::error!(
            "no free name to set {} aside; left in place",
            path.display()
        );
        return None;
    };
    match fs::rename(path, &to) {
        Ok(()) => {
            log::warn!("Kept {} as {}", path.display(), to.display());
            Some(to)
        }
        Err(e) => {
            log::error!(
                "cannot rename {} to {}: {e}; left in place",
                path.display(),
                to.display()
            );
            None
        }
    }
}
