//! `tcmcli`: inspect and repair `.tcm` channel dumps (as the original's dhtnode-utils tool).
//! `tcmcli -r FILE` prints every record as a `hexkey:base64(value)` line; `tcmcli -w FILE`
//! builds a `.tcm` from such lines on stdin (temp file, fsync, rename, fsync the directory).
//! Reading a torn file prints every record before the tear, then fails: the way to salvage
//! one is `tcmcli -r ch.tcm.torn-... > lines && tcmcli -w ch.tcm < lines`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::{Parser, Subcommand};
use std::fs::File;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use swarm_protocol::tcm::{parse_dump_key, TcmReader, TcmWriter};
use swarm_protocol::{format_key, parse_key};

/// Reads and writes dht `.tcm` dump files as `hexkey:base64(value)` lines.
#[derive(Debug, Parser)]
#[command(
    name = "tcmcli",
    version,
    about = "Reads and writes dht .tcm channel dump files as hexkey:base64(value) lines",
    long_about = "Reads and writes dht .tcm channel dump files (the dht node's and dhtdump's \
                  <channel>.tcm) as one hexkey:base64(value) line per record.\n\n\
                  tcmcli -r ch.tcm > lines prints every record; a torn file prints every \
                  record before the tear, then fails. tcmcli -w ch.tcm < lines writes a file \
                  from such lines (temp file, fsync, rename). Together they salvage a torn \
                  dump: tcmcli -r ch.tcm.torn > lines && tcmcli -w ch.tcm < lines.",
    args_conflicts_with_subcommands = true
)]
struct Args {
    /// Print the records of FILE to stdout.
    #[arg(short, long, value_name = "FILE", conflicts_with = "write")]
    read: Option<PathBuf>,
    /// Write FILE from the lines on stdin (replacing it atomically).
    #[arg(short, long, value_name = "FILE")]
    write: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the records of FILE to stdout (same as -r).
    Read { file: PathBuf },
    /// Write FILE from the lines on stdin (same as -w).
    Write { file: PathBuf },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match (args.read, args.write, args.command) {
        (Some(f), _, _) | (_, _, Some(Command::Read { file: f })) => read(&f),
        (_, Some(f), _) | (_, _, Some(Command::Write { file: f })) => write(&f),
        _ => Err("give -r FILE or -w FILE (see --help)".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tcmcli: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `-r`: records to stdout. Invalid keys are reported on stderr and skipped.
fn read(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let file = File::open(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut reader = TcmReader::new(file).map_err(|e| format!("{shown}: {e}"))?;
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut line = Vec::new();
    let mut skipped = 0u64;
    loop {
        let n = reader.records_read() + 1;
        let rec = match reader.next_record() {
            Ok(Some(rec)) => rec,
            Ok(None) => break,
            Err(e) => {
                let _ = out.flush();
                return Err(format!("{shown}: {e} (after {} records)", n - 1));
            }
        };
        let Some(key) = parse_dump_key(rec.key) else {
            eprintln!(
                "tcmcli: {shown}: record {n}: invalid key {:?}, skipped",
                String::from_utf8_lossy(rec.key)
            );
            skipped += 1;
            continue;
        };
        line.clear();
        line.extend_from_slice(&format_key(key));
        line.push(b':');
        line.extend_from_slice(STANDARD.encode(rec.value).as_bytes());
        line.push(b'\n');
        if let Err(e) = out.write_all(&line) {
            return stdout_error(e);
        }
    }
    if let Err(e) = out.flush() {
        return stdout_error(e);
    }
    if skipped > 0 {
        eprintln!("tcmcli: {shown}: {skipped} records with invalid keys skipped");
    }
    Ok(())
}

/// A closed stdout (`tcmcli -r f | head`) ends the output quietly.
fn stdout_error(e: io::Error) -> Result<(), String> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(format!("stdout: {e}"))
    }
}

/// One `hexkey:base64(value)` line.
fn parse_line(line: &str) -> Result<(u64, Vec<u8>), String> {
    let (hex, b64) = line
        .split_once(':')
        .ok_or("expected hexkey:base64(value)")?;
    let key = parse_key(hex.as_bytes())
        .map_err(|_| format!("bad key {hex:?}: expected 16 hex digits"))?;
    let value = STANDARD
        .decode(b64.trim_end())
        .map_err(|e| format!("bad base64 value: {e}"))?;
    Ok((key, value))
}

/// `-w`: lines from stdin to a new file, renamed over `path` only when every line was good.
fn write(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let temp = tempfile::Builder::new()
        .prefix(".tcmcli.")
        .tempfile_in(&dir)
        .map_err(|e| format!("cannot create a temp file in {}: {e}", dir.display()))?;
    let (file, temp_path) = temp.into_parts();
    let io_err = |e: io::Error| format!("{}: {e}", temp_path.display());
    let mut w = TcmWriter::new(BufWriter::with_capacity(1 << 20, file)).map_err(io_err)?;
    for (i, line) in io::stdin().lock().lines().enumerate() {
        let line = line.map_err(|e| format!("stdin: {e}"))?;
        if line.trim().is_empty() {
            continue;
        }
        let (key, value) = parse_line(&line).map_err(|e| format!("line {}: {e}", i + 1))?;
        w.write_record(key, &value).map_err(io_err)?;
    }
    let records = w.records();
    let (buffered, bytes) = w.finish().map_err(io_err)?;
    let file = buffered.into_inner().map_err(|e| io_err(e.into_error()))?;
    file.sync_all().map_err(io_err)?;
    temp_path
        .persist(path)
        .map_err(|e| format!("cannot rename to {shown}: {}", e.error))?;
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| format!("cannot fsync {}: {e}", dir.display()))?;
    eprintln!("tcmcli: wrote {records} records ({bytes} bytes) to {shown}");
    Ok(())
}
