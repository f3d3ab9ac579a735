//! The periodic dump driven by hand: a real writer thread and mailbox, no sockets.

use super::*;
use crate::dump::file::dump_all;
use crate::dump::retire_dump_file;
use std::collections::HashMap;
use std::fs;
use std::path::Path;
use swarm_core::testing::TestLoop;
use swarm_protocol::tcm::{parse_dump_key, TcmReader};

fn read_tcm(path: &Path) -> Vec<(u64, Vec<u8>)> {
    let mut r = TcmReader::new(fs::File::open(path).unwrap()).unwrap();
    let mut out = Vec::new();
    while let Some(rec) = r.next_record().unwrap() {
        out.push((parse_dump_key(rec.key).unwrap(), rec.value.to_vec()));
    }
    out
}

struct Loop {
    t: TestLoop<DhtEvent>,
    mailbox: Mailbox<DhtEvent>,
}

impl Loop {
    fn new() -> Loop {
        let t = TestLoop::new();
        let mailbox = t.mailbox();
        Loop { t, mailbox }
    }

    /// The dump's next events, waiting up to 5 s for at least one.
    fn events(&mut self) -> Vec<DumpEvent> {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let got: Vec<DumpEvent> = self
                .t
                .node_events()
                .into_iter()
                .map(|e| match e {
                    DhtEvent::Dump(d) => d,
                    other => panic!("not a dump event: {other:?}"),
                })
                .collect();
            if !got.is_empty() || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Starts a cycle and drives it to its end, calling `between` before every event.
    fn run_cycle(
        &mut self,
        d: &mut Dumper,
        storage: &mut Storage,
        mut between: impl FnMut(&mut Storage, u32),
    ) -> u32 {
        let start = Instant::now() + Duration::from_secs(10);
        d.tick(start, storage, &self.mailbox);
        d.tick(start + Duration::from_secs(10), storage, &self.mailbox);
        assert!(d.is_running());
        let mut wakes = 0;
        while d.is_running() {
            let events = self.events();
            assert!(!events.is_empty(), "the writer must report to the loop");
            for ev in events {
                wakes += 1;
                between(storage, wakes);
                d.on_event(ev, storage);
            }
        }
        wakes
    }
}

fn filled(channels: &[(&[u8], u64)]) -> Storage {
    let mut s = Storage::new(0);
    for (name, n) in channels {
        s.channel_or_create(name);
        for k in 0..*n {
            s.put(name, k, &[k as u8; 100]).unwrap();
        }
    }
    s
}

#[test]
fn a_cycle_writes_what_the_shutdown_dump_writes() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = filled(&[(b"big", 20_000), (b"small", 3), (b"empty", 0)]);
    let mut d = Dumper::new(dir.path().to_path_buf(), 1);
    let wakes = Loop::new().run_cycle(&mut d, &mut storage, |_, _| {});
    assert!(
        wakes >= 4,
        "2.6 MB of records take several steps ({wakes} wake-ups)"
    );
    let periodic: Vec<_> = ["big", "small", "empty"]
        .iter()
        .map(|c| fs::read(dir.path().join(format!("{c}.tcm"))).unwrap())
        .collect();
    assert_eq!(periodic[2].len(), 512, "an empty channel gets a file");
    let other = tempfile::tempdir().unwrap();
    assert_eq!(dump_all(other.path(), &storage), 0);
    for (i, c) in ["big", "small", "empty"].iter().enumerate() {
        assert_eq!(
            fs::read(other.path().join(format!("{c}.tcm"))).unwrap(),
            periodic[i],
            "{c}"
        );
    }
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "no temp file left: {names:?}");
}

#[test]
fn records_present_throughout_are_dumped_once_despite_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = filled(&[(b"c", 30_000)]);
    let mut d = Dumper::new(dir.path().to_path_buf(), 1);
    Loop::new().run_cycle(&mut d, &mut storage, |s, wake| {
        let w = u64::from(wake);
        for k in 0..200 {
            s.remove(b"c", 20_000 + w * 200 + k); // churn in the upper third
            s.put(b"c", 1_000_000 + w * 200 + k, b"new").unwrap();
        }
    });
    let mut seen: HashMap<u64, u32> = HashMap::new();
    for (k, _) in read_tcm(&dir.path().join("c.tcm")) {
        *seen.entry(k).or_default() += 1;
    }
    for k in 0..20_000 {
        assert_eq!(seen.get(&k), Some(&1), "key {k}");
    }
}

#[test]
fn a_channel_removed_mid_dump_is_not_written_and_stays_removed() {
    let dir = tempfile::tempdir().unwrap();
    let mut storage = filled(&[(b"a", 20_000), (b"b", 20_000)]);
    assert_eq!(dump_all(dir.path(), &storage), 0);
    let data_dir = dir.path().to_path_buf();
    let mut d = Dumper::new(data_dir.clone(), 1);
    Loop::new().run_cycle(&mut d, &mut storage, |s, wake| {
        if wake == 2 {
            s.remove_channel(b"a");
            retire_dump_file(&data_dir, b"a").unwrap();
        }
    });
    assert!(!dir.path().join("a.tcm").exists());
    assert!(!dir.path().join("a.tcm.backup").exists());
    assert!(dir.path().join("deleted").join("a.tcm").exists());
    assert_eq!(read_tcm(&dir.path().join("b.tcm")).len(), 20_000);
    assert!(dir.path().join("b.tcm.backup").exists());
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "b.tcm, b.tcm.backup, deleted: {names:?}");
}

#[test]
fn stop_discards_a_half_written_channel() {
    let dir = tempfile::tempdir().unwrap();
    let storage = filled(&[(b"a", 50_000)]);
    let mut lp = Loop::new();
    let mut d = Dumper::new(dir.path().to_path_buf(), 1);
    let t = Instant::now();
    d.tick(t, &storage, &lp.mailbox);
    d.tick(t + Duration::from_secs(2), &storage, &lp.mailbox);
    for ev in lp.events() {
        d.on_event(ev, &storage);
    }
    d.stop();
    assert!(!d.is_running());
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

#[test]
fn a_turn_makes_at_most_one_step_however_many_reports_it_delivers() {
    // Each batch of events stands for one loop turn. Steps are made only on Step events, and
    // only one Step is ever pending, so no turn serializes more than STEP_BYTES (reports used
    // to make a step each: a turn delivering five of them serialized 2.5 MiB).
    let dir = tempfile::tempdir().unwrap();
    let storage = filled(&[(b"a", 40_000)]);
    let mut lp = Loop::new();
    let mut d = Dumper::new(dir.path().to_path_buf(), 1);
    let t = Instant::now();
    d.tick(t, &storage, &lp.mailbox);
    d.tick(t + Duration::from_secs(2), &storage, &lp.mailbox);
    let (mut steps, mut reports) = (0, 0);
    while d.is_running() {
        let events = lp.events();
        assert!(!events.is_empty(), "the dump must go on by itself");
        let in_turn = events
            .iter()
            .filter(|e| matches!(e, DumpEvent::Step))
            .count();
        assert!(in_turn <= 1, "{in_turn} steps in one turn");
        steps += in_turn;
        reports += events.len() - in_turn;
        for ev in events {
            d.on_event(ev, &storage);
        }
    }
    assert!(steps >= 10, "5.3 MB take at least 10 steps ({steps})");
    assert!(
        reports >= steps,
        "every chunk is reported ({reports} reports)"
    );
    assert_eq!(read_tcm(&dir.path().join("a.tcm")).len(), 40_000);
}
