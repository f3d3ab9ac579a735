//! One dump cycle, as the original's `DumpCycle.cycle`: GetChannels, note the channels that
//! disappeared since the previous cycle (logged, their files left alone), then dump every
//! channel in turn. A failed channel does not stop the cycle, but the cycle counts as failed.

use crate::channel::{ChannelError, Dumper};
use std::time::{Duration, Instant};

/// What a cycle did.
#[derive(Debug, Default)]
pub struct CycleReport {
    /// The channels the node listed.
    pub channels: usize,
    /// Channels that were not dumped because of an error.
    pub failed: Vec<String>,
    /// Channels removed on the node while they were dumped (not written, not a failure).
    pub removed: Vec<String>,
    /// Why GetChannels failed, if it did (then nothing was dumped).
    pub list_error: Option<String>,
    /// Records written in committed files.
    pub records: u64,
    /// Their bytes (stats measure).
    pub bytes: u64,
    /// A stop was asked for; the cycle was cut short.
    pub stopped: bool,
    /// Duration of the cycle.
    pub took: Duration,
}

impl CycleReport {
    /// Whether every channel was dumped.
    pub fn ok(&self) -> bool {
        self.list_error.is_none() && self.failed.is_empty() && !self.stopped
    }

    /// What went wrong, for log lines and error messages (empty when [`CycleReport::ok`]).
    pub fn problem(&self) -> String {
        if let Some(e) = &self.list_error {
            format!("GetChannels failed: {e}")
        } else if !self.failed.is_empty() {
            format!(
                "{} of {} channels failed ({})",
                self.failed.len(),
                self.channels,
                self.failed.join(", ")
            )
        } else if self.stopped {
            "stopped".to_owned()
        } else {
            String::new()
        }
    }
}

/// Runs cycles, remembering the channel list between them.
#[derive(Debug, Default)]
pub struct Cycles {
    previous: Option<Vec<String>>,
}

impl Cycles {
    /// Runs one cycle.
    pub fn run(&mut self, d: &Dumper<'_>) -> CycleReport {
        let started = Instant::now();
        let mut report = CycleReport::default();
        log::info!("Getting list of channels");
        let channels = match d.client.get_channels() {
            Ok(c) => c,
            Err(e) => {
                log::error!("DhtClient error during GetChannels: {e}");
                report.list_error = Some(e.to_string());
                report.stopped = d.stop.is_set();
                report.took = started.elapsed();
                return report;
            }
        };
        log::info!("Got list of channels: [{}]", channels.join(", "));
        self.note_removed(&channels, d);
        report.channels = channels.len();
        log::info!("Dumping {} channels", channels.len());
        for channel in &channels {
            if d.stop.is_set() {
                report.stopped = true;
                break;
            }
            if !dump_one(d, channel, &mut report) {
                break;
            }
        }
        report.took = started.elapsed();
        // A stop during the last channel or GetChannels shows as their failure: not a failed
        // cycle to retry, the process is ending.
        report.stopped |= d.stop.is_set();
        if !report.stopped {
            d.stats.cycle_done(report.took);
        }
        let mut channels = channels;
        channels.retain(|c| !report.removed.contains(c));
        self.previous = Some(channels);
        report
    }

    /// Logs the channels of the previous cycle that the node no longer has.
    fn note_removed(&self, channels: &[String], d: &Dumper<'_>) {
        let Some(previous) = &self.previous else {
            return;
        };
        for old in previous.iter().filter(|c| !channels.contains(c)) {
            log::info!("Detected removed channel '{old}'");
            d.stats.channel_removed(old);
        }
    }
}

/// Dumps one channel into `report`; `false` if the cycle must stop.
fn dump_one(d: &Dumper<'_>, channel: &str, report: &mut CycleReport) -> bool {
    log::info!("Dumping '{channel}'");
    match d.dump_channel(channel) {
        Ok(done) => {
            log::info!(
                "Finished dumping '{channel}', {} records, {} bytes, {:.3}s ({} bytes in {})",
                done.totals.records,
                done.totals.bytes,
                done.took.as_secs_f64(),
                done.file.bytes,
                swarm_dht::dump::dump_path(d.data_dir, channel.as_bytes()).display()
            );
            if done.skipped_empty > 0 {
                log::warn!(
                    "Skipped {} records with an empty value in channel '{channel}'",
                    done.skipped_empty
                );
            }
            d.stats.channel_dumped(channel, done.totals);
            report.records += done.totals.records;
            report.bytes += done.totals.bytes;
            true
        }
        Err(ChannelError::Removed) => {
            log::info!(
                "Detected removed channel '{channel}' during its dump; its partial file was \
                 removed, its earlier files are left alone"
            );
            d.stats.channel_removed(channel);
            report.removed.push(channel.to_owned());
            true
        }
        Err(ChannelError::Stopped) => {
            log::warn!(
                "Dump of channel '{channel}' aborted by the stop; its partial file was removed"
            );
            report.stopped = true;
            false
        }
        Err(e) => {
            log::error!(
                "Dumping channel '{channel}' failed: {e}; its partial file was removed, \
                 the previous dump is kept"
            );
            report.failed.push(channel.to_owned());
            true
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_name_what_failed() {
        let mut r = CycleReport {
            channels: 3,
            ..CycleReport::default()
        };
        assert!(r.ok());
        assert_eq!(r.problem(), "");
        r.failed = vec!["a".into(), "b".into()];
        assert!(!r.ok());
        assert_eq!(r.problem(), "2 of 3 channels failed (a, b)");
        r.list_error = Some("node gone".into());
        assert_eq!(r.problem(), "GetChannels failed: node gone");
    }
}
