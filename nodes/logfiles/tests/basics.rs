//! The node end to end on the real binary: records written, read back by range and in full,
//! across a restart, in both sync modes; sizes and channels.

use swarm_testkit::logfiles::{LogfilesConn, LogfilesNode, Record};

const BIN: &str = env!("CARGO_BIN_EXE_logfilesnode");

fn records(n: u64) -> Vec<Record> {
    (0..n)
        .map(|i| (0x5727_5000 + i * 37, format!("record {i}").into_bytes()))
        .collect()
}

#[test]
fn records_come_back_in_bucket_order_and_survive_a_restart_in_both_modes() {
    for mode in ["checkpoint", "group"] {
        let mut node = LogfilesNode::new(BIN, &[("Options_Dls", "sync_mode", mode)]);
        node.start();
        let mut c = node.connect();
        let recs = records(2000);
        c.put_all(b"logs", &recs);
        assert_eq!(c.get_all(b"logs"), recs, "{mode}");
        let (lo, hi) = (recs[10].0, recs[20].0);
        assert_eq!(c.get_range(b"logs", lo, hi), recs[10..=20].to_vec());
        assert_eq!(c.channel_size(b"logs").0, 2000);
        assert_eq!(c.channels(), vec![b"logs".to_vec()]);
        node.restart();
        let mut c = node.connect();
        assert_eq!(c.get_all(b"logs"), recs, "{mode} after restart");
        assert_eq!(
            c.size(),
            (2000, recs.iter().map(|r| r.1.len() as u64).sum())
        );
        c.remove_channel(b"logs");
        assert!(c.get_all(b"logs").is_empty());
        assert!(c.channels().is_empty());
        node.stop();
    }
}
