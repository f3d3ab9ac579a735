//! Structured request-frame checks, one per node kind: the fuzz input picks a command and its
//! fields, the frame is written by a layout table kept here (from spec/*.md section 2, apart
//! from the decoders it checks), and then mutated by ops the rest of the input picks: a bit
//! flipped, the frame cut, a byte inserted or dropped, a length field spliced with 2^40, 2^63,
//! 2^64-1 or 10 MiB +- 1, the code changed, a second frame pipelined behind it.
//!
//! The valid frame must decode whole (the bytes used are the frame, re-encoding gives the same
//! bytes, the length hint is exact) and every cut of it must be "incomplete" with a hint past
//! the bytes there, never an error; the mutated frame goes through the kind's raw check
//! ([`crate::frames`]), so it meets the same invariants as raw fuzz input. Raw fuzzing rarely
//! reaches deep into a frame (a PutBatch with a compressed batch inside, a Redistribute node
//! list); starting from a valid one does.

mod layouts;

use layouts::{Codec, Field, DHT, LOGFILES, QUEUE};
use swarm_protocol::batch::{compress, decompress, store, Pairs};
use swarm_protocol::wire::{put_array, put_f32, put_i32, put_u16, put_u64, put_u8};
use swarm_protocol::{format_key, DecodeError, MAX_ARRAY_LEN};

/// Dht request frames (every dht command), built valid and then mutated.
pub fn dht_request_structured(data: &[u8]) {
    run(&DHT, data);
}

/// Queue request frames (every queue command), built valid and then mutated.
pub fn queue_request_structured(data: &[u8]) {
    run(&QUEUE, data);
}

/// Logfiles request frames (every logfiles command), built valid and then mutated.
pub fn logfiles_request_structured(data: &[u8]) {
    run(&LOGFILES, data);
}

/// The length values a splice writes into a length field: the extremes and the limit's
/// neighbours, and the off-by-ones of a short or long array.
const EXTREMES: [u64; 8] = [
    1 << 40,
    1 << 63,
    u64::MAX,
    MAX_ARRAY_LEN - 1,
    MAX_ARRAY_LEN,
    MAX_ARRAY_LEN + 1,
    0,
    1 << 32,
];

/// The most mutation ops applied to one frame.
const MAX_OPS: usize = 8;

/// The fuzz input, read front to back; an exhausted input reads as zeros.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    /// Up to 31 bytes (a channel, a value, a filter): short fields, the splices make them long.
    fn short(&mut self) -> &'a [u8] {
        let n = usize::from(self.byte() % 32);
        self.take(n)
    }

    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        let got = self.take(8);
        b[..got.len()].copy_from_slice(got);
        u64::from_le_bytes(b)
    }
}

