//! Tests of the INI helpers and `ServerConfig` (kept apart to keep config.rs short).

use super::*;

const EXAMPLE: &str = r"
; comment
[Server]
address = 127.0.0.1
port = 10000
minval = 0x0000000000000000
maxval = 0xffffffffffffffff
data_dir = data\dht
connection_limit = 100
backlog = 64

[Performance]
write_flush_ms = 1
write_timeout_ms = 1500

[Options_Memory]
size_limit = 0

[LOG.Root]
level = info

[STATS]
file_name = mylog/stats.log

[PidLock]
path = etc/pid.lock

[Mystery]
";

fn example() -> Ini {
    parse_ini(EXAMPLE).expect("parses")
}

#[test]
fn server_config_from_ini() {
    let cfg = ServerConfig::from_ini(&example(), "etc/config.ini").expect("valid");
    assert_eq!(cfg.address, "127.0.0.1");
    assert_eq!(cfg.port, 10000);
    assert_eq!(cfg.connection_limit, 100);
    assert_eq!(cfg.backlog, 64);
    assert_eq!(cfg.write_flush_ms, 1);
    assert_eq!(cfg.write_timeout, Duration::from_millis(1500));
    assert_eq!(cfg.stats_interval, DEFAULT_STATS_INTERVAL);
    assert_eq!(cfg.stats_file, Some(PathBuf::from("mylog/stats.log")));
    assert!(cfg.handle_signals);
}

#[test]
fn server_config_defaults() {
    let ini = parse_ini("[Server]\naddress = ::1\nport = 0\n").expect("parses");
    let cfg = ServerConfig::from_ini(&ini, "c.ini").expect("valid");
    assert_eq!(cfg.connection_limit, DEFAULT_CONNECTION_LIMIT);
    assert_eq!(cfg.backlog, DEFAULT_BACKLOG);
    assert_eq!(cfg.write_flush_ms, DEFAULT_WRITE_FLUSH_MS);
    assert_eq!(cfg.write_timeout, DEFAULT_WRITE_TIMEOUT);
    assert_eq!(cfg.stats_file, Some(PathBuf::from(DEFAULT_STATS_FILE)));
}

#[test]
fn backslashes_are_literal() {
    let v = example();
    assert_eq!(
        IniView::new(&v, "f").get("Server", "data_dir"),
        Some(r"data\dht")
    );
}

#[test]
fn missing_key_names_file_section_and_key() {
    let ini = parse_ini("[Server]\naddress = 127.0.0.1\n").expect("parses");
    let err = ServerConfig::from_ini(&ini, "etc/config.ini").expect_err("port missing");
    assert!(
        matches!(&err, ConfigError::Missing { section, key, .. } if section == "Server" && key == "port")
    );
    assert_eq!(
        err.to_string(),
        "etc/config.ini: [Server] port is required but missing"
    );
}

#[test]
fn empty_value_counts_as_missing() {
    let ini = parse_ini("[Server]\naddress =\nport = 1\n").expect("parses");
    let err = ServerConfig::from_ini(&ini, "c.ini").expect_err("empty address");
    assert!(matches!(err, ConfigError::Missing { ref key, .. } if key == "address"));
}

#[test]
fn invalid_values_are_reported_with_reason() {
    let ini = parse_ini("[Server]\naddress = a\nport = 70000\n").expect("parses");
    let err = ServerConfig::from_ini(&ini, "c.ini").expect_err("port too large");
    let text = err.to_string();
    assert!(
        text.starts_with("c.ini: [Server] port = '70000' is invalid: "),
        "{text}"
    );

    let ini = parse_ini("[Server]\naddress = a\nport = 1\nconnection_limit = 0\n").expect("parses");
    let err = ServerConfig::from_ini(&ini, "c.ini").expect_err("zero limit");
    assert_eq!(
        err.to_string(),
        "c.ini: [Server] connection_limit = '0' is invalid: must be at least 1"
    );

    let ini = parse_ini("[Server]\naddress = a\nport = 1\n[Performance]\nwrite_flush_ms = soon\n")
        .expect("parses");
    let err = ServerConfig::from_ini(&ini, "c.ini").expect_err("not a number");
    assert!(
        matches!(err, ConfigError::Invalid { ref key, ref value, .. } if key == "write_flush_ms" && value == "soon")
    );
}

