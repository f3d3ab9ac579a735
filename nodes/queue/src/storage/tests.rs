//! Store tests: channels by name, the prefix override, the node-wide limit, refusals that store
//! nothing, removal, and dumps larger than the configured ring.

use super::*;

fn store(default: usize, size_limit: u64) -> MemoryStore {
    let mut sizes = ChannelSizes::new(default);
    sizes.add("big", 1000).unwrap();
    sizes.add("tiny", 20).unwrap();
    MemoryStore::new(sizes, size_limit)
}

fn names(s: &MemoryStore) -> Vec<Vec<u8>> {
    let mut n: Vec<Vec<u8>> = s.channel_names().iter().map(|n| n.to_vec()).collect();
    n.sort();
    n
}

#[test]
fn channels_are_created_on_push_and_pop_does_not_create() {
    let mut s = store(100, 0);
    assert_eq!(s.pop(b"a"), None);
    assert!(names(&s).is_empty());
    s.push(b"a", b"one").unwrap();
    s.push(b"b", b"two").unwrap();
    s.push(b"a", b"three").unwrap();
    assert_eq!(names(&s), [b"a".to_vec(), b"b".to_vec()]);
    assert_eq!(
        s.channel_size(b"a"),
        Some(Size {
            records: 2,
            bytes: 24
        })
    );
    assert_eq!(
        s.total_size(),
        Size {
            records: 3,
            bytes: 35
        }
    );
    assert_eq!(s.pop(b"a"), Some(&b"one"[..]));
    assert_eq!(s.pop(b"a"), Some(&b"three"[..]));
    assert_eq!(s.pop(b"a"), None);
    assert_eq!(
        s.channel_size(b"a"),
        Some(Size::default()),
        "an empty channel stays"
    );
    assert_eq!(s.channel_size(b"c"), None);
    s.create_channel(b"c").unwrap();
    assert_eq!(s.channel_size(b"c"), Some(Size::default()));
    assert_eq!(
        s.total_size(),
        Size {
            records: 1,
            bytes: 11
        }
    );
}

#[test]
fn bad_channel_names_are_refused_and_create_nothing() {
    let mut s = store(100, 0);
    for bad in [&b""[..], b"a.b", b"../x", b"a b"] {
        assert_eq!(s.push(bad, b"x"), Err(PushError::BadChannelName));
        assert_eq!(s.create_channel(bad), Err(PushError::BadChannelName));
    }
    assert!(names(&s).is_empty());
}

#[test]
fn rings_get_the_prefix_size() {
    let mut s = store(100, 0);
    for ch in [&b"bigger"[..], b"tiny", b"other", b"bi"] {
        s.create_channel(ch).unwrap();
    }
    assert_eq!(s.ring(b"bigger").unwrap().capacity(), 1000);
    assert_eq!(s.ring(b"tiny").unwrap().capacity(), 20);
    assert_eq!(s.ring(b"other").unwrap().capacity(), 100);
    assert_eq!(s.ring(b"bi").unwrap().capacity(), 100);
    assert_eq!(s.push(b"tiny2", &[0; 13]), Err(PushError::TooLarge));
    s.push(b"tiny2", &[0; 12]).unwrap();
    assert_eq!(s.push(b"tiny2", &[]), Err(PushError::ChannelFull));
    s.push(b"big_one", &[0; 500]).unwrap();
}

#[test]
fn refused_pushes_store_nothing() {
    let mut s = store(30, 0);
    assert_eq!(s.push(b"new", &[1; 23]), Err(PushError::TooLarge));
    assert_eq!(
        s.channel_size(b"new"),
        None,
        "a refused push creates no channel"
    );
    s.push(b"ch", &[1; 10]).unwrap();
    assert_eq!(s.push(b"ch", &[2; 10]), Err(PushError::ChannelFull));
    assert_eq!(
        s.total_size(),
        Size {
            records: 1,
            bytes: 18
        }
    );
    assert_eq!(s.pop(b"ch"), Some(&[1u8; 10][..]));
    assert_eq!(s.total_size(), Size::default());
}

#[test]
fn node_size_limit_counts_every_channel() {
    let mut s = store(100, 50);
    s.push(b"a", &[0; 12]).unwrap(); // 20
    s.push(b"b", &[0; 12]).unwrap(); // 40
    assert_eq!(s.push(b"c", &[0; 3]), Err(PushError::SizeLimit));
    assert_eq!(s.channel_size(b"c"), None);
    s.push(b"c", &[0; 2]).unwrap(); // exactly 50
    assert_eq!(s.push(b"a", &[]), Err(PushError::SizeLimit));
    assert!(s.remove_channel(b"b"));
    s.push(b"a", &[0; 12]).unwrap();
    assert_eq!(
        s.total_size(),
        Size {
            records: 3,
            bytes: 50
        }
    );
    let mut got = 0;
    assert_eq!(s.pop_batch(b"a", 100, &mut |_| got += 1), 2);
    assert_eq!((got, s.total_size().bytes), (2, 10));
}

#[test]
fn remove_channel_drops_its_records() {
    let mut s = store(100, 0);
    s.push(b"a", b"x").unwrap();
    assert!(s.remove_channel(b"a"));
    assert!(!s.remove_channel(b"a"));
    assert_eq!(s.channel_size(b"a"), None);
    assert_eq!(s.pop(b"a"), None);
    assert_eq!(s.total_size(), Size::default());
    s.push(b"a", b"y").unwrap();
    assert_eq!(s.pop(b"a"), Some(&b"y"[..]));
}

