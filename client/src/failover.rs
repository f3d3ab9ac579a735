//! Each node's health and the round-robin loop of the requests that go to one node and move
//! on to the next when it cannot take them: queue Push, Pop and PushMulti, logfiles Put and
//! PutBatch.
//!
//! A node whose connection failed (refused, reset, EOF, protocol violation) is marked down and
//! skipped until its next attempt is due; each failure doubles the wait, from
//! `reconnect_backoff_start` up to `reconnect_backoff_max`, and any answer from the node resets
//! it. So a node that is restarting costs one failed connect per backoff period, not one per
//! request, and is used again within `reconnect_backoff_max` of coming back.
//!
//! [`failover`] tries the nodes once each, from a round-robin start, until one attempt is done.
//! When a round ends without any node answering (all down or unreachable), it waits for the
//! first node whose attempt is due and goes round again, until `reconnect_timeout`: a single
//! node restarting behind the client, or all of them, is waited for as the dht client waits.
//! When some node did answer (full, empty), the round's failures are the result.
//!
//! Which statuses move on to the next node is the protocol's call ([`Attempt::from_error`]): a
//! full queue channel (407) does, a logfiles value too big (407) would fail on every node and
//! does not.

use crate::config::ClientConfig;
use crate::error::{ClientError, Command, NodeFailure};
use crate::pool::NodePool;
use std::sync::{Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};
use swarm_protocol::Status;

/// One node: its connection pool and whether it is believed down.
#[derive(Debug)]
pub(crate) struct FailoverNode {
    pub(crate) pool: NodePool,
    health: Mutex<Health>,
}

impl FailoverNode {
    pub(crate) fn new(pool: NodePool) -> Self {
        FailoverNode {
            pool,
            health: Mutex::new(Health::default()),
        }
    }

    /// When the node may be tried again; `None` when it is not down.
    pub(crate) fn down_until(&self) -> Option<Instant> {
        self.health().down_until
    }

    /// The node answered: it is up, and its backoff starts over.
    pub(crate) fn mark_up(&self) {
        self.health().mark_up();
    }

