//! Put (1): store one record. Order of checks (first failing wins): BadChannelName, WrongNode
//! (malformed key closes the connection), ValueTooBig, EmptyValue, OutOfMemory, then Ok. Put
//! notifies the channel's Listen requests.

use super::listen::Listens;
use super::{status, ChannelCheck};
use crate::event::DhtEvent;
use crate::settings::DhtSettings;
use crate::stats::{Action, Stats};
use crate::storage::{record_bytes, Storage};
use swarm_core::{Context, Handled, Step};
use swarm_protocol::dht::{DhtCommand, OversizedPut};
use swarm_protocol::Status;

/// Put: the checks in order, the write, then the channel's Listens are told.
#[expect(
    clippy::too_many_arguments,
    reason = "Put touches this much; bundling it again would rebuild the service"
)]
#[inline]
pub(crate) fn put(
    storage: &mut Storage,
    stats: &mut Stats,
    names: &mut ChannelCheck,
    listens: &mut Listens,
    cx: &mut Context<'_, DhtEvent>,
    settings: &DhtSettings,
    channel: &[u8],
    hex: &[u8],
    value: &[u8],
    out: &mut Vec<u8>,
) -> Result<Step, String> {
    let Some(k) = names.and_key(channel, hex, out)? else {
        return Ok(Step::Done);
    };
    let s = if !settings.range.contains(k) {
        Status::WrongNode
    } else if value.len() > settings.value_limit() {
        Status::ValueTooBig
    } else if value.is_empty() {
        Status::EmptyValue
    } else if storage.put(channel, k, value).is_err() {
        Status::OutOfMemory
    } else {
        stats.action(Action::Written, 1, record_bytes(value.len()));
        Status::Ok
    };
    status(out, s);
    if s == Status::Ok {
        if let Some(entry) = storage.channel(channel) {
            listens.notify(cx, entry.id, k);
        }
    }
    Ok(Step::Done)
}

/// A Put whose value is announced over the record limit, answered from its head alone (the
/// same checks in the same order as [`put`]; the value is over the limit, so the answer is
/// never Ok) while the loop drops the value's bytes as they arrive.
pub(crate) fn put_too_big(
    stats: &mut Stats,
    names: &mut ChannelCheck,
    settings: &DhtSettings,
    put: &OversizedPut<'_>,
    out: &mut Vec<u8>,
) -> Handled {
    stats.started(DhtCommand::Put);
    stats.finished(DhtCommand::Put);
    match names.and_key(put.channel, put.key, out) {
        Err(why) => return Handled::Close(format!("Put request: {why}")),
        Ok(None) => {} // BadChannelName written
        Ok(Some(k)) if !settings.range.contains(k) => status(out, Status::WrongNode),
        Ok(Some(_)) => {
            log::warn!(
                "Put to '{}': value of {} bytes is over the limit of {}, discarded",
                String::from_utf8_lossy(put.channel),
                put.value_len,
                settings.value_limit()
            );
            status(out, Status::ValueTooBig);
        }
    }
    Handled::Discard {
        consumed: put.head_len,
        discard: put.value_len,
    }
}

#[cfg(test)]
mod tests {
    use crate::requests::testing::*;
    use swarm_protocol::dht::DhtRequest;
    use swarm_protocol::HashRange;

    #[test]
    fn spec_example_put_then_get() {
        let mut t = Node::new();
        let put = DhtRequest::Put {
            channel: b"test",
            key: b"00000000000000ab",
            value: b"hi",
        };
        assert_eq!(t.request(&put), OK);
        let get = DhtRequest::Get {
            channel: b"test",
            key: b"00000000000000ab",
        };
        assert_eq!(t.request(&get), [&OK[..], &arr(b"hi")].concat());
    }

    #[test]
    fn check_order() {
        let mut t = Node::with_range(HashRange::new(0, 0x7fff_ffff_ffff_ffff).unwrap());
        let too_big = vec![1u8; t.service.settings().value_limit() + 1];
        // Bad channel wins over everything, even a malformed key.
        let r = DhtRequest::Put {
            channel: b"a.b",
            key: b"zz",
            value: b"",
        };
        assert_eq!(t.request(&r), status(409));
        // Key 1 bit-reversed is 0x8000.., outside the range: WrongNode before size checks.
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000001",
            value: &too_big,
        };
        assert_eq!(t.request(&r), status(404));
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000002",
            value: &too_big,
        };
        assert_eq!(t.request(&r), status(410));
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000002",
            value: b"",
        };
        assert_eq!(t.request(&r), status(408));
        let exact = vec![1u8; t.service.settings().value_limit()];
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000002",
            value: &exact,
        };
        assert_eq!(t.request(&r), OK);
        assert_eq!(t.service.storage().records(), 1);
    }

    #[test]
    fn malformed_key_closes_and_stores_nothing() {
        let mut t = Node::new();
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"000000000000000g",
            value: b"v",
        };
        assert!(t.request_closes(&r));
        assert_eq!(t.service.storage().records(), 0);
    }

    #[test]
    fn size_limit_answers_out_of_memory() {
        let mut t = Node::with_size_limit(20);
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000002",
            value: &[7; 12],
        };
        assert_eq!(t.request(&r), OK);
        let r = DhtRequest::Put {
            channel: b"c",
            key: b"0000000000000003",
            value: &[7; 1],
        };
        assert_eq!(t.request(&r), status(407));
    }
}
