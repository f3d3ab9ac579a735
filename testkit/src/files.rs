//! Files made or read by hand: `.tcm` dumps built byte by byte (so tests can make torn,
//! malformed or foreign files the node's own writer never would), read back to their end
//! marker, and sorted directory listings.

use crate::dht::Records;
use std::io::BufReader;
use std::path::Path;
use swarm_protocol::tcm::{parse_dump_key, TcmError, TcmReader};

/// A `.tcm` file of raw records: key bytes as given; complete unless `torn`.
pub fn raw_tcm(records: &[(&[u8], &[u8])], torn: bool) -> Vec<u8> {
    let mut f = 0u64.to_le_bytes().to_vec();
    for (k, v) in records {
        f.extend_from_slice(&(k.len() as u64).to_le_bytes());
        f.extend_from_slice(k);
        f.extend_from_slice(&(v.len() as u64).to_le_bytes());
        f.extend_from_slice(v);
    }
    if !torn {
        f.extend_from_slice(&[0; 8]);
        f.resize(f.len().div_ceil(512) * 512, 0);
    }
    f
}

/// Reads a `.tcm` to its end marker.
pub fn read_tcm(path: &Path) -> Result<Records, TcmError> {
    let file = std::fs::File::open(path).map_err(TcmError::Io)?;
    let mut r = TcmReader::new(BufReader::new(file))?;
    let mut out = Records::new();
    while let Some(rec) = r.next_record()? {
        out.insert(parse_dump_key(rec.key).unwrap(), rec.value.to_vec());
    }
    Ok(out)
}

/// Sorted names of the files in `dir` (none if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}
