//! The event loop against real sockets: pipelining, streaming replies and fairness, stalled
//! readers, the connection limit, wait/wake across connections, the per-connection error
//! boundary, timers, stats.log and shutdown.

mod common;

use std::fmt::Write as _;
use std::fs;
use std::net::Shutdown;
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use common::{local, start, LINE, TIMEOUT};

#[test]
fn pipelined_requests_are_all_answered_in_order() {
    let server = start(local());
    let mut c = server.connect();
    // More requests than the loop handles per connection and turn, sent in one write.
    let mut batch = String::new();
    for i in 0..1000 {
        writeln!(batch, "echo {i}").expect("string write");
    }
    c.send(&batch);
    for i in 0..1000 {
        assert_eq!(c.line(), i.to_string());
    }
    server.stop();
}

#[test]
fn request_split_across_many_reads() {
    let server = start(local());
    let mut c = server.connect();
    for b in "echo split\n".bytes() {
        c.stream.write_all_byte(b);
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(c.line(), "split");
    server.stop();
}

#[test]
fn streaming_reply_then_requests_buffered_meanwhile() {
    let server = start(local());
    let mut c = server.connect();
    // The echo arrives while the stream is in progress and must wait for it.
    c.send("stream 300\necho after\n");
    for i in 0..300 {
        let line = c.line();
        assert_eq!(line.len(), LINE - 1);
        assert_eq!(line[..8].parse::<usize>().expect("number"), i);
    }
    assert_eq!(c.line(), "end");
    assert_eq!(c.line(), "after");
    server.stop();
}

#[test]
fn client_not_reading_a_stream_does_not_block_others() {
    let server = start(local());
    let mut hog = server.connect();
    hog.send("stream 100000000\n"); // 100 GB: never finishes, never read
    let mut other = server.connect();
    let started = Instant::now();
    for i in 0..200 {
        assert_eq!(other.ask(&format!("echo {i}\n")), i.to_string());
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "other client was starved"
    );
    assert_eq!(
        server.closed(),
        0,
        "the hog is slow, not stalled past the default timeout"
    );
    server.stop();
}

#[test]
fn stalled_reader_is_closed_after_write_timeout() {
    let mut cfg = local();
    cfg.write_timeout = Duration::from_millis(300);
    let server = start(cfg);
    let mut hog = server.connect();
    hog.send("stream 100000000\n");
    server.wait_until("the stalled reader to be closed", |s| {
        s.closed.load(Ordering::SeqCst) == 1
    });
    // What was in flight drains, then the connection ends.
    let got = hog.read_to_close();
    assert!(!got.is_empty());
    let mut other = server.connect();
    assert_eq!(other.ask("echo still here\n"), "still here");
    server.stop();
}

#[test]
fn flood_from_a_client_that_never_reads_is_pushed_back() {
    let server = start(local());
    let mut flood = server.connect();
    flood
        .stream
        .set_write_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let chunk = "echo 0123456789abcdef\n".repeat(4096);
    let mut sent = 0usize;
    // The server stops reading once a bounded backlog is buffered; then the client's writes
    // stop making progress and time out.
    let err = loop {
        match std::io::Write::write(&mut flood.stream, chunk.as_bytes()) {
            Ok(n) => sent += n,
            Err(e) => break e,
        }
        assert!(
            sent < 256 << 20,
            "server kept reading {sent} bytes without pushing back"
        );
    };
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    let mut other = server.connect();
    assert_eq!(other.ask("echo fine\n"), "fine");
    server.stop();
}

#[test]
fn at_the_connection_limit_the_idle_longest_makes_room() {
    let mut cfg = local();
    cfg.connection_limit = 2;
    let server = start(cfg);
    let mut a = server.connect();
    assert_eq!(a.ask("echo a\n"), "a");
    thread::sleep(Duration::from_millis(20));
    let mut b = server.connect();
    assert_eq!(b.ask("echo b\n"), "b");
    // a has been idle longest: it goes, the new client is served.
    let mut c = server.connect();
    assert_eq!(c.ask("echo c\n"), "c");
    assert!(a.read_to_close().is_empty());
    assert_eq!(b.ask("count\n"), "2");
    server.stop();
}

#[test]
fn at_the_connection_limit_busy_connections_are_kept_and_the_new_one_refused() {
    let mut cfg = local();
    cfg.connection_limit = 2;
    let server = start(cfg);
    let mut a = server.connect();
    let mut b = server.connect();
    a.send("wait\n");
    b.send("stream 100000000\n"); // never read: output pending, not idle
    server.wait_until("both to be open", |s| s.opened.load(Ordering::SeqCst) == 2);
    thread::sleep(Duration::from_millis(50));
    let mut extra = server.connect();
    assert!(extra.read_to_close().is_empty(), "refused");
    drop(b);
    server.wait_until("the streaming one to close", |s| {
        s.closed.load(Ordering::SeqCst) == 1
    });
    let mut poster = server.connect();
    assert_eq!(poster.ask("post still waiting\n"), "delivered 1");
    assert_eq!(a.line(), "still waiting");
    server.stop();
}

#[test]
fn waiting_request_is_woken_by_another_connection() {
    let server = start(local());
    let mut listener = server.connect();
    listener.send("wait\n");
    let mut poster = server.connect();
    // The wait may not have been handled yet: post until it was delivered.
    let deadline = Instant::now() + TIMEOUT;
    while poster.ask("post hello\n") != "delivered 1" {
        assert!(Instant::now() < deadline, "wait never registered");
        thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(listener.line(), "hello");
    // Back to idle: the connection serves requests again.
    assert_eq!(listener.ask("echo next\n"), "next");
    server.stop();
}

#[test]
fn hang_up_during_wait_closes_the_session() {
    let server = start(local());
    let mut c = server.connect();
    c.send("wait\n");
    c.stream.shutdown(Shutdown::Write).expect("shutdown");
    server.wait_until("the waiting session to be closed", |s| {
        s.closed.load(Ordering::SeqCst) == 1
    });
    assert!(c.read_to_close().is_empty());
    server.stop();
}

#[test]
fn worker_thread_finishes_through_the_waker() {
    let server = start(local());
    let mut c = server.connect();
    assert_eq!(c.ask("worker\n"), "worker done");
    assert_eq!(c.ask("echo after\n"), "after");
    server.stop();
}

#[test]
fn half_close_answers_buffered_requests_then_closes() {
    let server = start(local());
    let mut c = server.connect();
    c.send("echo a\necho b\nstream 3\n");
    c.stream.shutdown(Shutdown::Write).expect("shutdown");
    let got = String::from_utf8(c.read_to_close()).expect("utf8");
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines.len(), 2 + 3 + 1);
    assert_eq!((lines[0], lines[1], lines[5]), ("a", "b", "end"));
    server.stop();
}

#[test]
fn garbage_closes_only_that_connection() {
    let server = start(local());
    let mut good = server.connect();
    assert_eq!(good.ask("echo 1\n"), "1");
    let mut bad = server.connect();
    // The reply before the bad request is still delivered; nothing after it is handled.
    bad.send("echo before\n\x00\x01garbage\necho never\n");
    assert_eq!(bad.read_to_close(), b"before\n");
    let mut long = server.connect();
    long.send(&"y".repeat(4096));
    assert!(long.read_to_close().is_empty());
    assert_eq!(good.ask("echo 2\n"), "2");
    server.wait_until("both bad connections to be closed", |s| {
        s.closed.load(Ordering::SeqCst) == 2
    });
    server.stop();
}

#[test]
fn step_close_flushes_the_reply_then_closes() {
    let server = start(local());
    let mut c = server.connect();
    c.send("bye\necho ignored\n");
    assert_eq!(c.read_to_close(), b"bye\n");
    server.stop();
}

#[test]
fn many_clients_at_once() {
    let server = start(local());
    let clients: Vec<_> = (0..16)
        .map(|t| {
            let mut c = server.connect();
            thread::spawn(move || {
                for round in 0..20 {
                    let mut batch = String::new();
                    for i in 0..50 {
                        writeln!(batch, "echo {t}-{round}-{i}").expect("string write");
                    }
                    c.send(&batch);
                    for i in 0..50 {
                        assert_eq!(c.line(), format!("{t}-{round}-{i}"));
                    }
                }
            })
        })
        .collect();
    for c in clients {
        c.join().expect("client thread");
    }
    server.stop();
}

#[test]
fn service_tick_runs_every_write_flush_ms() {
    let mut cfg = local();
    cfg.write_flush_ms = 5;
    let server = start(cfg);
    server.wait_until("ten ticks", |s| s.ticks.load(Ordering::SeqCst) >= 10);
    let mut c = server.connect();
    assert!(c.ask("ticks\n").parse::<usize>().expect("number") >= 10);
    server.stop();
}

#[test]
fn stats_log_lines_carry_core_and_service_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("log").join("stats.log");
    let mut cfg = local();
    cfg.stats_interval = Duration::from_millis(50);
    cfg.stats_file = Some(path.clone());
    let server = start(cfg);
    let mut c = server.connect();
    assert_eq!(c.ask("echo x\n"), "x");
    let deadline = Instant::now() + TIMEOUT;
    let line = loop {
        let text = fs::read_to_string(&path).unwrap_or_default();
        if let Some(l) = text.lines().find(|l| l.contains("test_requests:1")) {
            break l.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no stats line with the request: {text}"
        );
        thread::sleep(Duration::from_millis(10));
    };
    let keys: Vec<&str> = line[24..]
        .split(' ')
        .map(|kv| kv.split(':').next().unwrap_or(""))
        .collect();
    let expected = [
        "bytes_sent",
        "bytes_received",
        "handling_connections",
        "handling_connections_pcnt",
        "cpu_user",
        "cpu_system",
        "cpu_total",
        "vsz",
        "rss",
        "mem_percentage",
        "loop_longest_turn_micros",
        "test_requests",
    ];
    assert_eq!(keys, expected, "{line}");
    assert!(line.contains(" handling_connections:1 "), "{line}");
    server.stop();
}