fn dump_of(records: &[&[u8]]) -> Vec<u8> {
    let mut data = Vec::new();
    for r in records {
        data.extend_from_slice(&(r.len() as u64).to_le_bytes());
        data.extend_from_slice(r);
    }
    data
}

#[test]
fn dump_within_the_configured_size_loads_into_a_configured_ring() {
    let mut s = store(100, 0);
    let data = dump_of(&[b"first", b"second"]);
    assert_eq!(s.load_channel(b"ch", 2, &data), Ok(Loaded::Configured));
    assert_eq!(s.ring(b"ch").unwrap().capacity(), 100);
    assert_eq!(
        s.total_size(),
        Size {
            records: 2,
            bytes: 27
        }
    );
    assert_eq!(s.pop(b"ch"), Some(&b"first"[..]));
    s.push(b"ch", b"third").unwrap();
    assert_eq!(s.pop(b"ch"), Some(&b"second"[..]));
    assert_eq!(s.pop(b"ch"), Some(&b"third"[..]));
}

#[test]
fn oversized_dump_loads_into_a_ring_of_its_own_size() {
    let mut s = store(100, 0);
    let records: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 30]).collect();
    let refs: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
    let data = dump_of(&refs);
    assert_eq!(
        s.load_channel(b"tiny_ch", 20, &data),
        Ok(Loaded::Oversized {
            configured: 20,
            capacity: 760
        })
    );
    assert_eq!(
        s.total_size(),
        Size {
            records: 20,
            bytes: 760
        }
    );
    for r in &records {
        assert_eq!(s.pop(b"tiny_ch"), Some(&r[..]));
    }
    // The ring keeps its size: larger records than configured still fit until removal.
    s.push(b"tiny_ch", &[7; 100]).unwrap();
    assert!(s.remove_channel(b"tiny_ch"));
    assert_eq!(s.push(b"tiny_ch", &[7; 100]), Err(PushError::TooLarge));
}

#[test]
fn bad_dumps_are_refused() {
    let mut s = store(100, 0);
    let data = dump_of(&[b"abc"]);
    assert_eq!(
        s.load_channel(b"a.b", 1, &data),
        Err(LoadError::BadChannelName)
    );
    assert!(matches!(
        s.load_channel(b"ch", 2, &data),
        Err(LoadError::Dump(_))
    ));
    assert!(matches!(
        s.load_channel(b"ch", 1, &data[..5]),
        Err(LoadError::Dump(_))
    ));
    assert_eq!(s.channel_size(b"ch"), None);
    s.load_channel(b"ch", 1, &data).unwrap();
    assert_eq!(s.load_channel(b"ch", 1, &data), Err(LoadError::Exists));
    assert_eq!(
        s.total_size(),
        Size {
            records: 1,
            bytes: 11
        }
    );
}

#[test]
fn handlers_can_use_the_trait_object() {
    let mut s = store(100, 0);
    let q: &mut dyn QueueStore = &mut s;
    q.push(b"ch", b"via dyn").unwrap();
    assert_eq!(q.pop(b"ch"), Some(&b"via dyn"[..]));
}

#[test]
fn a_ring_the_allocator_refuses_fails_the_request_not_the_node() {
    // More than the address space: the allocator must refuse.
    assert!(Ring::try_new(usize::MAX / 2).is_none());
    let mut store = MemoryStore::new(ChannelSizes::new(usize::MAX / 2), 0);
    assert_eq!(store.create_channel(b"huge"), Err(PushError::NoMemory));
    assert!(store.channel_names().is_empty());
    let mut ok = MemoryStore::new(ChannelSizes::new(64), 0);
    assert_eq!(ok.push(b"fine", b"x"), Ok(()));
}

#[test]
fn push_valid_refuses_as_push_does_and_creates_nothing_on_refusal() {
    let mut store = MemoryStore::new(ChannelSizes::new(30), 50);
    assert_eq!(store.push_valid(b"c", &[1; 23]), Err(PushError::TooLarge));
    assert!(store.channel_names().is_empty());
    assert_eq!(store.push_valid(b"c", &[1; 22]), Ok(()));
    assert_eq!(store.push_valid(b"c", &[2; 1]), Err(PushError::ChannelFull));
    assert_eq!(store.push_valid(b"d", &[3; 10]), Ok(()));
    // 48 + 18 > 50: the node-wide limit, though the ring has room.
    assert_eq!(store.push_valid(b"d", &[4; 10]), Err(PushError::SizeLimit));
    assert_eq!(
        store.total_size(),
        Size {
            records: 2,
            bytes: 48
        }
    );
}

#[test]
fn pop_share_takes_a_share_and_says_what_remains() {
    let mut store = MemoryStore::new(ChannelSizes::new(1000), 0);
    for i in 0..10u8 {
        store.push(b"c", &[i; 2]).unwrap();
    }
    let mut got = Vec::new();
    // 100 bytes waiting over 2 consumers: a share of 50 bytes, 5 records of 10.
    let turn = store.pop_share(b"c", 2, 1 << 20, &mut |r| got.push(r.to_vec()));
    assert_eq!(turn, Some((5, true)));
    assert_eq!(got.len(), 5);
    // The room is smaller than the share: at least one record anyway.
    assert_eq!(store.pop_share(b"c", 1, 0, &mut |_| {}), Some((1, true)));
    assert_eq!(
        store.pop_share(b"c", 1, 1 << 20, &mut |_| {}),
        Some((4, false))
    );
    assert_eq!(store.pop_share(b"c", 1, 1 << 20, &mut |_| {}), None);
    assert_eq!(store.pop_share(b"missing", 1, 1 << 20, &mut |_| {}), None);
    assert_eq!(store.total_size(), Size::default());
}
