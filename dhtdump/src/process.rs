//! The dump process on its thread: connect to the node (retrying every 2 s, or once in oneshot
//! mode), then either one cycle (`--oneshot`) or the original's schedule: a random first wait in
//! `[0, period)`, then cycles `period` apart (at least `min_wait` between them), `retry_wait`
//! after a failed one.

use crate::channel::{ActiveTemp, Dumper};
use crate::config::DumpConfig;
use crate::cycle::{CycleReport, Cycles};
use crate::stats::DumpStats;
use crate::stop::Stop;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use swarm_client::{ClientConfig, DhtClient};
use swarm_core::timestamp::timestamp;

/// Pause between connection attempts at startup (the original's 2 s).
pub const CONNECT_RETRY: Duration = Duration::from_secs(2);
/// How long one request keeps reconnecting to a node that went away before it fails (the
/// cycle then fails and is retried after `retry_wait_s`); short, so a stop is never held up.
pub const RECONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// How a run ended without error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The oneshot dump is complete.
    Done,
    /// A stop was asked for.
    Stopped,
}

/// Why a oneshot run failed.
#[derive(Debug)]
pub enum RunError {
    /// The node could not be reached (or its address not resolved).
    Unreachable(String),
    /// The cycle ran but did not dump every channel.
    DumpFailed(String),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Unreachable(e) => write!(f, "cannot connect to the dht node: {e}"),
            RunError::DumpFailed(e) => write!(f, "the dump failed: {e}"),
        }
    }
}

impl std::error::Error for RunError {}

/// What the dump thread owns and shares with the supervising thread.
#[derive(Debug)]
pub struct DumpProcess {
    /// The configuration.
    pub config: DumpConfig,
    /// stats.log counters.
    pub stats: Arc<DumpStats>,
    /// The temp file being written.
    pub active: Arc<ActiveTemp>,
    /// The stop flag.
    pub stop: Stop,
}

impl DumpProcess {
    /// Runs until done (oneshot), stopped, or failed (oneshot only: the periodic mode logs
    /// failures and carries on).
    pub fn run(&self, oneshot: bool) -> Result<Outcome, RunError> {
        let client = if oneshot {
            connect(&self.config).map_err(RunError::Unreachable)?
        } else {
            match self.connect_retrying() {
                Some(c) => c,
                None => return Ok(Outcome::Stopped),
            }
        };
        let dumper = Dumper {
            client: &client,
            data_dir: &self.config.data_dir,
            stats: &self.stats,
            active: &self.active,
            stop: &self.stop,
        };
        if oneshot {
            let report = Cycles::default().run(&dumper);
            record_outcome(&self.stats, &report);
            log_finished(&report, &self.stats);
            return match (report.stopped, report.ok()) {
                (true, _) => Ok(Outcome::Stopped),
                (false, true) => Ok(Outcome::Done),
                (false, false) => Err(RunError::DumpFailed(report.problem())),
            };
        }
        Ok(self.periodic(&dumper))
    }

    /// The periodic schedule; returns only when stopped.
    fn periodic(&self, dumper: &Dumper<'_>) -> Outcome {
        let first = random_below(self.config.period);
        log::info!(
            "Performing initial dump in {}s (randomized), at {}",
            first.as_secs(),
            timestamp(SystemTime::now() + first)
        );
        if !self.stop.sleep(first) {
            return Outcome::Stopped;
        }
        let mut cycles = Cycles::default();
        loop {
            let report = cycles.run(dumper);
            record_outcome(&self.stats, &report);
            if report.stopped {
                return Outcome::Stopped;
            }
            let wait = self.wait_after(&report);
            if !self.stop.sleep(wait) {
                return Outcome::Stopped;
            }
        }
    }

    /// The wait after a cycle, logged with the time the next cycle starts.
    fn wait_after(&self, report: &CycleReport) -> Duration {
        let c = &self.config;
        let (wait, too_short) = next_wait(c.period, c.min_wait, c.retry_wait, report);
        let at = timestamp(SystemTime::now() + wait);
        if !report.ok() {
            log::warn!(
                "Dump not completed successfully ({}). Retrying in {}s (at {at})",
                report.problem(),
                wait.as_secs()
            );
            return wait;
        }
        if too_short {
            log::warn!(
                "Calculated wait time too short -- either the channel dump took an unusually \
                 long time, or the dump period is set too low in config.ini."
            );
        }
        log_finished(report, &self.stats);
        log::info!(
            "Sleeping for {}s (next cycle scheduled at {at})",
            wait.as_secs()
        );
        wait
    }

