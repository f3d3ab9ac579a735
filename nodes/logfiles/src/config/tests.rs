//! Config tests: the example file, defaults, the two spellings of the options section, and
//! errors naming file and key.

use super::*;

const BASE: &str = "[Server]\naddress=127.0.0.1\nport=0\n";

fn parse(text: &str) -> Result<LogfilesConfig, ConfigError> {
    LogfilesConfig::from_ini(&config::parse_ini(text).unwrap(), "test.ini")
}

fn warnings(text: &str) -> Vec<String> {
    let ini = config::parse_ini(text).unwrap();
    LogfilesConfig::warnings(&ini, "t.ini")
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn example_config_loads_without_warnings() {
    let text = include_str!("../../../../etc/logfiles/config.ini");
    let c = parse(text).unwrap();
    assert_eq!(c.server.port, 10000);
    assert_eq!(c.data_dir, PathBuf::from("data"));
    assert_eq!(c.file_buffer_size, DEFAULT_FILE_BUFFER_SIZE);
    assert_eq!(c.checkpoint_commit_seconds, 300);
    assert_eq!(c.workers, 20);
    assert_eq!(c.write_buffer_size, 65_536);
    assert_eq!(c.sync_mode, SyncMode::Checkpoint);
    assert_eq!(c.group_commit_ms, 0);
    assert_eq!(c.redistribute_retry_s, DEFAULT_REDISTRIBUTE_RETRY_S);
    assert_eq!(c.pid_lock, None);
    assert_eq!(c.server.stats_file, Some(PathBuf::from("log/stats.log")));
    assert_eq!(warnings(text), Vec::<String>::new());
}

#[test]
fn defaults() {
    let c = parse(BASE).unwrap();
    assert_eq!(c.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert_eq!(c.write_buffer_size, DEFAULT_WRITE_BUFFER_SIZE);
    assert_eq!(c.sync_mode, SyncMode::Checkpoint);
    assert_eq!(c.redistribute_retry_s, 30);
    assert_eq!(c.testing.redistribute_delay_ms, 0);
    assert_eq!(c.log_dir, PathBuf::from("log"));
    // 0 turns read buffering off, as in the original.
    let c = parse(&format!("{BASE}[Performance]\nfile_buffer_size=0\n")).unwrap();
    assert_eq!(c.file_buffer_size, 0);
}

#[test]
fn the_original_example_spelling_of_the_options_section_is_read() {
    let c = parse(&format!(
        "{BASE}[Options_LogFiles]\nwrite_buffer_size=1000\nsync_mode=group\n"
    ))
    .unwrap();
    assert_eq!(c.write_buffer_size, 1000);
    assert_eq!(c.sync_mode, SyncMode::Group);
    // Both spellings: [Options_Dls] wins, and a disagreement is a warning.
    let text = format!(
        "{BASE}[Options_Dls]\nwrite_buffer_size=2000\n[Options_LogFiles]\nwrite_buffer_size=1000\n"
    );
    assert_eq!(parse(&text).unwrap().write_buffer_size, 2000);
    let w = warnings(&text);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("using [Options_Dls]'s"), "{w:?}");
}

#[test]
fn original_keys_without_effect_are_accepted_silently() {
    let text = format!(
        "{BASE}cpu=0\nneoport=10001\nunix_socket_path=s\ncredentials_path=etc/credentials\n"
    );
    assert!(parse(&text).is_ok());
    assert_eq!(warnings(&text), Vec::<String>::new());
}

#[test]
fn bad_values_name_the_file_section_and_key() {
    for (text, needle) in [
        ("[Options_Dls]\nsync_mode=always\n", "sync_mode"),
        ("[Options_Dls]\nwrite_buffer_size=0\n", "write_buffer_size"),
        (
            "[Options_LogFiles]\nwrite_buffer_size=x\n",
            "Options_LogFiles",
        ),
        (
            "[Performance]\ncheckpoint_commit_seconds=0\n",
            "checkpoint_commit_seconds",
        ),
        (
            "[Performance]\nnumber_of_thread_workers=0\n",
            "number_of_thread_workers",
        ),
        ("[Performance]\nfile_buffer_size=-1\n", "file_buffer_size"),
    ] {
        let e = parse(&format!("{BASE}{text}")).unwrap_err().to_string();
        assert!(e.contains("test.ini") && e.contains(needle), "{e}");
    }
}

#[test]
fn typos_are_warnings() {
    let w = warnings(&format!("{BASE}[Options_Dls]\nsync_mod=group\n"));
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("sync_mod"), "{w:?}");
}
