//! Writes the committed inputs of the corpus-replay test: a small seed corpus per target
//! (`fuzz/corpus/<target>/seed-*`, valid files and frames made by the real writers and
//! encoders) and the hand-made edge inputs (`fuzz/regressions/<target>/edge-*`: length fields of
//! 2^40, 2^63, 2^64-1 and 10 MiB +- 1, LZO bombs, cut files). Crash inputs found by libFuzzer are
//! added to `fuzz/regressions/` by hand, with their fix; this tool never touches those.
//!
//! `cargo run -p swarm-fuzz-checks --example seeds` (rewrites the seed-* and edge-* files).

use std::fs;
use std::path::{Path, PathBuf};
use swarm_fuzz_checks::valid_frame;
use swarm_logfiles::checkpoint::{self, Entry};
use swarm_protocol::batch::{compress, store};
use swarm_protocol::bucket::{encode_header, encode_record, BucketFormat};
use swarm_protocol::rq::write_rq;
use swarm_protocol::tcm::TcmWriter;
use swarm_protocol::wire::{put_array, put_i32, put_list, put_u64};
use swarm_protocol::{format_key, MAX_ARRAY_LEN};

/// The length values the issue names.
const EXTREMES: [u64; 6] = [
    1 << 40,
    1 << 63,
    u64::MAX,
    MAX_ARRAY_LEN - 1,
    MAX_ARRAY_LEN,
    MAX_ARRAY_LEN + 1,
];

fn main() -> std::io::Result<()> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = Out { fuzz };
    files(&mut out)?;
    frames(&mut out)?;
    replies(&mut out)?;
    batches(&mut out)?;
    configs(&mut out)?;
    nodes_files(&mut out)?;
    structured(&mut out)
}

struct Out {
    fuzz: PathBuf,
}

impl Out {
    fn write(&mut self, kind: &str, target: &str, items: &[Vec<u8>]) -> std::io::Result<()> {
        let dir = self.fuzz.join(kind).join(target);
        fs::create_dir_all(&dir)?;
        let prefix = if kind == "corpus" { "seed" } else { "edge" };
        for e in fs::read_dir(&dir)? {
            let p = e?.path();
            if p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            {
                fs::remove_file(p)?;
            }
        }
        for (i, data) in items.iter().enumerate() {
            fs::write(dir.join(format!("{prefix}-{i:02}")), data)?;
        }
        Ok(())
    }

    /// `seeds` as the corpus, and each seed with an extreme spliced over each of its first
    /// 8-aligned u64 fields (past `skip` bytes) as edge inputs.
    fn both(&mut self, target: &str, skip: usize, seeds: &[Vec<u8>]) -> std::io::Result<()> {
        self.write("corpus", target, seeds)?;
        let mut edges = Vec::new();
        for seed in seeds.iter().filter(|s| s.len() >= skip + 8).take(2) {
            for at in (skip..seed.len() - 7).step_by(8).take(3) {
                for x in EXTREMES {
                    let mut e = seed.clone();
                    e[at..at + 8].copy_from_slice(&x.to_le_bytes());
                    edges.push(e);
                }
            }
            edges.push(seed[..seed.len() / 2].to_vec());
        }
        edges.push(Vec::new());
        self.write("regressions", target, &edges)
    }
}

fn records(n: usize) -> Vec<(u64, Vec<u8>)> {
    (0..n)
        .map(|i| {
            (
                (i as u64) * 0x1001,
                format!("value {i}").repeat(i).into_bytes(),
            )
        })
        .collect()
}

