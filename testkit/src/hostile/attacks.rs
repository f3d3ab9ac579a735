//! The attacks, each sized by its caller and run inside [`super::run_case`]: they open their
//! connections, call [`Ctx::hold`] while the pressure is on (so the control client measures
//! under it), and return what they counted and which expectation failed.

use super::{Ctx, Outcome};
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Whether the node closed `s` (EOF or reset), without blocking.
fn is_closed(s: &TcpStream) -> bool {
    let mut probe = [0u8; 1];
    if s.set_nonblocking(true).is_err() {
        return true;
    }
    let closed = match (&*s).read(&mut probe) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != ErrorKind::WouldBlock,
    };
    let _ = s.set_nonblocking(false);
    closed
}

fn connect(addr: SocketAddr) -> Option<TcpStream> {
    TcpStream::connect_timeout(&addr, Duration::from_secs(5)).ok()
}

/// `n` connections opened and held, against a `connection_limit` below `n`: the node keeps at
/// most its limit (the control client is one), closing the idlest or the new ones.
pub fn conn_flood(ctx: &Ctx, n: usize) -> Outcome {
    let conns: Vec<TcpStream> = (0..n).filter_map(|_| connect(ctx.addr)).collect();
    thread::sleep(Duration::from_millis(300));
    ctx.hold();
    let held = conns.iter().filter(|s| !is_closed(s)).count();
    let limit = ctx.limits.connection_limit;
    let mut failures = Vec::new();
    if held >= limit {
        failures.push(format!(
            "{held} flood connections held, over the limit {limit} less the control"
        ));
    }
    if n > limit && held == 0 {
        failures.push("no flood connection admitted".to_owned());
    }
    Outcome {
        counters: vec![
            ("opened", conns.len() as u64),
            ("refused", (n - conns.len()) as u64),
            ("held", held as u64),
            ("closed", (conns.len() - held) as u64),
        ],
        failures,
    }
}

/// `n` connections each sending `request` a byte per `interval`: each must be cut between the
/// request timeout and the timeout plus two intervals and a second.
pub fn slowloris(ctx: &Ctx, request: &[u8], n: usize, interval: Duration) -> Outcome {
    let timeout = Duration::from_millis(ctx.limits.request_timeout_ms);
    let mut conns: Vec<(TcpStream, usize, Option<Duration>)> = (0..n)
        .filter_map(|_| connect(ctx.addr))
        .map(|s| (s, 0, None))
        .collect();
    let started = Instant::now();
    let give_up = timeout + interval * 2 + Duration::from_secs(1);
    while conns.iter().any(|c| c.2.is_none()) && started.elapsed() < give_up {
        for (s, sent, cut) in conns.iter_mut().filter(|c| c.2.is_none()) {
            if is_closed(s)
                || (*sent + 1 < request.len() && s.write_all(&request[*sent..=*sent]).is_err())
            {
                *cut = Some(started.elapsed());
            } else {
                *sent = (*sent + 1).min(request.len() - 1);
            }
        }
        thread::sleep(interval);
    }
    let cuts: Vec<Duration> = conns.iter().filter_map(|c| c.2).collect();
    let (first, last) = (cuts.iter().min().copied(), cuts.iter().max().copied());
    let mut failures = Vec::new();
    if cuts.len() < conns.len() {
        failures.push(format!(
            "{} of {} slow connections never cut",
            conns.len() - cuts.len(),
            conns.len()
        ));
    }
    if first.is_some_and(|f| f + Duration::from_millis(50) < timeout) {
        failures.push(format!(
            "a slow connection cut after {first:?}, before the {timeout:?} timeout"
        ));
    }
    let ms = |d: Option<Duration>| d.map_or(0, |d| d.as_millis() as u64);
    Outcome {
        counters: vec![
            ("connections", conns.len() as u64),
            ("cut", cuts.len() as u64),
            ("first_cut_ms", ms(first)),
            ("last_cut_ms", ms(last)),
        ],
        failures,
    }
}

/// `n` connections that send nothing. With an idle timeout, all must be closed within it and
/// two seconds; without one, all are held.
pub fn idle_flood(ctx: &Ctx, n: usize) -> Outcome {
    let conns: Vec<TcpStream> = (0..n).filter_map(|_| connect(ctx.addr)).collect();
    let started = Instant::now();
    let mut failures = Vec::new();
    let closed = match ctx.limits.idle_timeout_s {
        0 => {
            ctx.hold();
            conns.iter().filter(|s| is_closed(s)).count()
        }
        idle => {
            let give_up = Duration::from_secs(idle + 2);
            let mut open: Vec<&TcpStream> = conns.iter().collect();
            while !open.is_empty() && started.elapsed() < give_up {
                thread::sleep(Duration::from_millis(20));
                open.retain(|s| !is_closed(s));
            }
            if !open.is_empty() {
                failures.push(format!(
                    "{} idle connections open after {give_up:?}",
                    open.len()
                ));
            }
            conns.len() - open.len()
        }
    };
    Outcome {
        counters: vec![
            ("opened", conns.len() as u64),
            ("closed", closed as u64),
            ("closed_after_ms", started.elapsed().as_millis() as u64),
        ],
        failures,
    }
}

