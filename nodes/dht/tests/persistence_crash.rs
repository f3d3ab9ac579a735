//! Crash test: `kill -9` the node at 20 random moments while its periodic dump
//! (`dump_period_s = 1`) writes a large channel. After every kill the `.tcm` on disk must be
//! complete and hold either the previous dump or the new one, never a partial one, and a
//! restart must load exactly that.
//!
//! Each round starts with the node holding exactly what its `.tcm` holds (the "previous" dump),
//! changes some records (so the next dump differs), then kills at a random moment between the
//! start of the next dump cycle and a bit past its usual end. A round in which a cycle started
//! before the change was complete is repeated: that cycle would dump a mix, a legitimate
//! live-iteration dump but not one the test can predict.

#![allow(clippy::unwrap_used)]

mod persistence_common;

use persistence_common::*;
use std::time::{Duration, Instant};

const RECORDS: u64 = 200_000;
const ROUNDS: usize = 20;
const MARKER: u64 = 0xffff_0000_0000_0001;

fn count(node: &Node, needle: &str) -> usize {
    node.root_log().matches(needle).count()
}

/// Waits until root.log holds `needle` more than `n` times; the new count.
fn wait_past(node: &Node, needle: &str, n: usize) -> usize {
    assert!(
        node.wait_log(needle, n + 1, Duration::from_secs(30)),
        "no {needle:?} in time:\n{}",
        node.root_log()
    );
    count(node, needle)
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Overwrites 200 records and the marker with values of round `round`.
fn mutate(node: &Node, keys: &[u64], round: usize, expected: &mut Records) {
    let mut change = Records::new();
    for j in 0..200 {
        let k = keys[(round * 997 + j * 7919) % keys.len()];
        change.insert(k, format!("round {round} record {j}").into_bytes());
    }
    change.insert(MARKER, format!("round {round}").into_bytes());
    node.connect().put_all(b"big", &change);
    expected.extend(change);
}

#[test]
fn kill_9_during_periodic_dumps_never_loses_or_tears_a_dump() {
    let seed = Instant::now().elapsed().as_nanos() as u64
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
    eprintln!("crash test seed {seed:#x}");
    let mut rng = Rng(seed | 1);
    let mut node = node(&[("dump_period_s", "1")]);
    node.start();
    let mut expected = records(RECORDS, 5, 100);
    let keys: Vec<u64> = expected.keys().copied().collect();
    node.connect().put_all(b"big", &expected);
    let tcm = node.data().join("big.tcm");

    wait_past(&node, "Periodic dump finished in", 0);
    let dump_ms = node
        .root_log()
        .split("Periodic dump finished in ")
        .nth(1)
        .and_then(|r| r.split(' ').next()?.parse::<f64>().ok())
        .map(|s| (s * 1000.0) as u64)
        .unwrap();
    eprintln!("a dump of the channel takes about {dump_ms} ms");
    // The memory now equals the first dump; each round changes it, then kills.
    let mut previous = read_tcm(&tcm).expect("the .tcm must be complete");
    assert!(previous == expected);

    let (mut round, mut kills_new, mut retries) = (0, 0, 0);
    while round < ROUNDS {
        let started = count(&node, "Periodic dump of");
        mutate(&node, &keys, round, &mut expected);
        if count(&node, "Periodic dump of") != started {
            // A cycle started before the change was complete: let a whole cycle dump the
            // changed data, and take that as the previous dump.
            retries += 1;
            assert!(
                retries < 10,
                "dump cycles leave no gap to change the data in"
            );
            let finished = count(&node, "Periodic dump finished in");
            wait_past(&node, "Periodic dump finished in", finished + 1);
            previous = read_tcm(&tcm).expect("the .tcm must be complete");
            assert!(previous == expected);
            continue;
        }
        // Kill at a random moment of the next cycle, up to a bit past its usual end.
        wait_past(&node, "Periodic dump of", started);
        let delay = rng.next() % (dump_ms * 13 / 10 + 1);
        std::thread::sleep(Duration::from_millis(delay));
        node.kill9();

        let on_disk = read_tcm(&tcm).expect("the .tcm must be complete");
        let is_new = on_disk == expected;
        assert!(
            is_new || on_disk == previous,
            "round {round}: the .tcm is neither dump"
        );
        kills_new += usize::from(is_new);
        let fallbacks = count(&node, "loaded the previous dump");
        node.start();
        let loaded = node.connect().get_all(b"big");
        assert!(
            loaded == on_disk,
            "round {round}: the node did not load the .tcm"
        );
        assert_eq!(
            count(&node, "loaded the previous dump"),
            fallbacks,
            "round {round}"
        );
        assert!(!node.files().iter().any(|f| f.contains(".torn-")));
        previous = on_disk;
        expected = loaded;
        round += 1;
    }
    let leftovers = node
        .files()
        .iter()
        .filter(|f| f.ends_with(".dumping"))
        .count();
    eprintln!(
        "{ROUNDS} kills: {kills_new} after the new dump was committed, {} before; \
         {leftovers} .dumping files left by kills; {retries} rounds repeated",
        ROUNDS - kills_new
    );
}
