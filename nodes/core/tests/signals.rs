//! Signal handling of the loop, in its own test binary (its own process: the loop takes over
//! SIGINT/SIGTERM/SIGQUIT/SIGHUP for the whole process). SIGHUP reopens root.log and stats.log
//! after logrotate moved them; SIGTERM shuts the loop down gracefully.

use std::fs;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use swarm_core::{logging, ConnRef, Context, Handled, Out, Server, ServerConfig, Service, Step};

struct Nothing;

impl Service for Nothing {
    type Session = ();
    type Event = ();

    fn open(&mut self, _conn: ConnRef, _peer: SocketAddr) {}

    fn handle(
        &mut self,
        _cx: &mut Context<'_, ()>,
        _s: &mut (),
        input: &[u8],
        _out: &mut Out<'_>,
    ) -> Handled {
        Handled::Request {
            consumed: input.len(),
            step: Step::Done,
        }
    }

    fn resume(&mut self, _cx: &mut Context<'_, ()>, _s: &mut (), _out: &mut Out<'_>) -> Step {
        Step::Done
    }

    fn close(&mut self, _cx: &mut Context<'_, ()>, _s: ()) {}
}

fn raise(sig: libc::c_int) {
    // SAFETY: raise takes no pointers; the loop has a handler installed for `sig`.
    let rc = unsafe { libc::raise(sig) };
    assert_eq!(rc, 0);
}

fn wait_for(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn sighup_reopens_logs_and_sigterm_shuts_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log_dir = dir.path().join("log");
    logging::init(&log_dir, log::LevelFilter::Info, false).expect("logging");
    let mut cfg = ServerConfig::local(0);
    cfg.handle_signals = true;
    cfg.stats_file = Some(log_dir.join("stats.log"));
    let mut server = Server::bind(&cfg, Nothing).expect("bind");
    let (tx, done) = mpsc::channel();
    let thread = thread::spawn(move || {
        let result = server.run();
        let _ = tx.send(());
        result
    });

    // logrotate moves the files away, then sends SIGHUP.
    let root = log_dir.join("root.log");
    fs::rename(&root, log_dir.join("root.log.1")).expect("rotate root.log");
    fs::rename(log_dir.join("stats.log"), log_dir.join("stats.log.1")).expect("rotate stats.log");
    raise(libc::SIGHUP);
    wait_for("root.log to be reopened", || {
        root.exists() && log_dir.join("stats.log").exists()
    });
    wait_for("the reopen to be logged", || {
        fs::read_to_string(&root)
            .unwrap_or_default()
            .contains("SIGHUP handler: log files reopened")
    });

    raise(libc::SIGTERM);
    done.recv_timeout(Duration::from_secs(10))
        .expect("run() returned after SIGTERM");
    thread
        .join()
        .expect("server thread")
        .expect("run succeeded");
    let text = fs::read_to_string(&root).expect("root.log");
    assert!(text.contains("SIGTERM handler: shutting down"), "{text}");
}
