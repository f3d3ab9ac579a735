//! The sink under every dump file ([`super::file::DumpFile`]): records are copied into large
//! page-aligned buffers, and full buffers are written by a thread of the file's own, with
//! `O_DIRECT` where the filesystem allows it, while the caller fills the next buffer.
//!
//! Why not a `BufWriter<File>`: a buffered write copies every byte a second time, into the page
//! cache, and on this kind of machine (a VM whose fresh memory is slow to touch) that copy was
//! 80 % of a 10 M-record dump's CPU time; the kernel then writes the pages back only at the
//! final fsync, after serializing is done. With `O_DIRECT` the disk reads our buffers as they
//! are, the write of one buffer overlaps the serializing of the next, and a dump no longer
//! pushes the node's working set out of the page cache. The original wrote its dumps with
//! `O_DIRECT` too; that is why a `.tcm` is padded to a multiple of 512 bytes.
//!
//! Every buffer but the last is [`BUFFER_BYTES`] long and starts at a multiple of it in the
//! file, so direct writes are aligned. Whatever the disk refuses (`EINVAL`: a filesystem
//! without `O_DIRECT`, such as tmpfs, or a last block shorter than the device's sector) is
//! written through the page cache instead: the bytes in the file are the same either way, and
//! the commit's fsync covers both. A file that fits one buffer never starts the thread.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Bytes per buffer (a multiple of any sector size).
pub const BUFFER_BYTES: usize = 4 << 20;
/// Buffers a file may use: one being filled, the others queued for or in the write.
const BUFFERS: usize = 3;
/// Buffer address alignment for `O_DIRECT` (a page: enough for any device).
const ALIGN: usize = 4096;

/// Whether dump files are written with `O_DIRECT` (process-wide; dhtdump's
/// `[Dump] disable_direct_io` turns it off).
static DIRECT_IO: AtomicBool = AtomicBool::new(true);

/// Turns `O_DIRECT` on or off for the dump files started after this call (on by default; off,
/// full buffers go through the page cache, still written by the file's own thread).
pub fn set_direct_io(on: bool) {
    DIRECT_IO.store(on, Ordering::Relaxed);
}

/// A [`BUFFER_BYTES`] buffer whose start is [`ALIGN`]-aligned (a plain `Vec` with room to
/// slide; no unsafe allocation).
struct Aligned {
    raw: Vec<u8>,
    start: usize,
}

impl Aligned {
    fn new() -> Self {
        let raw = vec![0u8; BUFFER_BYTES + ALIGN];
        // `align_offset` on a u8 pointer always succeeds; the fallback only keeps it total.
        let start = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        Aligned { raw, start }
    }

    fn bytes(&self) -> &[u8] {
        &self.raw[self.start..self.start + BUFFER_BYTES]
    }

    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.raw[self.start..self.start + BUFFER_BYTES]
    }
}

/// The writing thread and the buffers going to and from it.
struct Flusher {
    to_write: SyncSender<(Aligned, usize)>,
    written: Receiver<Aligned>,
    thread: JoinHandle<io::Result<()>>,
    /// Buffers made so far (at most [`BUFFERS`]).
    made: usize,
}

impl Flusher {
    /// Ends the thread (its queue closed): `Ok` when every buffer was written.
    fn join(self) -> io::Result<()> {
        drop(self.to_write);
        match self.thread.join() {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("the dump's write thread panicked")),
        }
    }
}

/// A write sink over a file: see the module doc. Dropped without [`BlockWriter::into_inner`]
/// (an uncommitted dump, whose file is being deleted), its thread finishes the buffers it was
/// given on its own and ends.
pub struct BlockWriter {
    /// Shared with the thread while it runs.
    file: Arc<File>,
    buf: Aligned,
    len: usize,
    flusher: Option<Flusher>,
    /// Set when the thread could not be started: full buffers are written inline.
    inline: bool,
}

impl std::fmt::Debug for BlockWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockWriter")
            .field("len", &self.len)
            .field("threaded", &self.flusher.is_some())
            .finish()
    }
}

impl BlockWriter {
    /// A sink writing `file` from its current offset (0 for a new file).
    pub fn new(file: File) -> Self {
        BlockWriter {
            file: Arc::new(file),
            buf: Aligned::new(),
            len: 0,
            flusher: None,
            inline: false,
        }
    }

