//! Check of the config files: the core's INI reader, the `[Server]` section every node shares,
//! and a node's config and unknown-key warnings, all pure functions of the text (no file is
//! read and nothing is checked on disk at this stage). The first byte picks the node kind, so
//! each execution reads one config (the INI parse and the hints cost most of the time).

use swarm_core::config::{parse_ini, ConfigWarning};
use swarm_core::{ConfigError, ServerConfig};
use swarm_dht::config::DhtConfig;
use swarm_logfiles::config::LogfilesConfig;
use swarm_queue::config::QueueConfig;

/// The name the messages give the fuzzed file.
const FILE: &str = "fuzz.ini";

/// Any text gives a config or an error, never a panic; every error and warning names the file,
/// so an operator knows where to look; the same text reads to the same result twice.
pub fn config_files(data: &[u8]) {
    let Some((&pick, text)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(text);
    let Ok(ini) = parse_ini(&text) else {
        return;
    };
    if let Err(e) = ServerConfig::from_ini(&ini, FILE) {
        named(e.to_string());
    }
    match pick % 3 {
        0 => node(&ini, DhtConfig::from_ini, DhtConfig::warnings),
        1 => node(&ini, QueueConfig::from_ini, QueueConfig::warnings),
        _ => node(&ini, LogfilesConfig::from_ini, LogfilesConfig::warnings),
    }
}

/// One node kind's config and warnings (`I` is the core's parsed INI).
fn node<I, C: std::fmt::Debug>(
    ini: &I,
    read: fn(&I, &str) -> Result<C, ConfigError>,
    warnings: fn(&I, &str) -> Vec<ConfigWarning>,
) {
    let config = read(ini, FILE);
    if let Err(e) = &config {
        named(e.to_string());
    }
    for w in warnings(ini, FILE) {
        named(w.to_string());
    }
    assert_eq!(
        format!("{config:?}"),
        format!("{:?}", read(ini, FILE)),
        "the same text reads the same twice"
    );
}

fn named(msg: String) {
    assert!(msg.contains(FILE), "{msg:?} does not name the file");
}

/// The client's nodes file (`ip:port` per line, `#` comments): any text gives the nodes or an
/// error naming a line of the text; the nodes written back one per line parse to the same list.
pub fn nodes_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match swarm_client::parse_nodes(&text) {
        Ok(nodes) => {
            assert!(!nodes.is_empty());
            let again: Vec<String> = nodes.iter().map(ToString::to_string).collect();
            let back = swarm_client::parse_nodes(&again.join("\n")).expect("written back parses");
            assert_eq!(back, nodes);
        }
        Err((line, reason)) => {
            assert!(!reason.is_empty());
            if let Some(n) = line {
                assert!(n >= 1 && n <= text.lines().count(), "line {n}");
            }
        }
    }
}
