//! The cases by name, with their sizes and the limits each node runs with: [`Sizes::ci`] for the
//! bounded tests, [`Sizes::full`] for `scripts/hostile.sh` (the sizes). Each case
//! starts a node of its own, so the limits can differ per case (a short request timeout for
//! slowloris, an idle timeout for the idle flood, none of them cutting the held arrays).

use super::{attacks, mutate, run_case, Limits, Report, Target};
use std::time::Duration;

const MIB: u64 = 1024 * 1024;

/// How big each case is.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Connections opened against the limit...
    pub conn_flood: usize,
    /// ...which is this.
    pub connection_limit: usize,
    pub slowloris: usize,
    /// A byte per this on each slow connection.
    pub slow_interval: Duration,
    /// The request timeout of the slowloris case.
    pub slow_timeout_ms: u64,
    pub idle: usize,
    pub idle_timeout_s: u64,
    pub streams: usize,
    pub frames: usize,
    pub held: usize,
    pub held_len: u64,
    /// Bytes of the array each held connection sends (at most `held_len - 1`).
    pub held_part: u64,
    pub input_buffer_limit: u64,
    /// Control requests before, and at least as many during, each attack.
    pub samples: usize,
    pub seed: u64,
}

impl Sizes {
    /// Small enough for CI: about 1-2 s a case against a debug build.
    pub fn ci() -> Sizes {
        Sizes {
            conn_flood: 2000,
            connection_limit: 500,
            slowloris: 20,
            slow_interval: Duration::from_millis(100),
            slow_timeout_ms: 1000,
            idle: 200,
            idle_timeout_s: 1,
            streams: 8,
            frames: 8_000,
            held: 50,
            held_len: 10 * MIB - 1,
            held_part: 2 * MIB,
            input_buffer_limit: 64 * MIB,
            samples: 500,
            seed: 13,
        }
    }

    /// The sizes.
    pub fn full() -> Sizes {
        Sizes {
            conn_flood: 10_000,
            connection_limit: 2000,
            slowloris: 200,
            slow_interval: Duration::from_secs(1),
            slow_timeout_ms: 5000,
            idle: 1000,
            idle_timeout_s: 3,
            streams: 50,
            frames: 100_000,
            held: 200,
            held_len: 10 * MIB - 1,
            held_part: 10 * MIB - 2,
            input_buffer_limit: 256 * MIB,
            samples: 2000,
            seed: 13,
        }
    }
}

/// The cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Case {
    ConnFlood,
    Slowloris,
    IdleFlood,
    NeverReading,
    MutatedFrames,
    HeldArrays,
}

impl Case {
    pub const ALL: [Case; 6] = [
        Case::ConnFlood,
        Case::Slowloris,
        Case::IdleFlood,
        Case::NeverReading,
        Case::MutatedFrames,
        Case::HeldArrays,
    ];

    /// The case's name with its size, as the table shows it.
    pub fn label(self, s: &Sizes) -> String {
        match self {
            Case::ConnFlood => format!(
                "conn_flood({}) vs limit {}",
                s.conn_flood, s.connection_limit
            ),
            Case::Slowloris => format!(
                "slowloris({}, {} ms) vs timeout {} ms",
                s.slowloris,
                s.slow_interval.as_millis(),
                s.slow_timeout_ms
            ),
            Case::IdleFlood => format!("idle_flood({}) vs idle {} s", s.idle, s.idle_timeout_s),
            Case::NeverReading => format!("never_reading_stream({})", s.streams),
            Case::MutatedFrames => format!("mutated_frames({}, seed {})", s.frames, s.seed),
            Case::HeldArrays => format!("held_arrays({}, {})", s.held, s.held_len),
        }
    }

    /// The limits the case's node runs with.
    pub fn limits(self, s: &Sizes) -> Limits {
        let mut l = Limits {
            connection_limit: s.connection_limit,
            input_buffer_limit: s.input_buffer_limit,
            request_timeout_ms: 30_000,
            idle_timeout_s: 0,
        };
        match self {
            Case::Slowloris => l.request_timeout_ms = s.slow_timeout_ms,
            Case::IdleFlood => l.idle_timeout_s = s.idle_timeout_s,
            // Cut frames wait for their sender's EOF, not the timeout; short all the same.
            Case::MutatedFrames => l.request_timeout_ms = 2000,
            _ => {}
        }
        l
    }
}

/// Runs `case` at `sizes` against `t`, whose node runs with `case.limits(sizes)`.
pub fn run(case: Case, t: &mut dyn Target, sizes: &Sizes) -> Report {
    let limits = case.limits(sizes);
    let label = case.label(sizes);
    let s = *sizes;
    match case {
        Case::ConnFlood => run_case(t, limits, &label, s.samples, |c| {
            attacks::conn_flood(c, s.conn_flood)
        }),
        Case::Slowloris => {
            let req = t.slow_request();
            run_case(t, limits, &label, s.samples, |c| {
                attacks::slowloris(c, &req, s.slowloris, s.slow_interval)
            })
        }
        Case::IdleFlood => run_case(t, limits, &label, s.samples, |c| {
            attacks::idle_flood(c, s.idle)
        }),
        Case::NeverReading => {
            let req = t.stream_request();
            run_case(t, limits, &label, s.samples, |c| {
                attacks::never_reading(c, &req, s.streams)
            })
        }
        Case::MutatedFrames => {
            let templates = t.templates();
            let bombs: Vec<Vec<u8>> = match t.batch_request(b"") {
                Some(_) => mutate::lzo_bombs()
                    .iter()
                    .filter_map(|b| t.batch_request(b))
                    .collect(),
                None => Vec::new(),
            };
            run_case(t, limits, &label, s.samples, |c| {
                attacks::mutated_frames(c, &templates, &bombs, s.frames, s.seed)
            })
        }
        Case::HeldArrays => {
            let heads: Vec<Vec<u8>> = (0..6).map(|i| t.array_head(i, s.held_len)).collect();
            run_case(t, limits, &label, s.samples, |c| {
                attacks::held_arrays(c, &heads, s.held, s.held_part)
            })
        }
    }
}

/// The control p99 floor of the CI tests: a debug build of the node shares the machine's two
/// cores with the attacking threads, which alone lifts the control client's p99 from about
/// 0.05 ms to 4-9 ms (the release figures of `scripts/hostile.sh` use the 2 ms floor). The
/// bound still catches a loop stalled for tens of milliseconds.
pub const CI_P99_FLOOR: Duration = Duration::from_millis(25);

/// One case at a time per test binary: the control client's latency is only comparable when
/// no other case loads the machine meanwhile. Tests of a hostile binary hold this throughout.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs `case` at [`Sizes::ci`] against the target `start` makes for the case's limits, prints
/// its report line and asserts its bounds ([`super::Bounds::of`] the limits).
pub fn check_ci<T: Target>(case: Case, start: impl FnOnce(&Limits) -> T) -> Report {
    let _one_at_a_time = serial();
    let sizes = Sizes::ci();
    let limits = case.limits(&sizes);
    let mut t = start(&limits);
    let report = run(case, &mut t, &sizes);
    eprintln!("{report}");
    report.check(&super::Bounds::of(&limits).with_p99_floor(CI_P99_FLOOR));
    report
}
