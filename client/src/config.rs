//! Client settings ([`ClientConfig`]) with their defaults as named consts and a `with_*` setter
//! per field, and the reconnect backoff they drive.

use std::thread;
use std::time::{Duration, Instant};

/// Default time to establish a TCP connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default time one socket read or write may block (the original counts timeouts per I/O
/// operation, not per request).
pub const DEFAULT_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of idle connections kept per node (the original's `connection_limit`).
pub const DEFAULT_MAX_CONNECTIONS_PER_NODE: usize = 5;
/// First reconnect delay (the neo client's `RetryTimer`).
pub const DEFAULT_RECONNECT_BACKOFF_START: Duration = Duration::from_millis(10);
/// Longest reconnect delay.
pub const DEFAULT_RECONNECT_BACKOFF_MAX: Duration = Duration::from_millis(2500);
/// How long a request keeps trying to reach a restarting node.
pub const DEFAULT_RECONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the dht client asks every node for its hash range again.
pub const DEFAULT_RANGE_REFRESH: Duration = Duration::from_secs(10);
/// How long the dht client remembers the previous owners of keys after a range change.
pub const DEFAULT_MOVED_KEY_WINDOW: Duration = Duration::from_secs(600);

/// How the client connects, times out and reconnects.
///
/// `#[non_exhaustive]`, so that a new setting is not a breaking change: outside this crate start
/// from [`ClientConfig::default`] and change fields with the `with_*` setters (or assign the
/// public fields of a value you own).
///
/// ```
/// use std::time::Duration;
/// use swarm_client::ClientConfig;
/// let config = ClientConfig::default()
///     .with_io_timeout(Some(Duration::from_secs(3)))
///     .with_require_full_coverage(false);
/// assert_eq!(config.io_timeout, Some(Duration::from_secs(3)));
/// ```
///
/// A struct literal, even with `..Default::default()`, does not compile outside the crate:
///
/// ```compile_fail,E0639
/// use swarm_client::ClientConfig;
/// let config = ClientConfig {
///     require_full_coverage: false,
///     ..ClientConfig::default()
/// };
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Time to establish one TCP connection.
    pub connect_timeout: Duration,
    /// Time one socket read or write may block; `None` blocks forever.
    pub io_timeout: Option<Duration>,
    /// Idle connections kept per node for reuse.
    pub max_connections_per_node: usize,
    /// First delay between reconnect attempts; doubles after each failure.
    pub reconnect_backoff_start: Duration,
    /// Longest delay between reconnect attempts.
    pub reconnect_backoff_max: Duration,
    /// How long a request keeps reconnecting to a node that went away before it fails.
    pub reconnect_timeout: Duration,
    /// Whether gaps or overlaps in the nodes' hash ranges, or an unreachable node, make
    /// [`crate::DhtClient::connect`] fail. Tools that work on whatever is there (dhtdump) set it
    /// to `false` and read [`crate::HandshakeReport`] instead.
    pub require_full_coverage: bool,
    /// How often the dht client re-reads every node's hash range (GetResponsibleRange), checked
    /// lazily when a request starts; `None` or zero disables it. A WrongNode answer to a write
    /// refreshes at once either way.
    pub range_refresh: Option<Duration>,
    /// How long the dht client keeps the routing a refresh replaced, so that a Get or Exists
    /// that misses at a key's new owner also asks its previous owners (a Redistribute moves
    /// records after it changes the ranges).
    pub moved_key_window: Duration,
    /// Whether a dht Get or Exists that misses asks the node for its range (one more round trip,
    /// on misses only) and, if the node no longer owns the key, refreshes and asks the new
    /// owner. Without it a client whose table is stale may report a moved record as missing
    /// until its next refresh.
    pub verify_misses: bool,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            io_timeout: Some(DEFAULT_IO_TIMEOUT),
            max_connections_per_node: DEFAULT_MAX_CONNECTIONS_PER_NODE,
            reconnect_backoff_start: DEFAULT_RECONNECT_BACKOFF_START,
            reconnect_backoff_max: DEFAULT_RECONNECT_BACKOFF_MAX,
            reconnect_timeout: DEFAULT_RECONNECT_TIMEOUT,
            require_full_coverage: true,
            range_refresh: Some(DEFAULT_RANGE_REFRESH),
            moved_key_window: DEFAULT_MOVED_KEY_WINDOW,
            verify_misses: true,
        }
    }
}

