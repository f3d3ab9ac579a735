//! dhtdump against a scripted node (a `TcpListener` speaking the protocol crate's codec) for what
//! the real dhtnode never does, or not on cue: send a record with an empty value (skipped, not
//! written); stop answering in the middle of a GetAll (a SIGTERM then ends the process within
//! the grace period, exit code 0, with the partial temp file deleted); no longer list the
//! channel once its GetAll ended (a RemoveChannel meanwhile: the file is not written).

#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use swarm_protocol::batch::BatchBuilder;
use swarm_protocol::dht::{DhtReply, DhtRequest, API_VERSION};
use swarm_protocol::wire::put_array;
use swarm_protocol::{format_key, DecodeError, Status};

/// The records of channel "ch", one with an empty value.
fn fake_records() -> Vec<(u64, Vec<u8>)> {
    vec![
        (1, b"one".to_vec()),
        (2, Vec::new()),
        (3, b"three".to_vec()),
    ]
}

/// How the scripted node behaves.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Answers everything.
    Normal,
    /// GetAll sends its first batch and then nothing more.
    Hang,
    /// Once a GetAll has been answered, GetChannels no longer lists the channel.
    RemoveDuringGetAll,
}

/// Serves one connection; `got_all` is shared by the node's connections.
fn serve(mut stream: TcpStream, mode: Mode, got_all: &AtomicBool) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let (out, used, get_all) = match DhtRequest::decode(&buf) {
            Ok((req, used)) => (
                reply(&req, mode, got_all),
                used,
                matches!(req, DhtRequest::GetAll { .. }),
            ),
            Err(DecodeError::Incomplete) => match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    continue;
                }
            },
            Err(DecodeError::Invalid(_)) => return,
        };
        buf.drain(..used);
        if stream.write_all(&out).is_err() {
            return;
        }
        if get_all {
            got_all.store(true, Ordering::SeqCst);
            if mode == Mode::Hang {
                // Keep the connection open, send nothing more.
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    }
}

fn reply(req: &DhtRequest<'_>, mode: Mode, got_all: &AtomicBool) -> Vec<u8> {
    let mut out = Vec::new();
    match req {
        DhtRequest::GetVersion => DhtReply::Version(API_VERSION).encode(&mut out),
        DhtRequest::GetResponsibleRange => DhtReply::Range {
            min: 0,
            max: u64::MAX,
        }
        .encode(&mut out),
        DhtRequest::GetChannels => {
            DhtReply::Status(Status::Ok).encode(&mut out);
            if mode != Mode::RemoveDuringGetAll || !got_all.load(Ordering::SeqCst) {
                put_array(&mut out, b"ch");
            }
            put_array(&mut out, b"");
        }
        DhtRequest::GetAll { .. } => {
            DhtReply::Status(Status::Ok).encode(&mut out);
            let mut b = BatchBuilder::new(65536);
            for (k, v) in fake_records() {
                assert!(b.try_push_pair(&format_key(k), &v));
            }
            b.finish_into(&mut out);
            if mode != Mode::Hang {
                put_array(&mut out, b"");
            }
        }
        _ => DhtReply::Status(Status::Error).encode(&mut out),
    }
    out
}

/// Starts the scripted node; returns its port.
fn start(mode: Mode) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let got_all = Arc::new(AtomicBool::new(false));
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            let got_all = Arc::clone(&got_all);
            std::thread::spawn(move || serve(stream, mode, &got_all));
        }
    });
    port
}

#[test]
fn records_with_an_empty_value_are_not_written() {
    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(start(Mode::Normal), &out.path().join("data"), "");
    dump.oneshot_ok();
    let written = read_tcm(&dump.data.join("ch.tcm")).unwrap();
    let expected: Records = [(1, b"one".to_vec()), (3, b"three".to_vec())].into();
    assert_eq!(written, expected);
    let log = dump.root_log();
    assert!(log.contains("Finished dumping 'ch', 2 records"), "{log}");
    assert!(
        log.contains("Skipped 1 records with an empty value in channel 'ch'"),
        "{log}"
    );
}

#[test]
fn sigterm_while_the_node_hangs_mid_getall_exits_promptly_and_deletes_the_temp_file() {
    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(start(Mode::Hang), &out.path().join("data"), "");
    let mut child = dump.spawn(&["--oneshot"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !names(&dump.data).iter().any(|n| n.ends_with(".dumping")) {
        assert!(
            Instant::now() < deadline,
            "no temp file:\n{}",
            dump.root_log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let stopping = Instant::now();
    signal(&child, "TERM");
    let status = wait_exit(&mut child, stopping + Duration::from_secs(5));
    assert!(status.success(), "{status}");
    assert_eq!(names(&dump.data), Vec::<String>::new());
    let log = dump.root_log();
    assert!(log.contains("Removed partial dump file"), "{log}");
    assert!(log.contains("did not stop within 2s"), "{log}");
    assert!(log.contains("Exiting with return code 0"), "{log}");
}

#[test]
fn a_channel_removed_during_its_getall_is_not_written() {
    let out = tempfile::tempdir().unwrap();
    let dump = Dump::new(
        start(Mode::RemoveDuringGetAll),
        &out.path().join("data"),
        "",
    );
    dump.oneshot_ok();
    assert_eq!(names(&dump.data), Vec::<String>::new());
    let log = dump.root_log();
    assert!(
        log.contains("Detected removed channel 'ch' during its dump"),
        "{log}"
    );
    let stats = dump.stats_log();
    assert!(!stats.contains("channel/ch/"), "{stats}");
}