    /// Connects, retrying every [`CONNECT_RETRY`]; logs each distinct error once. `None` if
    /// stopped first.
    fn connect_retrying(&self) -> Option<DhtClient> {
        let mut last_error: Option<String> = None;
        loop {
            match connect(&self.config) {
                Ok(client) => return Some(client),
                Err(e) => {
                    if last_error.as_deref() != Some(e.as_str()) {
                        log::error!(
                            "Error during dht handshake: {e}, retrying every {}s",
                            CONNECT_RETRY.as_secs()
                        );
                        last_error = Some(e);
                    }
                }
            }
            if !self.stop.sleep(CONNECT_RETRY) {
                return None;
            }
        }
    }
}

/// Counts a cycle that was not cut by a stop, for `/metrics` and `/health`.
fn record_outcome(stats: &DumpStats, report: &CycleReport) {
    if !report.stopped {
        stats.cycle_outcome((!report.ok()).then(|| report.problem()));
    }
}

/// Logs a complete cycle.
fn log_finished(report: &CycleReport, stats: &DumpStats) {
    if report.ok() {
        log::info!(
            "Finished dumping channels, took {:.3}s, dumped {} records, {} bytes \
             (all channels: {} bytes)",
            report.took.as_secs_f64(),
            report.records,
            report.bytes,
            stats.total_bytes()
        );
    }
}

/// The client settings of dhtdump: one node that need not cover the whole key space.
pub fn client_config() -> ClientConfig {
    ClientConfig::default()
        .with_require_full_coverage(false)
        .with_reconnect_timeout(RECONNECT_TIMEOUT)
        .with_max_connections_per_node(1)
}

/// Resolves `[Dht] address port` (first address) and runs the handshake.
pub fn connect(config: &DumpConfig) -> Result<DhtClient, String> {
    let addr = resolve(&config.address, config.port)?;
    let client = DhtClient::connect(&[addr], client_config()).map_err(|e| e.to_string())?;
    for (node, range) in &client.handshake_report().nodes {
        log::info!(
            "Connected to dht node {node}, responsible for {:016x}..={:016x}",
            range.min,
            range.max
        );
    }
    Ok(client)
}

fn resolve(address: &str, port: u16) -> Result<SocketAddr, String> {
    let mut addrs = (address, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}:{port}: {e}"))?;
    addrs
        .next()
        .ok_or_else(|| format!("{address}:{port} resolves to no address"))
}

/// The wait after a cycle and whether `period − took` fell below `min_wait`: `retry_wait`
/// after a failed cycle, else `period − took`, at least `min_wait`.
pub fn next_wait(
    period: Duration,
    min_wait: Duration,
    retry_wait: Duration,
    report: &CycleReport,
) -> (Duration, bool) {
    if !report.ok() {
        return (retry_wait, false);
    }
    let rest = period.saturating_sub(report.took);
    if rest < min_wait {
        (min_wait, true)
    } else {
        (rest, false)
    }
}

/// A random duration in `[0, limit)` (millisecond steps), to spread the dumps of the
/// instances on a host. `RandomState` is seeded per process by the OS; good enough for that.
pub fn random_below(limit: Duration) -> Duration {
    let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX);
    if ms == 0 {
        return Duration::ZERO;
    }
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    Duration::from_millis(h.finish() % ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn wait_is_the_rest_of_the_period_at_least_min_wait_and_retry_after_failure() {
        let mut r = CycleReport {
            took: s(100),
            ..CycleReport::default()
        };
        assert_eq!(next_wait(s(1000), s(60), s(30), &r), (s(900), false));
        r.took = s(990);
        assert_eq!(next_wait(s(1000), s(60), s(30), &r), (s(60), true));
        r.took = s(5000);
        assert_eq!(next_wait(s(1000), s(60), s(30), &r), (s(60), true));
        r.failed.push("ch".into());
        assert_eq!(next_wait(s(1000), s(60), s(30), &r), (s(30), false));
    }

    #[test]
    fn random_first_wait_stays_below_the_period() {
        for _ in 0..200 {
            assert!(random_below(s(3)) < s(3));
        }
        assert_eq!(random_below(Duration::ZERO), Duration::ZERO);
        let distinct: std::collections::HashSet<_> =
            (0..20).map(|_| random_below(s(3600))).collect();
        assert!(distinct.len() > 1, "not random: {distinct:?}");
    }

    #[test]
    fn an_unresolvable_or_closed_node_is_a_clear_error() {
        let e = resolve("no-such-host.invalid", 1).unwrap_err();
        assert!(e.contains("cannot resolve no-such-host.invalid:1"), "{e}");
        // A port nobody listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(1);
        let config = DumpConfig {
            address: "127.0.0.1".into(),
            port,
            data_dir: ".".into(),
            period: s(1),
            min_wait: s(1),
            retry_wait: s(1),
            disable_direct_io: false,
            log_dir: "log".into(),
            stats_file: "log/stats.log".into(),
            metrics: None,
        };
        let e = connect(&config).err().unwrap_or_default();
        assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    }
}
