//! [`Waiters`]: the connections whose streams wait on a key (a channel), and waking them.
//!
//! A dht Listen waits for Puts into its channel, a queue Consume for records pushed into its
//! channel. The producer side wakes one waiter in turn ([`Waiters::wake_one`], round-robin: the
//! consumers of a queue channel share its records) or all of them ([`Waiters::wake_all`]: every
//! Listen of a channel sees every Put). A waiter woken and not yet resumed is not woken again,
//! so a burst of a thousand pushes costs one wake per consumer, not a thousand; a resumed
//! waiter calls [`Waiters::resumed`] to be wakeable again.

use std::collections::HashMap;
use std::hash::Hash;

use crate::service::{ConnRef, Context};

#[derive(Debug)]
struct Entry {
    conn: ConnRef,
    woken: bool,
}

#[derive(Debug)]
struct Queue {
    entries: Vec<Entry>,
    /// Where the next [`Waiters::wake_one`] starts looking.
    next: usize,
}

/// Connections waiting on keys of type `K`; each connection waits on at most one key.
#[derive(Debug)]
pub struct Waiters<K> {
    by_key: HashMap<K, Queue>,
    key_of: HashMap<ConnRef, K>,
}

impl<K> Default for Waiters<K> {
    fn default() -> Self {
        Waiters {
            by_key: HashMap::new(),
            key_of: HashMap::new(),
        }
    }
}

impl<K: Eq + Hash + Clone> Waiters<K> {
    /// `conn` waits on `key` (instead of any key it waited on before). Adding it twice changes
    /// nothing.
    pub fn add(&mut self, key: K, conn: ConnRef) {
        if self.key_of.get(&conn) == Some(&key) {
            return;
        }
        self.remove(conn);
        self.key_of.insert(conn, key.clone());
        self.by_key
            .entry(key)
            .or_insert_with(|| Queue {
                entries: Vec::new(),
                next: 0,
            })
            .entries
            .push(Entry { conn, woken: false });
    }

    /// `conn` no longer waits (its stream ended or it closed); returns the key it waited on.
    pub fn remove(&mut self, conn: ConnRef) -> Option<K> {
        let key = self.key_of.remove(&conn)?;
        if let Some(q) = self.by_key.get_mut(&key) {
            if let Some(i) = q.entries.iter().position(|e| e.conn == conn) {
                q.entries.remove(i);
                if q.next > i {
                    q.next -= 1;
                }
            }
            if q.entries.is_empty() {
                self.by_key.remove(&key);
            }
        }
        Some(key)
    }

    /// Every waiter of `key` stops waiting (the channel was removed); returns them, so the
    /// caller can tell each its stream ended.
    pub fn remove_key(&mut self, key: &K) -> Vec<ConnRef> {
        let Some(q) = self.by_key.remove(key) else {
            return Vec::new();
        };
        q.entries
            .into_iter()
            .map(|e| {
                self.key_of.remove(&e.conn);
                e.conn
            })
            .collect()
    }

    /// Wakes the next waiter of `key` in turn that is not already woken; returns it, or `None`
    /// when there is none (or all are woken and will look anyway).
    pub fn wake_one<E>(&mut self, cx: &mut Context<'_, E>, key: &K) -> Option<ConnRef> {
        let q = self.by_key.get_mut(key)?;
        let n = q.entries.len();
        for k in 0..n {
            let i = (q.next + k) % n;
            let e = &mut q.entries[i];
            if !e.woken {
                e.woken = true;
                q.next = (i + 1) % n;
                cx.wake(e.conn);
                return Some(e.conn);
            }
        }
        None
    }

    /// Wakes every waiter of `key` not already woken; returns how many were woken.
    pub fn wake_all<E>(&mut self, cx: &mut Context<'_, E>, key: &K) -> usize {
        let Some(q) = self.by_key.get_mut(key) else {
            return 0;
        };
        let mut n = 0;
        for e in q.entries.iter_mut().filter(|e| !e.woken) {
            e.woken = true;
            cx.wake(e.conn);
            n += 1;
        }
        n
    }

