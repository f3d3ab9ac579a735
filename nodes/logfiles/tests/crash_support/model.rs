//! What the node must give back after a crash, and the check of what it did give: every record
//! returned intact (its checksum), sent by the client to that channel under that key, at most
//! once, buckets in order and each bucket in arrival order; every record the durability rule
//! covers there; and nothing that a restart already returned lost by a later crash.

use super::ingest::{parse_value, Origin, Sent, CHANNELS};
use std::collections::{HashMap, HashSet};
use swarm_testkit::logfiles::Record;

/// Every record sent so far, and which of them must survive.
#[derive(Debug, Default)]
pub struct Model {
    sent: HashMap<Vec<u8>, Origin>,
    required: HashSet<Origin>,
    /// Returned right after the last restart: on disk, below any checkpoint a recovery cuts
    /// to, so a later kill -9 must keep them too.
    seen: HashSet<Origin>,
}

/// Counts of one check, for the test's output.
#[derive(Debug, Default)]
pub struct Checked {
    pub returned: usize,
    pub required: usize,
}

impl Model {
    /// Notes records as sent (a returned record must be one of them).
    pub fn sent(&mut self, sent: &[Sent]) {
        for s in sent {
            assert!(self.sent.insert(s.value.clone(), s.origin).is_none());
        }
    }

    /// Of records noted as sent, those acknowledged before `covered_before_us` (µs since the
    /// epoch) must survive from now on.
    pub fn require(&mut self, sent: &[Sent], covered_before_us: u64) {
        let acked = sent
            .iter()
            .filter(|s| s.ack_us.is_some_and(|t| t < covered_before_us));
        self.required.extend(acked.map(|s| s.origin));
    }

    /// Checks what GetAll returned for every channel (`got[i]` for [`CHANNELS`]`[i]`); `also`
    /// must be returned this time (records just written); `restarted`: this is the first
    /// read after a restart (what it returns must survive later kills).
    pub fn check(
        &mut self,
        got: &[Vec<Record>],
        also: &[Sent],
        restarted: bool,
    ) -> Result<Checked, String> {
        let mut returned = HashSet::new();
        for (channel, records) in got.iter().enumerate() {
            let mut last: Option<(u64, Origin)> = None;
            for (key, value) in records {
                let o = self.origin(channel, *key, value)?;
                let bucket = key >> 12;
                if let Some((b, prev)) = last {
                    if b > bucket || (b == bucket && (prev.run, prev.seq) >= (o.run, o.seq)) {
                        return Err(format!(
                            "{} out of order: {o:?} after {prev:?}",
                            CHANNELS[channel]
                        ));
                    }
                }
                last = Some((bucket, o));
                if !returned.insert(o) {
                    return Err(format!("{o:?} returned twice"));
                }
            }
        }
        let also: HashSet<Origin> = also.iter().map(|s| s.origin).collect();
        let musts = [
            ("acknowledged and covered", &self.required),
            ("returned after an earlier restart", &self.seen),
            ("just written", &also),
        ];
        for (what, set) in musts {
            let mut missing: Vec<_> = set.difference(&returned).collect();
            missing.sort();
            if let Some(first) = missing.first() {
                return Err(format!(
                    "{} records {what} are lost, the first {first:?}",
                    missing.len()
                ));
            }
        }
        if restarted {
            self.seen = returned.clone();
        }
        Ok(Checked {
            returned: returned.len(),
            required: self.required.len(),
        })
    }

    /// The origin of a returned record, checked against what was sent.
    fn origin(&self, channel: usize, key: u64, value: &[u8]) -> Result<Origin, String> {
        let shown = || String::from_utf8_lossy(value).into_owned();
        let o = parse_value(value)
            .ok_or_else(|| format!("corrupt record under key {key:016x}: {:?}", shown()))?;
        match self.sent.get(value) {
            None => Err(format!("{o:?} was never sent: {:?}", shown())),
            Some(s) if s.channel != channel || s.key != key => Err(format!(
                "{o:?} came back from {} under key {key:016x}",
                CHANNELS[channel]
            )),
            Some(_) => Ok(o),
        }
    }
}