impl ClientConfig {
    /// Sets [`ClientConfig::connect_timeout`].
    #[must_use]
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::io_timeout`] (`None` blocks forever).
    #[must_use]
    pub fn with_io_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.io_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::max_connections_per_node`].
    #[must_use]
    pub fn with_max_connections_per_node(mut self, max: usize) -> Self {
        self.max_connections_per_node = max;
        self
    }

    /// Sets [`ClientConfig::reconnect_backoff_start`].
    #[must_use]
    pub fn with_reconnect_backoff_start(mut self, delay: Duration) -> Self {
        self.reconnect_backoff_start = delay;
        self
    }

    /// Sets [`ClientConfig::reconnect_backoff_max`].
    #[must_use]
    pub fn with_reconnect_backoff_max(mut self, delay: Duration) -> Self {
        self.reconnect_backoff_max = delay;
        self
    }

    /// Sets [`ClientConfig::reconnect_timeout`].
    #[must_use]
    pub fn with_reconnect_timeout(mut self, timeout: Duration) -> Self {
        self.reconnect_timeout = timeout;
        self
    }

    /// Sets [`ClientConfig::require_full_coverage`].
    #[must_use]
    pub fn with_require_full_coverage(mut self, require: bool) -> Self {
        self.require_full_coverage = require;
        self
    }

    /// Sets [`ClientConfig::range_refresh`] (`None` or zero disables it).
    #[must_use]
    pub fn with_range_refresh(mut self, every: Option<Duration>) -> Self {
        self.range_refresh = every;
        self
    }

    /// Sets [`ClientConfig::moved_key_window`].
    #[must_use]
    pub fn with_moved_key_window(mut self, window: Duration) -> Self {
        self.moved_key_window = window;
        self
    }

    /// Sets [`ClientConfig::verify_misses`].
    #[must_use]
    pub fn with_verify_misses(mut self, verify: bool) -> Self {
        self.verify_misses = verify;
        self
    }

    /// The periodic range refresh interval, `None` when disabled.
    pub(crate) fn refresh_interval(&self) -> Option<Duration> {
        self.range_refresh.filter(|d| !d.is_zero())
    }
}

/// Exponential backoff between reconnect attempts of one request.
#[derive(Debug)]
pub(crate) struct Backoff {
    next: Duration,
    max: Duration,
}

impl Backoff {
    pub(crate) fn new(config: &ClientConfig) -> Self {
        Backoff {
            next: config.reconnect_backoff_start,
            max: config.reconnect_backoff_max,
        }
    }

    /// Sleeps for the current delay (never past `deadline`) and doubles it. Returns `false`,
    /// without sleeping, when the deadline has passed.
    pub(crate) fn wait(&mut self, deadline: Instant) -> bool {
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        thread::sleep(self.next.min(deadline - now));
        self.next = (self.next * 2).min(self.max);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_original() {
        let c = ClientConfig::default();
        assert_eq!(c.max_connections_per_node, 5);
        assert_eq!(c.reconnect_backoff_start, Duration::from_millis(10));
        assert_eq!(c.reconnect_backoff_max, Duration::from_millis(2500));
        assert_eq!(c.reconnect_timeout, Duration::from_secs(10));
        assert!(c.require_full_coverage);
        assert_eq!(c.range_refresh, Some(Duration::from_secs(10)));
        assert_eq!(c.moved_key_window, Duration::from_secs(600));
        assert!(c.verify_misses);
        assert_eq!(c.refresh_interval(), Some(Duration::from_secs(10)));
        let off = c.clone().with_range_refresh(Some(Duration::ZERO));
        assert_eq!(off.refresh_interval(), None);
        assert_eq!(c.with_range_refresh(None).refresh_interval(), None);
    }

    #[test]
    fn every_setter_sets_its_own_field() {
        let ms = Duration::from_millis;
        let c = ClientConfig::default()
            .with_connect_timeout(ms(1))
            .with_io_timeout(None)
            .with_max_connections_per_node(7)
            .with_reconnect_backoff_start(ms(2))
            .with_reconnect_backoff_max(ms(3))
            .with_reconnect_timeout(ms(4))
            .with_require_full_coverage(false)
            .with_range_refresh(Some(ms(5)))
            .with_moved_key_window(ms(6))
            .with_verify_misses(false);
        let want = ClientConfig {
            connect_timeout: ms(1),
            io_timeout: None,
            max_connections_per_node: 7,
            reconnect_backoff_start: ms(2),
            reconnect_backoff_max: ms(3),
            reconnect_timeout: ms(4),
            require_full_coverage: false,
            range_refresh: Some(ms(5)),
            moved_key_window: ms(6),
            verify_misses: false,
        };
        assert_eq!(c, want);
        let only_io = ClientConfig::default().with_io_timeout(Some(ms(5)));
        assert_eq!(only_io.io_timeout, Some(ms(5)));
        assert_eq!(
            ClientConfig {
                io_timeout: Some(DEFAULT_IO_TIMEOUT),
                ..only_io
            },
            ClientConfig::default()
        );
    }

    #[test]
    fn backoff_doubles_up_to_the_max_and_stops_at_the_deadline() {
        let config = ClientConfig {
            reconnect_backoff_start: Duration::from_millis(1),
            reconnect_backoff_max: Duration::from_millis(3),
            ..ClientConfig::default()
        };
        let mut b = Backoff::new(&config);
        let far = Instant::now() + Duration::from_secs(5);
        assert!(b.wait(far));
        assert_eq!(b.next, Duration::from_millis(2));
        assert!(b.wait(far));
        assert!(b.wait(far));
        assert_eq!(b.next, Duration::from_millis(3));
        assert!(!b.wait(Instant::now()));
    }
}