    /// The node failed: skip it for the current delay, then double the delay.
    pub(crate) fn mark_down(&self) {
        let delay = self.health().mark_down(self.pool.config());
        log::debug!("{}: down, next attempt in {delay:?}", self.pool.addr());
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        // A panic while holding the lock cannot leave two plain fields inconsistent.
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether a node (or one stream to it) is down, and for how long the next failure makes it
/// wait. Shared by the request loop, the queue's Producer streams and Consumer readers, and the
/// logfiles readers.
#[derive(Debug, Default)]
pub(crate) struct Health {
    /// Not to be tried before this instant (set after a failure).
    pub(crate) down_until: Option<Instant>,
    /// The wait after the next failure.
    delay: Duration,
}

impl Health {
    /// Whether the node may be tried now.
    pub(crate) fn is_due(&self, now: Instant) -> bool {
        self.down_until.is_none_or(|t| t <= now)
    }

    pub(crate) fn mark_up(&mut self) {
        self.down_until = None;
        self.delay = Duration::ZERO;
    }

    /// Marks the node down for the current delay (returned) and doubles the delay.
    pub(crate) fn mark_down(&mut self, config: &ClientConfig) -> Duration {
        let delay = if self.delay.is_zero() {
            config.reconnect_backoff_start
        } else {
            self.delay
        };
        self.down_until = Some(Instant::now() + delay);
        self.delay = (delay * 2).min(config.reconnect_backoff_max);
        delay
    }
}

/// What one attempt on one node came to.
#[derive(Debug)]
pub(crate) enum Attempt<T> {
    /// Done: the call returns this.
    Done(T),
    /// This node could not do it; try the next one.
    Next(NodeFailure),
    /// Stop here with this error (retrying elsewhere cannot help, or could duplicate a record).
    Stop(ClientError),
}

impl<T> Attempt<T> {
    /// The attempt for a request's error: a status in `next_on`, a lost or refused connection
    /// and a protocol violation move on to the next node (nothing was stored on this one, or
    /// the node died with it); any other status would be the same on every node and stops.
    /// Queue requests move on for OutOfMemory (the channel is full there) and Error; logfiles
    /// requests for Error only.
    pub(crate) fn from_error(e: ClientError, next_on: &[Status]) -> Attempt<T> {
        match e {
            ClientError::Status { status, .. } if next_on.contains(&status) => {
                Attempt::Next(NodeFailure::Status(status))
            }
            ClientError::Io { source, .. } => Attempt::Next(NodeFailure::Io(source)),
            ClientError::Protocol { error, .. } => Attempt::Next(NodeFailure::Protocol(error)),
            other => Attempt::Stop(other),
        }
    }
}

/// Runs `attempt` on the nodes in turn from `start` (see the module doc). A node failing with
/// an I/O or protocol error is marked down, any other outcome marks it up. Returns the first
/// `Done` value, the first `Stop` error, or [`ClientError::AllNodesFailed`] with what each node
/// of the last round did.
pub(crate) fn failover<T>(
    nodes: &[FailoverNode],
    start: usize,
    command: impl Into<Command>,
    config: &ClientConfig,
    mut attempt: impl FnMut(&FailoverNode) -> Attempt<T>,
) -> Result<T, ClientError> {
    let command = command.into();
    let deadline = Instant::now() + config.reconnect_timeout;
    loop {
        let mut failures = Vec::with_capacity(nodes.len());
        let mut answered = false;
        for k in 0..nodes.len() {
            let node = &nodes[(start + k) % nodes.len()];
            let addr = node.pool.addr();
            if !node.health().is_due(Instant::now()) {
                failures.push((addr, NodeFailure::Down));
                continue;
            }
            match attempt(node) {
                Attempt::Done(value) => {
                    node.mark_up();
                    return Ok(value);
                }
                Attempt::Next(f @ (NodeFailure::Io(_) | NodeFailure::Protocol(_))) => {
                    log::debug!("{addr}: {} failed: {f}", command.name());
                    node.mark_down();
                    failures.push((addr, f));
                }
                Attempt::Next(f) => {
                    node.mark_up();
                    answered = true;
                    failures.push((addr, f));
                }
                Attempt::Stop(e) => {
                    if e.status().is_some() {
                        node.mark_up();
                    }
                    return Err(e);
                }
            }
        }
        let now = Instant::now();
        if answered || now >= deadline {
            return Err(ClientError::AllNodesFailed { command, failures });
        }
        // Nobody answered: wait for the first node that may be tried again.
        let due = nodes
            .iter()
            .filter_map(FailoverNode::down_until)
            .min()
            .unwrap_or(now)
            .min(deadline);
        thread::sleep(due.saturating_duration_since(now));
    }
}

/// The node table of a client of independent nodes (queue, logfiles): at least one node, none
/// twice, each with its pool and health. No node is contacted.
pub(crate) fn failover_nodes<C: FromIterator<FailoverNode>>(
    nodes: &[std::net::SocketAddr],
    config: &ClientConfig,
    handshake: crate::pool::Handshake,
) -> Result<C, ClientError> {
    if nodes.is_empty() {
        return Err(ClientError::NodeList("no node given".into()));
    }
    for (i, n) in nodes.iter().enumerate() {
        if nodes[..i].contains(n) {
            return Err(ClientError::NodeList(format!("node {n} is listed twice")));
        }
    }
    Ok(nodes
        .iter()
        .map(|&addr| FailoverNode::new(NodePool::with_handshake(addr, config.clone(), handshake)))
        .collect())
}

/// Sends `req` to every node of `nodes` and reads each reply with `read`; the first node that
/// fails (after the reconnect timeout) fails the call. A node that cannot be reached is marked
/// down, one that answered up. The requests about every node (sizes, channels,
/// RemoveChannel) of the queue and logfiles clients.
pub(crate) fn on_all_nodes<T>(
    nodes: &[FailoverNode],
    cmd: impl Into<Command> + Copy,
    req: &[u8],
    mut read: impl FnMut(&mut crate::conn::Conn) -> Result<T, crate::conn::ConnError>,
) -> Result<Vec<(std::net::SocketAddr, T)>, ClientError> {
    nodes
        .iter()
        .map(|node| {
            let value = node.pool.request(cmd, crate::pool::Retry::Yes, |c| {
                c.send(req)?;
                read(c)
            });
            match &value {
                Err(ClientError::Io { .. }) => node.mark_down(),
                _ => node.mark_up(),
            }
            Ok((node.pool.addr(), value?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::Handshake;
    use std::net::SocketAddr;
    use swarm_protocol::queue::QueueCommand;

    fn node(port: u16, config: &ClientConfig) -> FailoverNode {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        FailoverNode::new(NodePool::with_handshake(
            addr,
            config.clone(),
            Handshake::None,
        ))
    }

    fn config() -> ClientConfig {
        ClientConfig::default()
            .with_reconnect_backoff_start(Duration::from_millis(1))
            .with_reconnect_backoff_max(Duration::from_millis(4))
            .with_reconnect_timeout(Duration::from_millis(200))
    }

    #[test]
    fn backoff_doubles_to_the_max_and_an_answer_resets_it() {
        let config = config();
        let n = node(1, &config);
        assert_eq!(n.down_until(), None);
        for next_delay in [2, 4, 4, 4] {
            n.mark_down();
            assert_eq!(n.health().delay, Duration::from_millis(next_delay));
        }
        assert!(n.down_until().is_some());
        n.mark_up();
        assert_eq!(n.down_until(), None);
        assert_eq!(n.health().delay, Duration::ZERO);
    }

    #[test]
    fn rounds_start_at_the_given_node_and_stop_on_the_first_done() {
        let config = config();
        let nodes: Vec<_> = (1..=3).map(|p| node(p, &config)).collect();
        let mut tried = Vec::new();
        let got = failover(&nodes, 4, QueueCommand::Push, &config, |n| {
            tried.push(n.pool.addr().port());
            if n.pool.addr().port() == 3 {
                Attempt::Done(7)
            } else {
                Attempt::Next(NodeFailure::Status(Status::OutOfMemory))
            }
        });
        assert_eq!(got.unwrap(), 7);
        assert_eq!(tried, [2, 3]);
    }

    #[test]
    fn answers_end_the_call_after_one_round_and_list_every_node() {
        let config = config();
        let nodes: Vec<_> = (1..=2).map(|p| node(p, &config)).collect();
        let mut calls = 0;
        let err = failover::<()>(&nodes, 0, QueueCommand::Pop, &config, |_| {
            calls += 1;
            Attempt::Next(NodeFailure::Empty)
        })
        .unwrap_err();
        assert_eq!(calls, 2);
        let ClientError::AllNodesFailed { failures, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(failures.len(), 2);
        assert_eq!(
            err.to_string(),
            "Pop failed on every node: 127.0.0.1:1 was empty; 127.0.0.1:2 was empty"
        );
    }

    #[test]
    fn nodes_that_never_answer_are_retried_with_backoff_until_the_timeout() {
        let config = config();
        let nodes: Vec<_> = (1..=2).map(|p| node(p, &config)).collect();
        let mut calls = 0;
        let started = Instant::now();
        let err = failover::<()>(&nodes, 0, QueueCommand::Push, &config, |_| {
            calls += 1;
            Attempt::Next(NodeFailure::Io(
                std::io::ErrorKind::ConnectionRefused.into(),
            ))
        })
        .unwrap_err();
        assert!(started.elapsed() >= config.reconnect_timeout);
        // 200 ms at most 4 ms apart: many rounds, but far fewer than a busy loop would make.
        assert!((10..=400).contains(&calls), "{calls} attempts");
        assert!(matches!(err, ClientError::AllNodesFailed { .. }));
    }

    #[test]
    fn a_down_node_is_skipped_until_due() {
        let config = config().with_reconnect_backoff_start(Duration::from_secs(60));
        let nodes: Vec<_> = (1..=2).map(|p| node(p, &config)).collect();
        nodes[0].mark_down();
        let mut tried = Vec::new();
        let err = failover::<()>(&nodes, 0, QueueCommand::Push, &config, |n| {
            tried.push(n.pool.addr().port());
            Attempt::Next(NodeFailure::Status(Status::OutOfMemory))
        })
        .unwrap_err();
        assert_eq!(tried, [2]);
        assert!(
            err.to_string().contains("127.0.0.1:1 skipped (down"),
            "{err}"
        );
    }
}
