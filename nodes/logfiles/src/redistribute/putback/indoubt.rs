//! The batch in doubt: a marker that names a batch in flight (sent to a destination, its Ok
//! not received, or received and not yet recorded) is settled before a put-back by asking that
//! destination which of the batch's records it holds: GetRange of the channel over the
//! batch's keys, on that node alone. A destination applies a PutBatch record by record in
//! order, so what it stored of the batch is a prefix: the longest prefix of the batch (key and
//! value, with multiplicity) found there counts as acknowledged, the rest is put back. A
//! destination that cannot be asked gets nothing counted: the whole batch is put back, with a
//! warning that it may be on both nodes.
//!
//! A record the destination held already before the move (same key and value) counts as
//! stored: the rare false positive of this check (that copy then stands for both).

use super::marker::{InFlight, Marker};
use super::open_reader;
use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Duration;
use swarm_client::{ClientConfig, LogfilesClient, LOGFILES_MAX_VALUE_LEN};

/// How long the destination has to accept the connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long it has for each answer.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The batch in flight: its records (those the move sends, in order) and the offset after each.
struct Batch {
    records: Vec<(u64, Vec<u8>)>,
    offsets: Vec<u64>,
}

/// Reads the records of `tmp` after `acked` up to `end`: the batch that was in flight.
fn read_batch(tmp: &Path, acked: u64, end: u64) -> io::Result<Batch> {
    let mut reader = open_reader(tmp)?;
    let mut batch = Batch {
        records: Vec::new(),
        offsets: Vec::new(),
    };
    while let Some(r) = reader
        .next_record()
        .map_err(|e| io::Error::other(format!("{}: {e}", tmp.display())))?
    {
        let (key, len) = (r.key, r.value.len());
        let value = r.value.to_vec();
        let offset = reader.offset();
        if offset <= acked {
            continue;
        }
        if offset > end {
            break;
        }
        // The move skips these (kept beside as `.unsent-…`), so no batch carries them.
        if len == 0 || len > LOGFILES_MAX_VALUE_LEN {
            continue;
        }
        batch.records.push((key, value));
        batch.offsets.push(offset);
    }
    Ok(batch)
}

/// How many records of `batch`, from its start, are among `held` (a multiset).
fn stored_prefix(batch: &[(u64, Vec<u8>)], mut held: HashMap<(u64, Vec<u8>), usize>) -> usize {
    batch
        .iter()
        .take_while(|r| match held.get_mut(*r) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        })
        .count()
}

/// The records of `channel` in `lo..=hi` on `dest` alone, as a multiset.
fn ask(
    dest: std::net::SocketAddr,
    channel: &str,
    lo: u64,
    hi: u64,
) -> Result<HashMap<(u64, Vec<u8>), usize>, String> {
    let config = ClientConfig::default()
        .with_connect_timeout(CONNECT_TIMEOUT)
        .with_io_timeout(Some(READ_TIMEOUT))
        .with_reconnect_timeout(CONNECT_TIMEOUT)
        .with_reconnect_backoff_max(Duration::from_millis(500));
    let client = LogfilesClient::new(&[dest], config).map_err(|e| e.to_string())?;
    let mut held = HashMap::new();
    for r in client
        .get_range(channel, lo, hi)
        .map_err(|e| e.to_string())?
    {
        *held.entry(r.map_err(|e| e.to_string())?).or_default() += 1;
    }
    Ok(held)
}

/// The acknowledged offset of `tmp` once its batch in flight is settled (see the module doc):
/// `marker.acked` when nothing of it is on the destination (or it cannot be asked), the batch's
/// end when all of it is, else the offset after the prefix it holds.
pub fn settle(tmp: &Path, channel: &str, marker: &Marker, flight: InFlight) -> io::Result<u64> {
    let acked = marker.acked;
    let batch = read_batch(tmp, acked, flight.end)?;
    let (Some(lo), Some(hi)) = (
        batch.records.iter().map(|r| r.0).min(),
        batch.records.iter().map(|r| r.0).max(),
    ) else {
        return Ok(acked);
    };
    let n = batch.records.len();
    let dest = flight.dest;
    let held = match ask(dest, channel, lo, hi) {
        Ok(h) => h,
        Err(why) => {
            log::warn!(
                "{}: the batch in flight when the move stopped ({n} records) went to {dest}, \
                 which cannot be asked whether it stored them ({why}): put back, so these \
                 records may be on both this node and {dest}",
                tmp.display()
            );
            return Ok(acked);
        }
    };
    let p = stored_prefix(&batch.records, held);
    let settled = match p {
        0 => acked,
        p if p == n => flight.end,
        p => batch.offsets[p - 1],
    };
    log::info!(
        "{}: of the batch in flight to {dest} when the move stopped, {p} of {n} records are \
         there: counted as acknowledged up to offset {settled}",
        tmp.display()
    );
    Ok(settled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multiset(recs: &[(u64, &str)]) -> HashMap<(u64, Vec<u8>), usize> {
        let mut m = HashMap::new();
        for (k, v) in recs {
            *m.entry((*k, v.as_bytes().to_vec())).or_default() += 1;
        }
        m
    }

    #[test]
    fn the_longest_stored_prefix_counts_with_multiplicity() {
        let batch: Vec<(u64, Vec<u8>)> = [(1, "a"), (2, "b"), (2, "b"), (3, "c")]
            .iter()
            .map(|(k, v)| (*k, v.as_bytes().to_vec()))
            .collect();
        assert_eq!(stored_prefix(&batch, multiset(&[])), 0);
        assert_eq!(stored_prefix(&batch, multiset(&[(1, "a"), (2, "b")])), 2);
        // The third record (a second (2, b)) is not there: the prefix ends before it.
        assert_eq!(
            stored_prefix(&batch, multiset(&[(1, "a"), (2, "b"), (3, "c")])),
            2
        );
        let all = multiset(&[(3, "c"), (2, "b"), (1, "a"), (2, "b"), (9, "z")]);
        assert_eq!(stored_prefix(&batch, all), 4);
        // Same key, other value: not stored.
        assert_eq!(stored_prefix(&batch, multiset(&[(1, "x")])), 0);
    }
}
