//! GetAll (29), GetAllFilter (31), GetRange (28), GetRangeFilter (32) and GetRangeRegex (34):
//! Ok, then the channel's records in the range as LZO batches of at most 64 KiB, then an empty
//! array (spec/logfiles.md sections 1.2, 2.1 and 3.6).
//!
//! The loop checks the channel name (409) and the keys (a malformed one closes the connection,
//! as the original's exception did), flushes the channel's write buffers so the scan sees every
//! record written before it, and hands a [`ScanCursor`] to a scan worker. Each turn of the
//! cursor ([`ScanCursor::run`]) compiles the pattern on its first turn (an invalid one answers
//! Error 500 before any data), reads records, filters them on their value, and returns up to
//! [`TURN_OUTPUT`] bytes of compressed batches; the loop writes them and sends the cursor out
//! again while the client reads, parks it (no file, no buffer held) while it does not.
//!
//! Differences from the original (docs/DIFFERENCES.md): range bounds are compared as numbers
//! (it compared hex strings), a regex is the `regex` crate's linear-time engine (no
//! backtracking limit to hit), and batches of values LZO cannot shrink are sent as LZO literal
//! runs, which every LZO1X decompressor reads, without the search ([`Compression`]).

use crate::matcher::{Matcher, MatcherError};
use crate::storage::scan::RangeScan;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use swarm_protocol::batch::{BatchBuilder, Compression, DEFAULT_BATCH_SIZE};
use swarm_protocol::key::format_key;
use swarm_protocol::logfiles::{encode_stream_end, FilterMode, LogfilesCommand};
use swarm_protocol::Status;

/// Compressed output one turn produces at most (beyond one batch).
pub const TURN_OUTPUT: usize = 256 * 1024;
/// Value bytes one turn reads at most, matching or not, before it gives the worker back.
pub const TURN_READ: u64 = 8 * 1024 * 1024;
/// A scan that has sent nothing for this long sends what it has (an empty batch if nothing
/// matched yet), so a client's read timeout does not fire during a long filtered scan.
pub const KEEPALIVE: Duration = Duration::from_secs(1);
/// The largest value a batch can carry (a pair of a 16-byte key and the value in 64 KiB).
pub const MAX_BATCH_VALUE: usize = swarm_protocol::logfiles::MAX_VALUE_LEN;

/// How a scan filters values.
#[derive(Debug, Clone)]
pub enum Filter {
    /// Every record.
    All,
    /// Values containing the bytes (GetAllFilter, GetRangeFilter, GetRangeRegex mode 0).
    Substring(Vec<u8>),
    /// GetRangeRegex modes 1 and 2: compiled on the first turn.
    Regex(FilterMode, Vec<u8>),
}

/// What to scan.
#[derive(Debug)]
pub struct ScanSpec {
    /// The request.
    pub command: LogfilesCommand,
    /// The channel's directory.
    pub channel_dir: PathBuf,
    /// Lowest key, inclusive.
    pub min: u64,
    /// Highest key, inclusive.
    pub max: u64,
    /// The value filter.
    pub filter: Filter,
    /// `[Performance] file_buffer_size`.
    pub read_buffer: usize,
    /// `[Testing] read_delay_ms`: each turn first sleeps this long.
    pub read_delay: Duration,
}

/// A range scan between turns; moves between the loop and the scan workers.
#[derive(Debug)]
pub struct ScanCursor {
    spec: ScanSpec,
    scan: Option<RangeScan>,
    matcher: Option<Matcher>,
    batch: BatchBuilder,
    value: Vec<u8>,
    /// Whether the Ok status was written.
    started: bool,
    /// When output was last produced.
    last_output: Instant,
    /// LZO or literals, by how the last batches compressed.
    compression: Compression,
    /// Records and value bytes sent.
    pub sent: (u64, u64),
}

/// What one turn produced.
#[derive(Debug)]
pub struct ScanOutput {
    /// The cursor, for the next turn (`None` when the scan is over).
    pub cursor: Option<Box<ScanCursor>>,
    /// Bytes for the client: the status first, batches, and at the end the last batch and
    /// the terminating empty array.
    pub wire: Vec<u8>,
    /// When the scan failed after its Ok status: the reason (the connection is closed, so the
    /// client sees an error instead of a short result).
    pub failed: Option<String>,
    /// Records and value bytes sent in all (when over).
    pub sent: (u64, u64),
    /// The request.
    pub command: LogfilesCommand,
}

