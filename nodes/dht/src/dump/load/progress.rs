//! Load progress: `<channel>: NN%` by bytes read, about once a second, on the console (stderr,
//! redrawn in place, only when it is a terminal) and at trace level in root.log, as the
//! original's `ProgressManager` did.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

/// How often progress is shown.
const PERIOD: Duration = Duration::from_secs(1);

/// Progress of one file being loaded.
#[derive(Debug)]
pub(super) struct Progress<'a> {
    channel: &'a str,
    total: u64,
    last: Instant,
    console: bool,
    drawn: bool,
}

impl<'a> Progress<'a> {
    /// Progress over a file of `total` bytes.
    pub(super) fn new(channel: &'a str, total: u64) -> Self {
        Progress {
            channel,
            total,
            last: Instant::now(),
            console: std::io::stderr().is_terminal(),
            drawn: false,
        }
    }

    /// `done` bytes were read; shows the percentage if a second has passed.
    pub(super) fn update(&mut self, done: u64) {
        if self.last.elapsed() < PERIOD {
            return;
        }
        self.last = Instant::now();
        let pct = done.saturating_mul(100) / self.total.max(1);
        log::trace!("{}: {pct}%", self.channel);
        if self.console {
            let mut err = std::io::stderr().lock();
            // The console line is a courtesy: a closed stderr must not stop the load.
            let _ = write!(err, "\r{}: {pct}%\x1b[K", self.channel);
            let _ = err.flush();
            self.drawn = true;
        }
    }

    /// Clears the console line if progress was drawn.
    pub(super) fn finish(&mut self) {
        if self.drawn {
            let _ = write!(std::io::stderr().lock(), "\r\x1b[K");
            self.drawn = false;
        }
    }
}
