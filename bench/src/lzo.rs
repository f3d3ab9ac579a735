//! `swarm-bench lzo`: the compression floor of GetAll. Builds the batches a GetAll of the
//! loaded key space carries (same keys and values as `--load`, `BatchBuilder` of the node's
//! batch size) and times `finish_into` alone, in this process, on one core.

use super::getall::print_figures;
use super::opts::LzoArgs;
use super::records::{hex_key_of, key_of, Values};
use std::time::{Duration, Instant};
use swarm_protocol::batch::BatchBuilder;

/// Runs the LZO measurement and prints its report.
pub fn run(args: &LzoArgs) -> Result<(), String> {
    if args.value_size == 0 || args.keys == 0 {
        return Err("--keys and --value-size must be at least 1".into());
    }
    let values = Values::of_kind(args.value_size, args.values);
    let mut builder = BatchBuilder::new(args.batch_size);
    let mut out = Vec::with_capacity(2 * args.batch_size);
    let (mut batches, mut batch_bytes, mut raw_bytes, mut records) = (0u64, 0u64, 0u64, 0u64);
    let mut compressing = Duration::ZERO;
    let started = Instant::now();
    let mut finish = |builder: &mut BatchBuilder, out: &mut Vec<u8>| {
        raw_bytes += builder.raw_len() as u64;
        out.clear();
        let t = Instant::now();
        builder.finish_into(out);
        compressing += t.elapsed();
        // The wire array's own u64 length prefix is not batch data.
        batch_bytes += out.len() as u64 - 8;
        batches += 1;
    };
    for _ in 0..args.passes.max(1) {
        for i in 0..args.keys {
            let key = hex_key_of(i);
            let value = values.of(key_of(i));
            if !builder.try_push_pair(&key, value) {
                finish(&mut builder, &mut out);
                if !builder.try_push_pair(&key, value) {
                    return Err(format!(
                        "a record of {} bytes exceeds --batch-size",
                        value.len() + 32
                    ));
                }
            }
            records += 1;
        }
        if !builder.is_empty() {
            finish(&mut builder, &mut out);
        }
    }
    let total = started.elapsed().as_secs_f64();
    let secs = compressing.as_secs_f64();
    let figures = [
        ("batches", Some(batches as f64)),
        ("batch_bytes", Some(batch_bytes as f64)),
        ("raw_bytes", Some(raw_bytes as f64)),
        ("records", Some(records as f64)),
        ("elapsed_s", Some(secs)),
        ("with_building_s", Some(total)),
        ("batch_mb_per_s", Some(batch_bytes as f64 / secs / 1e6)),
        ("raw_mb_per_s", Some(raw_bytes as f64 / secs / 1e6)),
        ("records_per_s", Some(records as f64 / secs)),
        (
            "compression_ratio",
            Some(batch_bytes as f64 / raw_bytes as f64),
        ),
    ];
    print_figures("lzo", &figures, args.json);
    Ok(())
}