fn files(out: &mut Out) -> std::io::Result<()> {
    let mut tcm = Vec::new();
    let mut rq = Vec::new();
    let mut bucket = Vec::new();
    for n in 0..12 {
        let recs = records(n);
        let mut w = TcmWriter::new(Vec::new())?;
        for (k, v) in &recs {
            w.write_record(*k, v)?;
        }
        tcm.push(w.finish()?.0);
        let refs: Vec<&[u8]> = recs.iter().map(|(_, v)| v.as_slice()).collect();
        let mut file = Vec::new();
        write_rq(&mut file, &refs)?;
        rq.push(file);
        let format = if n % 2 == 0 {
            BucketFormat::V1
        } else {
            BucketFormat::Legacy
        };
        let mut file = vec![(n % 4) as u8];
        if format == BucketFormat::V1 {
            encode_header(&mut file);
        }
        for (k, v) in &recs {
            encode_record(format, *k, v, &mut file);
        }
        bucket.push(file);
    }
    out.both("tcm_reader", 0, &tcm)?;
    out.both("rq_reader", 0, &rq)?;
    out.both("bucket_reader", 1, &bucket)?;
    let mut cps = Vec::new();
    for n in 0..12 {
        let entries: Vec<Entry> = (0..n)
            .map(|i| Entry {
                channel: format!("chan_{i}-x"),
                bucket_start: (i as u64) << 12,
                offset: (i as u64) * 4096 + 16,
            })
            .collect();
        cps.push(checkpoint::encode(&entries));
    }
    out.write("corpus", "checkpoint_reader", &cps)?;
    let edges: Vec<Vec<u8>> = [
        &b"c 18446744073709551615 18446744073709551615\n"[..],
        b"c 18446744073709551616 0\n",
        b"c -1 0\n",
        b"c 4096 10485761",
        b"c  4096 1\n",
        b"bad/name 0 0\n",
        b"c 0 0 extra\n",
        b"\xff\xfe 0 0\n",
        b"\n\n\n",
        b"",
    ]
    .iter()
    .map(|s| s.to_vec())
    .collect();
    out.write("regressions", "checkpoint_reader", &edges)
}

fn frames(out: &mut Out) -> std::io::Result<()> {
    for (kind, n) in [("dht", 17u8), ("queue", 13), ("logfiles", 14)] {
        let mut seeds = Vec::new();
        for i in 0..n * 2 {
            let input: Vec<u8> = [i]
                .into_iter()
                .chain((1..64u8).map(|b| b.wrapping_mul(i + 7)))
                .collect();
            seeds.push(valid_frame(kind, &input).unwrap_or_default());
        }
        // Put-like frames (code, channel, key) with every extreme as the last length field.
        let mut edges = Vec::new();
        for x in EXTREMES {
            let code = match kind {
                "dht" => 1,
                "queue" => 1,
                _ => 3,
            };
            let mut f = Vec::new();
            put_i32(&mut f, code);
            put_array(&mut f, b"chan");
            if kind != "queue" {
                put_array(&mut f, &format_key(7));
            }
            put_u64(&mut f, x);
            f.extend_from_slice(b"some of the value");
            edges.push(f);
        }
        edges.push(vec![0xff; 4]);
        edges.push(Vec::new());
        out.write("corpus", &format!("{kind}_request_decode"), &seeds)?;
        out.write("regressions", &format!("{kind}_request_decode"), &edges)?;
    }
    Ok(())
}

fn replies(out: &mut Out) -> std::io::Result<()> {
    for (kind, n) in [("dht", 17u8), ("queue", 13), ("logfiles", 14)] {
        let mut seeds = Vec::new();
        let mut edges = Vec::new();
        for sel in 0..n {
            let mut ok = vec![sel];
            put_i32(&mut ok, 200);
            let mut arr = ok.clone();
            put_array(&mut arr, b"20110401");
            let mut size = ok.clone();
            put_array(&mut size, b"127.0.0.1");
            size.extend_from_slice(&[0x10, 0x27]);
            put_u64(&mut size, 3);
            put_u64(&mut size, 99);
            let mut list = ok.clone();
            put_list(&mut list, &[b"a", b"bc"]);
            let mut range = ok.clone();
            put_u64(&mut range, 5);
            put_u64(&mut range, u64::MAX);
            let mut stream = ok.clone();
            put_array(&mut stream, b"record");
            put_array(&mut stream, b"");
            seeds.extend([arr, size, list, range, stream]);
            for x in EXTREMES.iter().take(3) {
                let mut e = ok.clone();
                put_u64(&mut e, *x);
                edges.push(e);
            }
        }
        out.write("corpus", &format!("{kind}_reply_decode"), &seeds)?;
        out.write("regressions", &format!("{kind}_reply_decode"), &edges)?;
    }
    Ok(())
}

