//! The logfiles node's side of `swarm-bench scan`: RemoveChannel and a PutBatch prefill (full
//! batches of the timestamp-like records, a window of them in flight), and the timed read, one
//! GetRange over the whole key range whose batch stream `getall::stream_batches` counts.

use super::super::codec_log::{fill_batch, BatchShape};
use super::super::getall::{stream_batches, Streamed};
use super::super::records::Values;
use super::{Read, ScanArgs};
use std::io::{self, Read as _, Write};
use std::net::TcpStream;
use swarm_protocol::batch::BatchBuilder;
use swarm_protocol::format_key;
use swarm_protocol::logfiles::LogfilesRequest;
use swarm_protocol::Status;

/// PutBatch requests written before the first status is read: the node works on one while the
/// client compresses the next.
const PREFILL_WINDOW: usize = 4;

/// Removes the channel, then stores `--records` records by PutBatch.
pub fn prefill(s: &mut TcpStream, args: &ScanArgs) -> Result<(), String> {
    let channel = args.channel.as_bytes();
    let mut out = Vec::new();
    LogfilesRequest::RemoveChannel { channel }.encode(&mut out);
    s.write_all(&out)
        .map_err(|e| format!("RemoveChannel: {e}"))?;
    expect_ok(s, "RemoveChannel")?;
    let values = Values::new(args.value_size);
    let shape = BatchShape {
        value_size: args.value_size,
        batch_size: args.batch_size,
        key_base: args.key_base,
    };
    let per_batch = super::super::codec_log::records_per_batch(args.batch_size, args.value_size);
    let (mut builder, mut batch) = (BatchBuilder::new(args.batch_size), Vec::new());
    let (mut j, mut in_flight) = (0u64, 0usize);
    while j < args.records {
        // The last batch is cut to what is left: fill it from a shape that holds no more.
        let left = args.records - j;
        let shape = if left < per_batch {
            BatchShape {
                batch_size: left as usize * swarm_protocol::batch::pair_size(16, args.value_size),
                ..shape
            }
        } else {
            shape
        };
        fill_batch(&mut builder, &mut batch, &values, shape, &mut j);
        out.clear();
        LogfilesRequest::PutBatch {
            channel,
            batch: &batch,
        }
        .encode(&mut out);
        s.write_all(&out).map_err(|e| format!("PutBatch: {e}"))?;
        in_flight += 1;
        if in_flight == PREFILL_WINDOW {
            expect_ok(s, "PutBatch")?;
            in_flight -= 1;
        }
    }
    for _ in 0..in_flight {
        expect_ok(s, "PutBatch")?;
    }
    Ok(())
}

/// One GetRange over every prefilled key, its records added to `total`.
pub fn read_all(s: &mut TcpStream, args: &ScanArgs, total: &mut Read) -> io::Result<()> {
    let (lower, upper) = (format_key(args.key_base), format_key(args.last_key()));
    let mut request = Vec::new();
    LogfilesRequest::GetRange {
        channel: args.channel.as_bytes(),
        lower: &lower,
        upper: &upper,
    }
    .encode(&mut request);
    let mut got = Streamed::default();
    stream_batches(s, &request, &mut got)?;
    total.records += got.records;
    total.value_bytes += got.value_bytes;
    // Status, then each batch array with its u64 length, then the empty array.
    total.wire_bytes += 4 + got.batch_bytes + 8 * got.batches + 8;
    total.requests += 1;
    total.elapsed += got.elapsed;
    Ok(())
}

/// Reads one status and expects `Ok`.
fn expect_ok(s: &mut TcpStream, what: &str) -> Result<(), String> {
    let mut status = [0u8; 4];
    s.read_exact(&mut status)
        .map_err(|e| format!("{what}: no status ({e})"))?;
    let code = i32::from_le_bytes(status);
    if code != Status::Ok.code() {
        return Err(format!("{what}: status {code}"));
    }
    Ok(())
}
