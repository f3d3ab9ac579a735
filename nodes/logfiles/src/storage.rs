//! The logfiles node's records on disk (spec/logfiles.md section 3): one directory per
//! channel under `data_dir`, one sub-directory per slot of 2^24 keys, one bucket file per 4096
//! keys (names and formats in `swarm_protocol::bucket`).
//!
//! | module | what it owns |
//! |---|---|
//! | `channels` | the channel directories at start and their sizes, counted once |
//! | `recover` | start-up after a crash: buckets cut back to the checkpoint |
//! | `scan` | reading a channel's records in a key range: buckets in key order, records in file order |
//! | `write` | a channel's open bucket writers: at most three, buffered, flushed before reads, synced for checkpoints |
//!
//! [`Storage`] ties them together: the channels, their writers and their sizes, kept current
//! as records are written (counted once at open).
//!
//! Everything here is blocking file I/O: the node runs it on its worker threads, never on the
//! event loop.

pub mod channels;
pub mod recover;
pub mod scan;
pub mod write;

use crate::checkpoint::Entry;
use channels::{channel_names, count_channel, ChannelSize};
use scan::RangeScan;
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use write::ChannelWriter;

/// A channel's writers and size.
#[derive(Debug)]
struct Channel {
    writer: ChannelWriter,
    size: ChannelSize,
}

/// The channels of a data directory.
#[derive(Debug)]
pub struct Storage {
    data_dir: PathBuf,
    write_buffer: usize,
    read_buffer: usize,
    channels: BTreeMap<String, Channel>,
}

impl Storage {
    /// Opens `data_dir` (which must exist): every channel directory is counted (records and
    /// value bytes), with progress in root.log. Writers buffer `write_buffer` bytes per open
    /// bucket, scans read ahead `read_buffer` bytes.
    pub fn open(data_dir: &Path, write_buffer: usize, read_buffer: usize) -> io::Result<Storage> {
        let mut channels = BTreeMap::new();
        for name in channel_names(data_dir)? {
            let dir = data_dir.join(&name);
            let size = count_channel(&dir, read_buffer)?;
            log::info!(
                "Channel '{name}': {} records, {} bytes",
                size.records,
                size.bytes
            );
            let writer = ChannelWriter::new(&dir, write_buffer);
            channels.insert(name, Channel { writer, size });
        }
        Ok(Storage {
            data_dir: data_dir.to_path_buf(),
            write_buffer,
            read_buffer,
            channels,
        })
    }

    /// Appends a record (the channel name and the value were checked by the request), creating
    /// the channel's directory on its first record.
    pub fn put(&mut self, channel: &str, key: u64, value: &[u8]) -> io::Result<()> {
        let ch = match self.channels.get_mut(channel) {
            Some(ch) => ch,
            None => {
                let dir = self.data_dir.join(channel);
                fs::create_dir_all(&dir).map_err(|e| {
                    io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
                })?;
                let writer = ChannelWriter::new(&dir, self.write_buffer);
                self.channels.entry(channel.to_owned()).or_insert(Channel {
                    writer,
                    size: ChannelSize::default(),
                })
            }
        };
        ch.writer.put(key, value)?;
        ch.size.records += 1;
        ch.size.bytes += value.len() as u64;
        Ok(())
    }

    /// A scan of `channel`'s keys `min..=max`, after its buffered records were flushed (so it
    /// sees every record written before it). A missing channel scans nothing.
    pub fn scan(&mut self, channel: &str, min: u64, max: u64) -> io::Result<RangeScan> {
        if let Some(ch) = self.channels.get_mut(channel) {
            ch.writer.flush()?;
        }
        RangeScan::new(&self.data_dir.join(channel), min, max, self.read_buffer)
    }

    /// Removes a channel and its files; whether it existed.
    pub fn remove_channel(&mut self, channel: &str) -> io::Result<bool> {
        let Some(mut ch) = self.channels.remove(channel) else {
            return Ok(false);
        };
        ch.writer.close_all()?;
        let dir = self.data_dir.join(channel);
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot remove {}: {e}", dir.display()),
                ))
            }
        }
        log::info!("Removed channel '{channel}' ({} records)", ch.size.records);
        Ok(true)
    }

    /// The channel names, sorted.
    pub fn channel_names(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// A channel's size (zeros for a missing one).
    pub fn size(&self, channel: &str) -> ChannelSize {
        self.channels
            .get(channel)
            .map(|c| c.size)
            .unwrap_or_default()
    }

    /// Every channel's size together.
    pub fn total(&self) -> ChannelSize {
        self.channels
            .values()
            .fold(ChannelSize::default(), |a, c| ChannelSize {
                records: a.records + c.size.records,
                bytes: a.bytes + c.size.bytes,
            })
    }

    /// Flushes and fsyncs every bucket written since the last checkpoint; the entries of the
    /// next `checkpoint.dat`.
    pub fn sync(&mut self) -> io::Result<Vec<Entry>> {
        let mut entries = Vec::new();
        for (name, ch) in &mut self.channels {
            for (bucket_start, offset) in ch.writer.sync()? {
                entries.push(Entry {
                    channel: name.clone(),
                    bucket_start,
                    offset,
                });
            }
        }
        Ok(entries)
    }

    /// Flushes and closes every bucket (shutdown).
    pub fn close(&mut self) -> io::Result<()> {
        for ch in self.channels.values_mut() {
            ch.writer.close_all()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