impl ScanCursor {
    /// A scan that has not started.
    pub fn new(spec: ScanSpec) -> ScanCursor {
        ScanCursor {
            spec,
            scan: None,
            matcher: None,
            batch: BatchBuilder::new(DEFAULT_BATCH_SIZE),
            value: Vec::new(),
            started: false,
            last_output: Instant::now(),
            compression: Compression::default(),
            sent: (0, 0),
        }
    }

    /// The request.
    pub fn command(&self) -> LogfilesCommand {
        self.spec.command
    }

    fn output(self: Box<Self>, wire: Vec<u8>, done: bool, failed: Option<String>) -> ScanOutput {
        let (sent, command) = (self.sent, self.spec.command);
        ScanOutput {
            cursor: (!done).then_some(self),
            wire,
            failed,
            sent,
            command,
        }
    }

    /// One turn, on a worker thread.
    pub fn run(mut self: Box<Self>) -> ScanOutput {
        if !self.spec.read_delay.is_zero() {
            std::thread::sleep(self.spec.read_delay);
        }
        let mut wire = Vec::new();
        if !self.started {
            match self.start() {
                Ok(()) => {}
                Err(e) => {
                    log::warn!("{}: {e}", self.spec.command.name());
                    wire.extend_from_slice(&Status::Error.code().to_le_bytes());
                    return self.output(wire, true, None);
                }
            }
            self.started = true;
            wire.extend_from_slice(&Status::Ok.code().to_le_bytes());
        }
        let mut read = 0u64;
        while let Some(scan) = self.scan.as_mut() {
            let key = match scan.next_into(&mut self.value) {
                Ok(Some(k)) => k,
                Ok(None) => {
                    self.finish_batch(&mut wire);
                    encode_stream_end(&mut wire);
                    return self.output(wire, true, None);
                }
                Err(e) => {
                    let msg = format!("{} stopped: {e}", self.spec.command.name());
                    return self.output(wire, true, Some(msg));
                }
            };
            read += self.value.len() as u64 + 16;
            let keep = match &self.matcher {
                Some(m) => m.matches(&self.value),
                None => true,
            };
            if keep {
                self.push(key, &mut wire);
            }
            if wire.len() >= TURN_OUTPUT || read >= TURN_READ {
                break;
            }
        }
        if wire.is_empty() && self.last_output.elapsed() >= KEEPALIVE {
            self.finish_batch(&mut wire);
        }
        if !wire.is_empty() {
            self.last_output = Instant::now();
        }
        self.output(wire, false, None)
    }

    /// Closes the bucket being read and drops its read-ahead buffer, to wait for the client
    /// holding nothing but the position (a turn that goes on at once keeps them).
    pub fn park(&mut self) {
        if let Some(scan) = self.scan.as_mut() {
            scan.park();
        }
    }

    /// The first turn: the pattern compiled, the slot directories listed.
    fn start(&mut self) -> Result<(), String> {
        self.matcher = match &self.spec.filter {
            Filter::All => None,
            Filter::Substring(s) => Some(Matcher::substring(s)),
            Filter::Regex(mode, p) => Some(
                Matcher::regex(*mode, p)
                    .map_err(|MatcherError(e)| format!("pattern not accepted: {e}"))?,
            ),
        };
        let scan = RangeScan::new(
            &self.spec.channel_dir,
            self.spec.min,
            self.spec.max,
            self.spec.read_buffer,
        )
        .map_err(|e| e.to_string())?;
        self.scan = Some(scan);
        Ok(())
    }

    /// Sends the batch: LZO1X-1 compressed, or as literals while values do not compress.
    fn finish_batch(&mut self, wire: &mut Vec<u8>) {
        self.compression.finish(&mut self.batch, wire);
    }

    fn push(&mut self, key: u64, wire: &mut Vec<u8>) {
        if self.value.len() > MAX_BATCH_VALUE {
            log::warn!(
                "{}: a record of {} bytes under key {key:016x} does not fit a 64 KiB batch and \
                 is not sent (this node refuses such values; another wrote it)",
                self.spec.command.name(),
                self.value.len()
            );
            return;
        }
        let hex = format_key(key);
        if !self.batch.try_push_pair(&hex, &self.value) {
            self.finish_batch(wire);
            // An empty batch takes any value up to MAX_BATCH_VALUE.
            let _ = self.batch.try_push_pair(&hex, &self.value);
        }
        self.sent.0 += 1;
        self.sent.1 += self.value.len() as u64;
    }
}
