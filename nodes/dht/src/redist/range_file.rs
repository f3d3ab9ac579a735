//! Writing a new hash range back to the node's config file, so a restart keeps the range a
//! Redistribute set (the original rewrote `minval`/`maxval` of `etc/config.ini` in place).
//!
//! Only the values of `minval` and `maxval` in `[Server]` change; every other byte of the file
//! (comments, other keys, spacing, line ends) is kept. The file is replaced safely: the new text
//! goes to a temp file beside it, which is fsynced and renamed over the old one, then the
//! directory is fsynced, so a crash leaves the old file or the new one, never half of each.
//! Unlike the original, values of another length than 16 digits are replaced too.

use std::fs;
use std::io;
use std::path::Path;
use swarm_protocol::HashRange;

/// `text` with the `[Server]` `minval` and `maxval` values replaced by `range`'s bounds
/// (`0x` and 16 hex digits). An error names what is missing when either key is not there.
pub fn with_range(text: &str, range: HashRange) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let (mut in_server, mut seen_min, mut seen_max) = (false, false, false);
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim();
        if trimmed.starts_with('[') && trimmed.ends_with(']') {
            in_server = trimmed[1..trimmed.len() - 1].trim() == "Server";
        } else if in_server && !trimmed.starts_with([';', '#']) {
            if let Some(eq) = line.find('=') {
                let key = line[..eq].trim();
                let value = match key {
                    "minval" if !seen_min => Some(range.min),
                    "maxval" if !seen_max => Some(range.max),
                    _ => None,
                };
                if let Some(v) = value {
                    seen_min |= key == "minval";
                    seen_max |= key == "maxval";
                    let rest = &line[eq + 1..];
                    let lead = &rest[..rest.len() - rest.trim_start().len()];
                    let end = &line[line.trim_end().len()..];
                    out.push_str(&line[..=eq]);
                    out.push_str(lead);
                    out.push_str(&format!("0x{v:016x}"));
                    out.push_str(end);
                    continue;
                }
            }
        }
        out.push_str(line);
    }
    match (seen_min, seen_max) {
        (true, true) => Ok(out),
        (false, _) => Err("no [Server] minval line to rewrite".into()),
        (_, false) => Err("no [Server] maxval line to rewrite".into()),
    }
}

/// Rewrites `path` with `range` (see the module doc); the error names the file.
pub fn write_range(path: &Path, range: HashRange) -> io::Result<()> {
    let named = |e: io::Error| io::Error::new(e.kind(), format!("{}: {e}", path.display()));
    let text = fs::read_to_string(path).map_err(named)?;
    let new = with_range(&text, range).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {e}", path.display()),
        )
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.redistribute", std::process::id()));
    // The new file keeps the old one's mode (a config may be readable by the node's group only).
    swarm_core::files::replace(path, &tmp, new.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_two_values() {
        let text =
            "; comment minval = 1\n[Server]\naddress = 1.2.3.4\nminval = 0x0000000000000000\r\n\
                    maxval=ffffffffffffffff\n[Other]\nminval = 5\n";
        let r = HashRange::new(0x10, 0x7fff_ffff_ffff_ffff).unwrap();
        let new = with_range(text, r).unwrap();
        assert_eq!(
            new,
            "; comment minval = 1\n[Server]\naddress = 1.2.3.4\nminval = 0x0000000000000010\r\n\
             maxval=0x7fffffffffffffff\n[Other]\nminval = 5\n"
        );
        let empty = with_range(text, HashRange::EMPTY).unwrap();
        assert!(
            empty.contains("minval = 0xffffffffffffffff")
                && empty.contains("maxval=0x0000000000000000")
        );
    }

    #[test]
    fn missing_keys_are_named() {
        let e = with_range("[Server]\nminval = 0\n", HashRange::FULL).unwrap_err();
        assert!(e.contains("maxval"), "{e}");
        let e = with_range("[Other]\nminval = 0\nmaxval = 1\n", HashRange::FULL).unwrap_err();
        assert!(e.contains("minval"), "{e}");
    }

    #[test]
    fn writes_the_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.ini");
        fs::write(
            &p,
            "[Server]\nminval = 0x0000000000000000\nmaxval = 0xffffffffffffffff\n",
        )
        .unwrap();
        write_range(&p, HashRange::new(1, 2).unwrap()).unwrap();
        assert_eq!(
            fs::read_to_string(&p).unwrap(),
            "[Server]\nminval = 0x0000000000000001\nmaxval = 0x0000000000000002\n"
        );
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let e = write_range(&dir.path().join("nope.ini"), HashRange::FULL).unwrap_err();
        assert!(e.to_string().contains("nope.ini"), "{e}");
    }
}
