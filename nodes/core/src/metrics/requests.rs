//! Requests per command and their latency, measured in the loop's request dispatch.
//!
//! A request is counted when the service takes it from the input
//! (`swarm_node_requests_total`), and its latency observed when its reply is queued
//! (`swarm_node_request_duration_seconds`): from the start of the loop turn in which it was
//! handled (the turn that found it whole in the input) to the end of that turn's handling, or,
//! for a request that goes on (GetAll, Listen, a deferred fsync), to the step that ends it. A
//! request still going on, or cut by a closed connection, is counted but not observed.
//!
//! The dht node handles up to 128 requests per connection per turn: they share one start (the
//! turn's `now`) and one end (a single `Instant::now()` after the batch), so the cost per
//! request is an index into plain integer arrays; nothing is locked or allocated. None of this
//! exists when `http_port` is not set.

use std::time::Instant;

use super::{Exposition, Histogram, Kind};

/// The loop's per-command request figures.
#[derive(Debug)]
pub struct RequestMetrics {
    names: Vec<&'static str>,
    started: Vec<u64>,
    latency: Vec<Histogram>,
    /// Requests of the current batch that are done (all share one latency): the batch's
    /// first command and how many of it, the common case of a batch of one command, and the
    /// others per command.
    first: usize,
    first_n: u64,
    others: Vec<u64>,
    mixed: bool,
}

impl RequestMetrics {
    /// Figures for the commands `names` (a service's [`crate::Service::command_names`]).
    pub fn new(names: Vec<&'static str>) -> RequestMetrics {
        let n = names.len();
        RequestMetrics {
            names,
            started: vec![0; n],
            latency: vec![Histogram::default(); n],
            first: 0,
            first_n: 0,
            others: vec![0; n],
            mixed: false,
        }
    }

    /// A request of command `cmd` was taken from the input.
    #[inline]
    pub fn started(&mut self, cmd: usize) {
        if let Some(n) = self.started.get_mut(cmd) {
            *n += 1;
        }
    }

    /// A request of command `cmd` started in this batch has its reply queued.
    #[inline]
    pub fn done_in_batch(&mut self, cmd: usize) {
        if self.first_n == 0 {
            self.first = cmd;
            self.first_n = 1;
        } else if cmd == self.first {
            self.first_n += 1;
        } else if let Some(n) = self.others.get_mut(cmd) {
            *n += 1;
            self.mixed = true;
        }
    }

    /// The batch that started at `since` is over: its done requests are observed with one
    /// clock reading.
    #[inline]
    pub fn end_batch(&mut self, since: Instant) {
        if self.first_n == 0 {
            return;
        }
        let ns = nanos(since);
        if let Some(h) = self.latency.get_mut(self.first) {
            h.observe_n(ns, self.first_n);
        }
        self.first_n = 0;
        if !std::mem::take(&mut self.mixed) {
            return;
        }
        for (n, h) in self.others.iter_mut().zip(&mut self.latency) {
            if *n > 0 {
                h.observe_n(ns, *n);
                *n = 0;
            }
        }
    }

    /// A request of command `cmd` that went on since `since` has ended.
    pub fn stream_ended(&mut self, cmd: usize, since: Instant) {
        if let Some(h) = self.latency.get_mut(cmd) {
            h.observe_n(nanos(since), 1);
        }
    }

    /// Requests of `cmd` taken so far, and observed so far.
    pub fn counts(&self, cmd: usize) -> (u64, u64) {
        (
            self.started.get(cmd).copied().unwrap_or(0),
            self.latency.get(cmd).map_or(0, Histogram::count),
        )
    }

    /// The two families, one series per command.
    pub fn render(&self, e: &mut Exposition) {
        e.family(
            "swarm_node_requests_total",
            Kind::Counter,
            "Requests taken from client connections, per command.",
        );
        for (name, n) in self.names.iter().zip(&self.started) {
            e.sample("swarm_node_requests_total", &[("command", name)], n);
        }
        e.family(
            "swarm_node_request_duration_seconds",
            Kind::Histogram,
            "Time from a request being whole in the input to its reply queued (streaming \
             requests: to their end), per command.",
        );
        for (name, h) in self.names.iter().zip(&self.latency) {
            e.histogram(
                "swarm_node_request_duration_seconds",
                &[("command", name)],
                h,
            );
        }
    }
}

fn nanos(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_share_one_reading_streams_their_own() {
        let mut m = RequestMetrics::new(vec!["Put", "Get", "GetSize"]);
        let t = Instant::now();
        for _ in 0..3 {
            m.started(1);
            m.done_in_batch(1);
        }
        m.started(0);
        m.started(7); // not a command of this service: ignored
        m.end_batch(t);
        m.end_batch(t); // nothing left
        m.stream_ended(0, t);
        assert_eq!(m.counts(1), (3, 3));
        assert_eq!(m.counts(0), (1, 1));
        // A mixed batch: the first command and the others.
        for cmd in [2, 1, 2, 1, 1] {
            m.started(cmd);
            m.done_in_batch(cmd);
        }
        m.end_batch(t);
        assert_eq!((m.counts(1), m.counts(2)), ((6, 6), (2, 2)));
        m.done_in_batch(1);
        m.end_batch(t);
        assert_eq!(m.counts(2), (2, 2), "the others were cleared");
        let mut e = Exposition::new();
        m.render(&mut e);
        let text = e.into_string();
        assert!(text.contains("swarm_node_requests_total{command=\"Get\"} 6\n"));
        assert!(text.contains("swarm_node_request_duration_seconds_count{command=\"Get\"} 7\n"));
        assert_eq!(text.matches("# TYPE").count(), 2);
    }
}