    /// Writes what is buffered, waits for every write, and gives the file back (not synced).
    pub fn into_inner(mut self) -> io::Result<File> {
        self.flush()?;
        let BlockWriter { file, .. } = self;
        Arc::try_unwrap(file).map_err(|_| io::Error::other("the dump file is still shared"))
    }

    /// Hands the buffered bytes to the thread (starting it at the first full buffer), or
    /// writes them inline when there is no thread, and gets an empty buffer.
    fn ship(&mut self) -> io::Result<()> {
        if self.len == 0 {
            return Ok(());
        }
        if self.flusher.is_none() && !self.inline && self.len == BUFFER_BYTES {
            self.start_thread();
        }
        let len = std::mem::take(&mut self.len);
        let Some(f) = self.flusher.as_mut() else {
            return (&*self.file).write_all(&self.buf.bytes()[..len]);
        };
        let next = match f.written.try_recv() {
            Ok(b) => b,
            Err(_) if f.made < BUFFERS => {
                f.made += 1;
                Aligned::new()
            }
            Err(_) => match f.written.recv() {
                Ok(b) => b,
                Err(_) => return Err(self.failed()),
            },
        };
        let full = std::mem::replace(&mut self.buf, next);
        if f.to_write.send((full, len)).is_err() {
            return Err(self.failed());
        }
        Ok(())
    }

    /// The thread stopped on an error: its error.
    fn failed(&mut self) -> io::Error {
        match self.flusher.take().map(Flusher::join) {
            Some(Err(e)) => e,
            _ => io::Error::other("the dump's write thread stopped"),
        }
    }

    fn start_thread(&mut self) {
        let (to_write, queue) = mpsc::sync_channel(BUFFERS - 1);
        let (give_back, written) = mpsc::channel();
        let file = self.file.clone();
        let spawned = std::thread::Builder::new()
            .name("dump-write".into())
            .spawn(move || write_loop(&file, queue, give_back));
        match spawned {
            Ok(thread) => {
                self.flusher = Some(Flusher {
                    to_write,
                    written,
                    thread,
                    made: 1,
                })
            }
            Err(e) => {
                log::warn!("cannot start a dump write thread ({e}); writing inline");
                self.inline = true;
            }
        }
    }
}

impl Write for BlockWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.len == BUFFER_BYTES {
            self.ship()?;
        }
        let n = data.len().min(BUFFER_BYTES - self.len);
        self.buf.bytes_mut()[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = self.write(data)?;
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes everything buffered and waits until it is written (the thread ends; a later
    /// full buffer starts another, and a write at an offset that is no longer aligned goes
    /// through the page cache).
    fn flush(&mut self) -> io::Result<()> {
        self.ship()?;
        match self.flusher.take() {
            Some(f) => f.join(),
            None => Ok(()),
        }
    }
}

/// The thread: writes each buffer in order and gives it back; `Ok`, or the first error (which
/// the filler meets at its next buffer or at the end).
fn write_loop(
    mut file: &File,
    queue: Receiver<(Aligned, usize)>,
    give_back: mpsc::Sender<Aligned>,
) -> io::Result<()> {
    let mut direct = DIRECT_IO.load(Ordering::Relaxed) && set_direct(file, true);
    for (buf, len) in queue {
        let bytes = &buf.bytes()[..len];
        let mut done = 0;
        while done < len {
            match file.write(&bytes[done..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if direct && e.raw_os_error() == Some(libc::EINVAL) => {
                    // Not aligned for this device or filesystem: the page cache takes it.
                    set_direct(file, false);
                    direct = false;
                }
                Err(e) => return Err(e),
            }
        }
        let _ = give_back.send(buf); // the filler may be gone (an error, a drop)
    }
    if direct {
        set_direct(file, false);
    }
    Ok(())
}

/// Turns `O_DIRECT` on or off for `file`; whether it is on afterwards.
fn set_direct(file: &File, on: bool) -> bool {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl with F_GETFL/F_SETFL on a descriptor we own reads and sets its status
    // flags; no memory is passed.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return false;
    }
    let wanted = if on {
        flags | libc::O_DIRECT
    } else {
        flags & !libc::O_DIRECT
    };
    // SAFETY: as above.
    let set = unsafe { libc::fcntl(fd, libc::F_SETFL, wanted) };
    on && set == 0
}

#[cfg(test)]
mod tests;