/// A frame being written, with the offsets of its u64 length fields (the splice targets).
#[derive(Default)]
struct Frame {
    bytes: Vec<u8>,
    lengths: Vec<usize>,
    /// The batches written (raw bytes, wire payload), checked to decompress to their raw bytes.
    batches: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Frame {
    fn array(&mut self, v: &[u8]) {
        self.lengths.push(self.bytes.len());
        put_array(&mut self.bytes, v);
    }

    fn field(&mut self, field: Field, input: &mut Input<'_>) {
        match field {
            Field::Arr => {
                let v = input.short();
                self.array(v);
            }
            Field::Key => {
                let key = input.u64();
                if key % 16 == 15 {
                    // Now and then a key that is not 16 hex digits: the decoders keep keys raw.
                    let v = input.short();
                    self.array(v);
                } else {
                    self.array(&format_key(key));
                }
            }
            Field::List => {
                for _ in 0..input.byte() % 4 {
                    let mut v = input.short();
                    if v.is_empty() {
                        v = b"c";
                    }
                    self.array(v);
                }
                self.array(b"");
            }
            Field::Mode => put_u8(&mut self.bytes, input.byte() % 3),
            Field::U64 => put_u64(&mut self.bytes, input.u64()),
            Field::F32 => put_f32(&mut self.bytes, f32::from(input.byte()) / 255.0),
            Field::DhtNodes | Field::LogfilesNodes => {
                for _ in 0..input.byte() % 4 {
                    self.array(b"127.0.0.1");
                    put_u16(&mut self.bytes, u16::from(input.byte()) * 257);
                    if field == Field::DhtNodes {
                        put_u64(&mut self.bytes, input.u64());
                        put_u64(&mut self.bytes, input.u64());
                    }
                }
                self.array(b"");
            }
            Field::Batch => self.batch(input),
        }
    }

    fn batch(&mut self, input: &mut Input<'_>) {
        let mut raw = Vec::new();
        for _ in 0..input.byte() % 5 {
            put_array(&mut raw, &format_key(input.u64()));
            put_array(&mut raw, input.short());
        }
        let lzo = if input.byte() & 1 == 0 {
            compress(&raw)
        } else {
            store(&raw)
        };
        let payload = crate::batch::payload(raw.len(), &lzo);
        self.lengths.push(self.bytes.len());
        // The batch's own raw-length field, a bomb when spliced large.
        self.lengths.push(self.bytes.len() + 8);
        put_array(&mut self.bytes, &payload);
        self.batches.push((raw, payload));
    }
}

/// The valid request frame of `kind` (`dht`, `queue` or `logfiles`) that the structured check
/// builds from `data` before mutating it: seeds for the raw decoders' corpora.
pub fn valid_frame(kind: &str, data: &[u8]) -> Option<Vec<u8>> {
    let codec = match kind {
        "dht" => &DHT,
        "queue" => &QUEUE,
        "logfiles" => &LOGFILES,
        _ => return None,
    };
    Some(build(codec, &mut Input(data)).1.bytes)
}

fn build(codec: &Codec, input: &mut Input<'_>) -> (i32, Frame) {
    let (code, layout) = codec.layouts[usize::from(input.byte()) % codec.layouts.len()];
    let mut frame = Frame::default();
    put_i32(&mut frame.bytes, code);
    for &field in layout {
        frame.field(field, input);
    }
    (code, frame)
}

fn run(codec: &Codec, data: &[u8]) {
    let mut input = Input(data);
    let (code, frame) = build(codec, &mut input);
    check_valid(codec, code, &frame);
    let mutated = mutate(&frame, &mut input);
    (codec.raw)(&mutated);
}

fn check_valid(codec: &Codec, code: i32, frame: &Frame) {
    let bytes = &frame.bytes;
    let (again, used) = (codec.decode)(bytes).unwrap_or_else(|e| panic!("valid frame: {e:?}"));
    assert_eq!(used, bytes.len(), "a valid frame decodes whole");
    assert_eq!(&again, bytes, "a valid frame re-encodes to itself");
    match (codec.needed_len)(bytes) {
        Some(n) => assert_eq!(n, bytes.len()),
        None => assert!(
            codec.no_hint.contains(&code),
            "no length hint for code {code}"
        ),
    }
    for cut in 0..bytes.len() {
        let part = &bytes[..cut];
        match (codec.decode)(part) {
            Err(DecodeError::Incomplete) => {}
            other => panic!("a cut at {cut} of {} bytes: {other:?}", bytes.len()),
        }
        if let Some(n) = (codec.needed_len)(part) {
            assert!(n > cut && n <= bytes.len(), "hint {n} at a cut at {cut}");
        }
    }
    for (raw, payload) in &frame.batches {
        let back = decompress(payload).expect("a built batch decompresses");
        assert_eq!(&back, raw);
        assert!(Pairs::new(&back).all(|p| p.is_ok()));
    }
}

fn mutate(frame: &Frame, input: &mut Input<'_>) -> Vec<u8> {
    let mut out = frame.bytes.clone();
    for _ in 0..MAX_OPS {
        if input.0.is_empty() {
            break;
        }
        let (op, a, b) = (input.byte(), input.byte(), input.byte());
        let pos = (usize::from(a) << 8 | usize::from(b)) % (out.len() + 1);
        match op % 7 {
            0 if pos < out.len() => out[pos] ^= 1 << (a % 8),
            1 => out.truncate(pos),
            2 if !frame.lengths.is_empty() => {
                let at = frame.lengths[usize::from(a) % frame.lengths.len()];
                let value = EXTREMES[usize::from(b) % EXTREMES.len()];
                if let Some(field) = out.get_mut(at..at + 8) {
                    field.copy_from_slice(&value.to_le_bytes());
                }
            }
            3 => out.insert(pos, b),
            4 if pos < out.len() => {
                out.remove(pos);
            }
            5 => out.extend_from_slice(&frame.bytes),
            6 if out.len() >= 4 => out[..4].copy_from_slice(&i32::from(a).to_le_bytes()),
            _ => {}
        }
    }
    out
}