#[test]
fn shutdown_handle_makes_run_return_and_closes_every_session() {
    let server = start(local());
    let mut clients: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.ask(&format!("echo {i}\n")), i.to_string());
    }
    clients[0].send("wait\n");
    clients[1].send("stream 100000000\n");
    let shared = std::sync::Arc::clone(&server.shared);
    let started = Instant::now();
    server.stop();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(shared.opened.load(Ordering::SeqCst), 3);
    assert_eq!(shared.closed.load(Ordering::SeqCst), 3);
    for c in &mut clients {
        c.read_to_close();
    }
}

/// `write_all` of one byte, as a client dribbling a request would.
trait WriteByte {
    fn write_all_byte(&mut self, b: u8);
}

impl WriteByte for std::net::TcpStream {
    fn write_all_byte(&mut self, b: u8) {
        std::io::Write::write_all(self, &[b]).expect("send byte");
    }
}

#[test]
fn a_burst_of_connections_larger_than_one_turns_accepts_is_all_served() {
    let server = start(local());
    // Connected before any is served, so the backlog holds more than a turn accepts (64).
    let mut clients: Vec<_> = (0..300).map(|_| server.connect()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.send(&format!("echo {i}\n"));
    }
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.line(), i.to_string());
    }
    server.stop();
}
