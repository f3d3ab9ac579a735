//! Config tests: the example file, defaults, the prefix rule, and errors naming file and key.

use super::*;

const BASE: &str = "[Server]\naddress=127.0.0.1\nport=0\nchannel_size_limit=1000\n";

fn parse(text: &str) -> Result<QueueConfig, ConfigError> {
    QueueConfig::from_ini(&config::parse_ini(text).unwrap(), "test.ini")
}

fn error(text: &str) -> String {
    parse(text).unwrap_err().to_string()
}

#[test]
fn example_config_loads_without_warnings() {
    let text = include_str!("../../../../etc/queue/config.ini");
    let c = parse(text).unwrap();
    assert_eq!(c.server.port, 10000);
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.channel_sizes.default, 2_000_000_000);
    assert_eq!(c.channel_sizes.size_of(b"jobs_urgent"), 100_000_000);
    assert_eq!(c.channel_sizes.size_of(b"results"), 10_000_000);
    assert_eq!(c.channel_sizes.size_of(b"other"), 2_000_000_000);
    assert_eq!(c.size_limit, 0);
    assert_eq!(c.pid_lock, None);
    assert_eq!(c.server.stats_file, Some(PathBuf::from("log/stats.log")));
    let ini = config::parse_ini(text).unwrap();
    assert_eq!(QueueConfig::warnings(&ini, "x"), []);
}

#[test]
fn defaults() {
    let c = parse(BASE).unwrap();
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(c.size_limit, DEFAULT_SIZE_LIMIT);
    assert_eq!(c.channel_sizes, ChannelSizes::new(1000));
    assert_eq!(c.log_dir, PathBuf::from("log"));
}

#[test]
fn original_keys_without_effect_are_accepted_silently() {
    let text = format!(
        "{BASE}cpu=-1\nneoport=10001\nunix_socket_path=s\n[Performance]\nno_delay=true\n\
         [Overflow]\nwrite_index_ms=60000\n"
    );
    let ini = config::parse_ini(&text).unwrap();
    assert!(QueueConfig::from_ini(&ini, "t.ini").is_ok());
    assert_eq!(QueueConfig::warnings(&ini, "t.ini"), []);
}

#[test]
fn typos_are_warnings() {
    let text = format!("{BASE}size_limt=5\n");
    let ini = config::parse_ini(&text).unwrap();
    let w: Vec<String> = QueueConfig::warnings(&ini, "t.ini")
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        w,
        ["t.ini: unknown key [Server] size_limt ignored (did you mean size_limit?)"]
    );
}

#[test]
fn channel_size_limit_is_required_and_at_least_one() {
    let missing = error("[Server]\naddress=a\nport=1\n");
    assert!(missing.contains("test.ini"), "{missing}");
    assert!(missing.contains("channel_size_limit"), "{missing}");
    let zero = error("[Server]\naddress=a\nport=1\nchannel_size_limit=0\n");
    assert!(
        zero.contains("channel_size_limit") && zero.contains("at least 1"),
        "{zero}"
    );
    let bad = error("[Server]\naddress=a\nport=1\nchannel_size_limit=-5\n");
    assert!(
        bad.contains("channel_size_limit") && bad.contains("-5"),
        "{bad}"
    );
}

#[test]
fn bad_size_limit_names_the_key() {
    let e = error(&format!("{BASE}size_limit=lots\n"));
    assert!(e.contains("test.ini") && e.contains("size_limit"), "{e}");
}

#[test]
fn prefix_overrides() {
    let c = parse(&format!("{BASE}[ChannelSizeById]\nDie=123\nKatze=456\n")).unwrap();
    let s = &c.channel_sizes;
    // The original's ChannelSizeConfig unit test.
    assert_eq!(s.size_of(b"Die"), 123);
    assert_eq!(s.size_of(b"Dieses"), 123);
    assert_eq!(s.size_of(b"Katzeklo"), 456);
    assert_eq!(s.size_of(b"Kat"), 1000);
    assert_eq!(s.size_of(b"Hundekuchen"), 1000);
    assert_eq!(s.size_of(b""), 1000);
    assert_eq!(
        s.prefixes().collect::<Vec<_>>(),
        [("Die", 123), ("Katze", 456)]
    );
}

#[test]
fn overlapping_prefixes_are_refused() {
    for (a, b) in [("Katze", "Katzeklo"), ("Katzeklo", "Katze")] {
        let e = error(&format!("{BASE}[ChannelSizeById]\n{a}=1\n{b}=2\n"));
        assert!(e.contains("test.ini") && e.contains(b), "{e}");
        assert!(e.contains("overlaps"), "{e}");
    }
    let mut sizes = ChannelSizes::new(1);
    assert_eq!(sizes.add("", 5), Err(PrefixError::Empty));
    sizes.add("a", 5).unwrap();
    assert_eq!(sizes.add("a", 6), Err(PrefixError::Overlaps("a".into())));
}

#[test]
fn bad_prefix_sizes_and_names_are_refused() {
    let e = error(&format!("{BASE}[ChannelSizeById]\njobs=0\n"));
    assert!(e.contains("ChannelSizeById") && e.contains("jobs"), "{e}");
    let e = error(&format!("{BASE}[ChannelSizeById]\njobs=big\n"));
    assert!(e.contains("jobs") && e.contains("big"), "{e}");
    let e = error(&format!("{BASE}[ChannelSizeById]\njo.bs=10\n"));
    assert!(e.contains("jo.bs") && e.contains("prefix"), "{e}");
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.ini");
    std::fs::write(&path, "[Server]\naddress=a\nport=1\nchanel_size_limit=5\n").unwrap();
    let (config, warnings) = QueueConfig::load(Some(&path));
    let e = config.unwrap_err().to_string();
    assert!(
        e.contains("c.ini") && e.contains("channel_size_limit"),
        "{e}"
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
}

#[test]
fn embedded_default_is_a_local_node() {
    let (config, warnings) = QueueConfig::load(None);
    let c = config.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(c.server.address, "127.0.0.1");
    assert_eq!(c.server.port, 11000);
    assert_eq!(c.channel_sizes.default, 64 << 20);
    assert_eq!(c.data_dir, PathBuf::from("data"));
}