/// `n` connections sending `request` (a stream larger than the socket buffers) and never
/// reading: the node must stop producing for them, not buffer the stream.
pub fn never_reading(ctx: &Ctx, request: &[u8], n: usize) -> Outcome {
    let mut conns = Vec::new();
    for _ in 0..n {
        if let Some(mut s) = connect(ctx.addr) {
            if s.write_all(request).is_ok() {
                conns.push(s);
            }
        }
    }
    thread::sleep(Duration::from_millis(500)); // the node fills the socket buffers and stops
    ctx.hold();
    let open = conns.iter().filter(|s| !is_closed(s)).count();
    Outcome {
        counters: vec![("streams", conns.len() as u64), ("still_open", open as u64)],
        failures: Vec::new(),
    }
}

/// What became of one mutated frame.
enum Fate {
    Replied,
    Closed,
    Hung,
}

/// Sends `frame` on a new connection, half-closes it and reads to the end: a reply then EOF, or
/// a close, within `wait`.
fn send_one(addr: SocketAddr, frame: &[u8], wait: Duration) -> Fate {
    let Some(mut s) = connect(addr) else {
        return Fate::Closed;
    };
    let _ = s.set_read_timeout(Some(wait));
    if s.write_all(frame).is_err() || s.shutdown(Shutdown::Write).is_err() {
        return Fate::Closed; // closed while we were sending: the node gave up on it
    }
    let (mut got, mut buf) = (0usize, [0u8; 64 * 1024]);
    loop {
        match s.read(&mut buf) {
            Ok(0) => return if got > 0 { Fate::Replied } else { Fate::Closed },
            Ok(n) => got += n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Fate::Hung
            }
            Err(_) => return if got > 0 { Fate::Replied } else { Fate::Closed },
        }
    }
}

/// `n` frames mutated from `templates` (and `bombs`, whole LZO-bomb requests), each on its own
/// connection, four connections at a time: each must get a reply or a close once its sender
/// half-closes, within the request timeout and five seconds.
pub fn mutated_frames(
    ctx: &Ctx,
    templates: &[Vec<u8>],
    bombs: &[Vec<u8>],
    n: usize,
    seed: u64,
) -> Outcome {
    const WORKERS: usize = 4;
    let wait = Duration::from_millis(ctx.limits.request_timeout_ms) + Duration::from_secs(5);
    let shared = Arc::new((templates.to_vec(), bombs.to_vec()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (shared, addr) = (Arc::clone(&shared), ctx.addr);
            thread::spawn(move || {
                let mut rng = super::mutate::Rng::new(seed ^ (w as u64) << 32);
                let mut counts = [0u64; 3];
                for _ in (w..n).step_by(WORKERS) {
                    let t = &shared.0[rng.below(shared.0.len())];
                    let frame = super::mutate::mutate(t, &shared.1, &mut rng);
                    counts[send_one(addr, &frame, wait) as usize] += 1;
                }
                counts
            })
        })
        .collect();
    let mut counts = [0u64; 3];
    for w in workers {
        for (c, x) in counts.iter_mut().zip(w.join().unwrap_or([0, 0, u64::MAX])) {
            *c = c.saturating_add(x);
        }
    }
    let failures = match counts[Fate::Hung as usize] {
        0 => Vec::new(),
        hung => vec![format!(
            "{hung} mutated frames got neither a reply nor a close in {wait:?}"
        )],
    };
    Outcome {
        counters: vec![
            ("frames", n as u64),
            ("replied", counts[Fate::Replied as usize]),
            ("closed", counts[Fate::Closed as usize]),
            ("hung", counts[Fate::Hung as usize]),
        ],
        failures,
    }
}

/// `n` connections each sending one of `heads` (a request announcing an array longer than
/// `part`) and then `part` bytes of it, as far as the node takes them, and stalling.
pub fn held_arrays(ctx: &Ctx, heads: &[Vec<u8>], n: usize, part: u64) -> Outcome {
    let body = Arc::new(vec![b'x'; part as usize]);
    let senders: Vec<_> = (0..n)
        .map(|i| {
            let (head, body, addr) = (heads[i % heads.len()].clone(), Arc::clone(&body), ctx.addr);
            thread::spawn(move || {
                let mut s = connect(addr)?;
                s.set_write_timeout(Some(Duration::from_millis(500))).ok()?;
                s.write_all(&head).ok()?;
                // A connection the node stops reading (over the budget) stops at what the kernel
                // buffers: the write times out, the connection stays.
                let sent = write_some(&mut s, &body);
                Some((s, sent))
            })
        })
        .collect();
    let held: Vec<(TcpStream, u64)> = senders
        .into_iter()
        .filter_map(|h| h.join().ok().flatten())
        .collect();
    ctx.hold();
    let open = held.iter().filter(|(s, _)| !is_closed(s)).count();
    let sent: u64 = held.iter().map(|h| h.1).sum();
    Outcome {
        counters: vec![
            ("connections", held.len() as u64),
            ("still_open", open as u64),
            ("sent_mib", sent >> 20),
        ],
        failures: Vec::new(),
    }
}

/// Writes as much of `body` as goes before an error or the write timeout: the bytes written.
fn write_some(s: &mut TcpStream, body: &[u8]) -> u64 {
    let mut at = 0;
    while at < body.len() {
        match s.write(&body[at..]) {
            Ok(0) | Err(_) => break,
            Ok(n) => at += n,
        }
    }
    at as u64
}