    /// `conn` was resumed: the next wake reaches it again.
    pub fn resumed(&mut self, conn: ConnRef) {
        let Some(key) = self.key_of.get(&conn) else {
            return;
        };
        if let Some(e) = self
            .by_key
            .get_mut(key)
            .and_then(|q| q.entries.iter_mut().find(|e| e.conn == conn))
        {
            e.woken = false;
        }
    }

    /// The waiters of `key`, in the order they were added.
    pub fn of(&self, key: &K) -> impl Iterator<Item = ConnRef> + '_ {
        self.by_key
            .get(key)
            .into_iter()
            .flat_map(|q| q.entries.iter().map(|e| e.conn))
    }

    /// The key `conn` waits on.
    pub fn key_of(&self, conn: ConnRef) -> Option<&K> {
        self.key_of.get(&conn)
    }

    /// Waiting connections, over all keys.
    pub fn len(&self) -> usize {
        self.key_of.len()
    }

    /// Whether nobody waits.
    pub fn is_empty(&self) -> bool {
        self.key_of.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestLoop;

    fn c(slot: usize) -> ConnRef {
        ConnRef::new(slot, 1)
    }

    #[test]
    fn wake_one_goes_round_robin_and_skips_the_woken() {
        let mut t = TestLoop::<()>::new();
        let mut w = Waiters::default();
        for s in 0..3 {
            w.add("ch", c(s));
        }
        w.add("ch", c(1)); // again: no duplicate
        assert_eq!(w.len(), 3);
        let mut cx = t.cx(3);
        assert_eq!(w.wake_one(&mut cx, &"ch"), Some(c(0)));
        assert_eq!(w.wake_one(&mut cx, &"ch"), Some(c(1)));
        assert_eq!(w.wake_one(&mut cx, &"ch"), Some(c(2)));
        assert_eq!(w.wake_one(&mut cx, &"ch"), None, "all woken");
        w.resumed(c(1));
        assert_eq!(w.wake_one(&mut cx, &"ch"), Some(c(1)));
        w.resumed(c(0));
        w.resumed(c(2));
        assert_eq!(
            w.wake_one(&mut cx, &"ch"),
            Some(c(2)),
            "turn continues after 1"
        );
        assert_eq!(t.woken(), vec![c(0), c(1), c(2), c(1), c(2)]);
    }

    #[test]
    fn wake_all_dedups_and_remove_forgets() {
        let mut t = TestLoop::<()>::new();
        let mut w = Waiters::default();
        w.add(1u64, c(0));
        w.add(1u64, c(1));
        w.add(2u64, c(2));
        let mut cx = t.cx(3);
        assert_eq!(w.wake_all(&mut cx, &1), 2);
        assert_eq!(w.wake_all(&mut cx, &1), 0, "already woken");
        assert_eq!(w.remove(c(0)), Some(1));
        assert_eq!(w.remove(c(0)), None);
        w.add(2u64, c(1)); // moves from key 1 to key 2
        assert_eq!(w.of(&1).count(), 0);
        assert_eq!(w.of(&2).collect::<Vec<_>>(), vec![c(2), c(1)]);
        assert_eq!(w.remove_key(&2), vec![c(2), c(1)]);
        assert!(w.is_empty());
        assert_eq!(t.woken(), vec![c(0), c(1)]);
    }

    #[test]
    fn removing_before_the_turn_keeps_the_rotation() {
        let mut t = TestLoop::<()>::new();
        let mut w = Waiters::default();
        for s in 0..3 {
            w.add(0u8, c(s));
        }
        let mut cx = t.cx(3);
        assert_eq!(w.wake_one(&mut cx, &0), Some(c(0)));
        assert_eq!(w.wake_one(&mut cx, &0), Some(c(1)));
        w.remove(c(0));
        assert_eq!(w.wake_one(&mut cx, &0), Some(c(2)));
    }
}
