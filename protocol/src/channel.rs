//! Channel names (swarm `validateChannelName`): non-empty, ASCII letters, digits, `_` and `-`.

/// Longest channel name we accept. The legacy protocol has no limit beyond the 10 MiB array,
/// but a name becomes a file name (`<name>.tcm.XXXXXX.dumping`), and longer names would break
/// dumping on 255-byte file-name systems; see docs/PROTOCOL.md.
pub const MAX_CHANNEL_NAME_LEN: usize = 230;

/// Whether `name` is a valid channel name.
pub fn is_valid_channel_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= MAX_CHANNEL_NAME_LEN
        && name
            .iter()
            .all(|&c| c.is_ascii_alphanumeric() || c == b'_' || c == b'-')
}

/// The first check of every request that names a channel: whether `name` is valid; if not,
/// BadChannelName (409) is appended to `out`, the whole reply.
pub fn check_name(name: &[u8], out: &mut Vec<u8>) -> bool {
    let ok = is_valid_channel_name(name);
    if !ok {
        crate::Status::BadChannelName.put(out);
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_channel_name(b"test_channel-1"));
        assert!(!is_valid_channel_name(b""));
        assert!(!is_valid_channel_name(b"a.b"));
        assert!(!is_valid_channel_name(b"../etc"));
        assert!(!is_valid_channel_name(b"caf\xc3\xa9"));
        assert!(!is_valid_channel_name(&[b'a'; MAX_CHANNEL_NAME_LEN + 1]));
        assert!(is_valid_channel_name(&[b'a'; MAX_CHANNEL_NAME_LEN]));
    }
}