#[test]
fn typed_getters() {
    let ini = parse_ini("[A]\nn = 5\nb1 = yes\nb2 = FALSE\nb3 = maybe\nf = 1.5\n").expect("parses");
    let v = IniView::new(&ini, "f.ini");
    assert_eq!(v.parse::<u32>("A", "n").expect("ok"), Some(5));
    assert_eq!(v.parse::<u32>("A", "absent").expect("ok"), None);
    assert_eq!(v.parse::<u32>("Nope", "n").expect("ok"), None);
    assert_eq!(v.parse_or::<u32>("A", "absent", 7).expect("ok"), 7);
    assert_eq!(v.require::<f64>("A", "f").expect("ok"), 1.5);
    assert!(v.bool_or("A", "b1", false).expect("ok"));
    assert!(!v.bool_or("A", "b2", true).expect("ok"));
    assert!(v.bool_or("A", "absent", true).expect("ok"));
    let err = v.bool_or("A", "b3", true).expect_err("not a bool");
    assert_eq!(
        err.to_string(),
        "f.ini: [A] b3 = 'maybe' is invalid: expected true or false"
    );
    assert!(v.require::<u32>("A", "f").is_err());
}

#[test]
fn parse_error_names_file_and_line() {
    let err = parse_ini("[Server\nport = 1\n").expect_err("unclosed section");
    assert!(matches!(err, ConfigError::Parse { .. }));
    assert!(err.to_string().starts_with("<string>:"), "{err}");
}

#[test]
fn io_error_names_file() {
    let err = load_ini(Path::new("/nonexistent/dir/config.ini")).expect_err("no such file");
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(
        err.to_string().starts_with("/nonexistent/dir/config.ini: "),
        "{err}"
    );
}

#[test]
fn load_from_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.ini");
    fs::write(&path, EXAMPLE).expect("write");
    let ini = load_ini(&path).expect("loads");
    assert_eq!(IniView::new(&ini, "f").get("Server", "port"), Some("10000"));
}

#[test]
fn unknown_keys_are_listed_not_refused() {
    let mut known: Vec<(&str, &str)> = ServerConfig::KNOWN_KEYS.to_vec();
    known.extend([
        ("Server", "minval"),
        ("Server", "maxval"),
        ("Options_Memory", "*"),
        ("PidLock", "path"),
    ]);
    let unknown = unknown_keys(&example(), &known);
    assert_eq!(
        unknown,
        vec![
            ("Server".to_owned(), "data_dir".to_owned()),
            ("Mystery".to_owned(), String::new())
        ]
    );
    assert_eq!(warn_unknown_keys(&example(), "c.ini", &known), 2);
}

#[test]
fn keys_outside_any_section_are_unknown() {
    let ini = parse_ini("stray = 1\n[Server]\nport = 1\n").expect("parses");
    assert_eq!(
        unknown_keys(&ini, ServerConfig::KNOWN_KEYS),
        vec![(String::new(), "stray".to_owned())]
    );
}

#[test]
fn local_config_is_for_tests() {
    let cfg = ServerConfig::local(0);
    assert_eq!(cfg.address, "127.0.0.1");
    assert!(!cfg.handle_signals);
    assert_eq!(cfg.stats_file, None);
}

#[test]
fn metrics_keys_default_to_the_server_address_and_are_known() {
    let cfg = ServerConfig::from_ini(&example(), "c.ini").expect("valid");
    assert_eq!(cfg.metrics, None, "no http_port: no metrics");
    let text = "[Server]\naddress = 10.1.2.3\nport = 1\n[Stats]\nhttp_port = 9100\n";
    let ini = parse_ini(text).expect("parses");
    let cfg = ServerConfig::from_ini(&ini, "c.ini").expect("valid");
    assert_eq!(cfg.metrics, Some(HttpConfig::new("10.1.2.3", 9100)));
    assert!(unknown_keys(&ini, ServerConfig::KNOWN_KEYS).is_empty());
    let both = "[Server]\naddress = a\nport = 1\n[Stats]\nhttp_port = 1\n[STATS]\nhttp_port = 2\n";
    let err = ServerConfig::from_ini(&parse_ini(both).expect("parses"), "c.ini");
    let err = err.expect_err("both spellings").to_string();
    assert!(
        err.contains("[Stats] http_port") && err.contains("[STATS] http_port"),
        "{err}"
    );
}

#[test]
fn receive_buffer_is_bytes_or_zero_for_the_kernels_autotuning() {
    let cfg = |line: &str| {
        let ini = parse_ini(&format!("[Server]\naddress = a\nport = 1\n{line}\n")).expect("parses");
        ServerConfig::from_ini(&ini, "c.ini")
    };
    assert_eq!(
        cfg("").expect("valid").receive_buffer,
        DEFAULT_RECEIVE_BUFFER
    );
    assert_eq!(cfg("receive_buffer = 0").expect("valid").receive_buffer, 0);
    assert_eq!(
        cfg("receive_buffer = 1048576")
            .expect("valid")
            .receive_buffer,
        1 << 20
    );
    assert_eq!(
        cfg("receive_buffer = 100")
            .expect_err("too small")
            .to_string(),
        "c.ini: [Server] receive_buffer = '100' is invalid: must be 0 (the kernel's autotuning) \
         or at least 4096"
    );
}
