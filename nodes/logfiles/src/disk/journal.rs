//! `[Testing] sync_journal`: a line per completed fsync, bucket creation and checkpoint, so a
//! crash test can rebuild what a power loss would have left (every file cut back to the last
//! length an fsync covered). Each line is one `write(2)` of an append-only file, so it survives
//! a kill -9 of the node; it is written after the fsync returned and before any Put it covers
//! is answered.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;

/// The journal file.
#[derive(Debug)]
pub struct Journal(Mutex<File>);

impl Journal {
    /// Opens (appending to) `path`.
    pub fn open(path: &Path) -> io::Result<Journal> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot open the sync journal {}: {e}", path.display()),
                )
            })?;
        Ok(Journal(Mutex::new(file)))
    }

    /// Appends `text` and a newline in one write.
    pub fn line(&self, text: &str) {
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(b'\n');
        if let Err(e) = f.write_all(&bytes) {
            log::error!("sync journal: {e}");
        }
    }
}
