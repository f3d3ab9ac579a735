//! What a name in `data_dir` is, by the name alone (the table in the `dump` module doc); the
//! scan in `load` adds what the file system says (directory, regular file).

use super::super::{DUMPING_SUFFIX, RQ_SUFFIX, TORN_SUFFIX};
use swarm_core::lock::DATA_DIR_LOCK;
use swarm_protocol::channel::is_valid_channel_name;

/// The kinds of names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind<'a> {
    /// `<ch>.rq` (`legacy: false`) or `@<ch>.rq` (`legacy: true`), with a valid channel name.
    Dump { channel: &'a [u8], legacy: bool },
    /// `<sub>@<ch>.rq`: an Era C subscriber storage.
    Subscriber,
    /// `<anything else>.rq`.
    BadName,
    /// `<ch>.rq.XXXXXX.dumping`: the temp file of an interrupted dump (`write`).
    Temp,
    /// Another `*.dumping`.
    OtherDumping,
    /// `<name>.rq.torn-<...>`: set aside at an earlier start.
    Torn,
    /// `*.dat` or `*.csv`: the original's disk overflow.
    Overflow,
    /// `node.lock`.
    Lock,
    /// Anything else.
    Other,
}

/// What the file name `name` is.
pub(super) fn kind(name: &[u8]) -> Kind<'_> {
    if name == DATA_DIR_LOCK.as_bytes() {
        return Kind::Lock;
    }
    if let Some(stem) = name.strip_suffix(RQ_SUFFIX.as_bytes()) {
        return dump_kind(stem);
    }
    if is_dump_temp_file(name) {
        Kind::Temp
    } else if name.ends_with(DUMPING_SUFFIX.as_bytes()) {
        Kind::OtherDumping
    } else if is_torn(name) {
        Kind::Torn
    } else if name.ends_with(b".dat") || name.ends_with(b".csv") {
        Kind::Overflow
    } else {
        Kind::Other
    }
}

/// The kind of `<stem>.rq`. A storage name of the original has at most one `@`, not last;
/// `@<ch>` is channel `<ch>`'s legacy-Consume storage.
fn dump_kind(stem: &[u8]) -> Kind<'_> {
    if let Some(channel) = stem.strip_prefix(b"@") {
        return if is_valid_channel_name(channel) {
            Kind::Dump {
                channel,
                legacy: true,
            }
        } else {
            Kind::BadName
        };
    }
    if is_valid_channel_name(stem) {
        return Kind::Dump {
            channel: stem,
            legacy: false,
        };
    }
    match stem.iter().position(|&c| c == b'@') {
        Some(at)
            if is_valid_channel_name(&stem[..at]) && is_valid_channel_name(&stem[at + 1..]) =>
        {
            Kind::Subscriber
        }
        _ => Kind::BadName,
    }
}

/// Whether `name` is `<ch>.rq.XXXXXX.dumping`, as `write` names its temp file (six random
/// alphanumerics): only those are ours to delete.
fn is_dump_temp_file(name: &[u8]) -> bool {
    let Some(rest) = name.strip_suffix(DUMPING_SUFFIX.as_bytes()) else {
        return false;
    };
    let Some((head, random)) = rest.split_last_chunk::<6>() else {
        return false;
    };
    let rq_dot = format!("{RQ_SUFFIX}.");
    random.iter().all(u8::is_ascii_alphanumeric)
        && head
            .strip_suffix(rq_dot.as_bytes())
            .is_some_and(|ch| !ch.is_empty())
}

/// Whether `name` has `.rq.torn-` in it, as a file set aside by `load` does.
fn is_torn(name: &[u8]) -> bool {
    let marker = format!("{RQ_SUFFIX}{TORN_SUFFIX}");
    name.windows(marker.len()).any(|w| w == marker.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(channel: &[u8], legacy: bool) -> Kind<'_> {
        Kind::Dump { channel, legacy }
    }

    #[test]
    fn dump_files() {
        assert_eq!(kind(b"ch2.rq"), dump(b"ch2", false));
        assert_eq!(kind(b"a-b_C9.rq"), dump(b"a-b_C9", false));
        assert_eq!(kind(b"@ch1.rq"), dump(b"ch1", true));
        assert_eq!(kind(b"sub1@ch1.rq"), Kind::Subscriber);
        for bad in [
            &b".rq"[..],
            b"@.rq",
            b"ch@.rq",
            b"@@ch.rq",
            b"a@b@c.rq",
            b"a.b.rq",
            b"caf\xc3\xa9.rq",
            b"ch2.rq.rq",
        ] {
            assert_eq!(kind(bad), Kind::BadName, "{}", String::from_utf8_lossy(bad));
        }
        let long = [b'a'; 231];
        assert_eq!(kind(&[&long[..], b".rq"].concat()), Kind::BadName);
    }

    #[test]
    fn other_files() {
        assert_eq!(kind(b"node.lock"), Kind::Lock);
        assert_eq!(kind(b"ch.rq.aB3dE9.dumping"), Kind::Temp);
        assert_eq!(kind(b"@ch.rq.000000.dumping"), Kind::Temp);
        assert_eq!(
            kind(b".rq.aB3dE9.dumping"),
            Kind::OtherDumping,
            "no channel"
        );
        assert_eq!(kind(b"ch.rq.aB3dE.dumping"), Kind::OtherDumping, "five");
        assert_eq!(kind(b"ch.rq.aB3-E9.dumping"), Kind::OtherDumping);
        assert_eq!(kind(b"ch.tcm.aB3dE9.dumping"), Kind::OtherDumping);
        assert_eq!(kind(b"ch.rq.aB3dE9.dumping.x"), Kind::Other);
        assert_eq!(kind(b"ch.rq.torn-1700000000"), Kind::Torn);
        assert_eq!(kind(b"ch.rq.torn-1700000000-1"), Kind::Torn);
        assert_eq!(kind(b"overflow.dat"), Kind::Overflow);
        assert_eq!(kind(b"ofchannels.csv"), Kind::Overflow);
        assert_eq!(kind(b"ch.tcm"), Kind::Other);
        assert_eq!(kind(b"ch.rq.backup"), Kind::Other);
    }
}