fn batches(out: &mut Out) -> std::io::Result<()> {
    let mut seeds = Vec::new();
    for n in 0..12 {
        let mut raw = Vec::new();
        for (k, v) in records(n) {
            put_array(&mut raw, &format_key(k));
            put_array(&mut raw, &v);
        }
        let lzo = if n % 2 == 0 {
            compress(&raw)
        } else {
            store(&raw)
        };
        let mut p = (raw.len() as u64).to_le_bytes().to_vec();
        p.extend_from_slice(&lzo);
        seeds.push(p);
    }
    out.write("corpus", "batch_decompress", &seeds)?;
    // LZO bombs: a tiny stream announcing a huge raw length, and a valid stream that lies.
    let mut edges = Vec::new();
    for x in EXTREMES.iter().chain(&[0, 1]) {
        let mut p = x.to_le_bytes().to_vec();
        p.extend_from_slice(&store(b"tiny"));
        edges.push(p);
    }
    edges.push(vec![0; 7]);
    out.write("regressions", "batch_decompress", &edges)
}

fn configs(out: &mut Out) -> std::io::Result<()> {
    let root = out.fuzz.join("..");
    let mut seeds = Vec::new();
    for p in [
        "etc/dht/config.ini",
        "etc/queue/config.ini",
        "etc/logfiles/config.ini",
        "etc/dhtdump/config.ini",
        "nodes/dht/src/default_config.ini",
        "nodes/queue/src/default_config.ini",
        "nodes/logfiles/src/default_config.ini",
    ] {
        // The first byte picks the node kind (dht, queue, logfiles).
        let text = fs::read(root.join(p))?;
        for kind in 0..3u8 {
            seeds.push([&[kind][..], &text].concat());
        }
        seeds.push([&[seeds.len() as u8 % 3][..], &text[..text.len() / 2]].concat());
    }
    out.write("corpus", "config_files", &seeds)?;
    let edges: Vec<Vec<u8>> = [
        "[Server]\naddress=127.0.0.1\nport=99999999999999999999999\n",
        "[Server]\naddress=127.0.0.1\nport=-1\nconnection_limit=18446744073709551616\n",
        "[Server]\naddress=\nport=0\n[Options_Memory]\nsize_limit=18446744073709551615\n",
        "[Server]\naddress=127.0.0.1\nport=1\n[Channel_Sizes]\n=5\nx=-5\n",
        "[Server\naddress=1",
        "key before section\n[=]\n[]\n=\n",
        "[Server]\naddress=127.0.0.1\nport=1\n[LOG.Root]\nfile=/\n",
        "",
    ]
    .iter()
    .flat_map(|s| (0..3u8).map(move |kind| [&[kind][..], s.as_bytes()].concat()))
    .collect();
    out.write("regressions", "config_files", &edges)
}

fn nodes_files(out: &mut Out) -> std::io::Result<()> {
    let mut seeds = Vec::new();
    for n in 1..13u16 {
        let mut text = String::from("# cluster\n\n");
        for i in 0..n {
            text.push_str(&format!(
                "127.0.0.{}:{}  # node {i}\n",
                i % 3 + 1,
                10000 + i
            ));
        }
        if n % 3 == 0 {
            text.push_str("[::1]:10000\n");
        }
        seeds.push(text.into_bytes());
    }
    out.write("corpus", "nodes_file", &seeds)?;
    let edges: Vec<Vec<u8>> = [
        "127.0.0.1:65536\n",
        "127.0.0.1:99999999999999999999\n",
        "127.0.0.1:1\n127.0.0.1:1\n",
        "# only a comment\n\n",
        "127.0.0.1\n",
        ":1\n",
        "[::1:1\n",
        "\u{feff}127.0.0.1:1\r\n",
        "",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    out.write("regressions", "nodes_file", &edges)
}

fn structured(out: &mut Out) -> std::io::Result<()> {
    for (kind, n) in [("dht", 17u8), ("queue", 13), ("logfiles", 14)] {
        let mut seeds = Vec::new();
        let mut edges = Vec::new();
        for i in 0..n * 2 {
            let body: Vec<u8> = (1..48u8).map(|b| b.wrapping_mul(i + 3)).collect();
            seeds.push([&[i][..], &body].concat());
            // Op 2 (splice) of length field a, with extreme b, after the fields.
            let mut e = [&[i][..], &body].concat();
            for b in 0..8u8 {
                e.extend_from_slice(&[2, b, b]);
            }
            edges.push(e);
        }
        out.write("corpus", &format!("{kind}_request_structured"), &seeds)?;
        out.write("regressions", &format!("{kind}_request_structured"), &edges)?;
    }
    Ok(())
}
