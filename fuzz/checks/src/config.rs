//! Check of the config files: the core's INI reader, the `[Server]` section every node shares,
//! and each node's config and unknown-key warnings, all pure functions of the text (no file is
//! read and nothing is checked on disk at this stage).

use swarm_core::config::parse_ini;
use swarm_core::ServerConfig;
use swarm_dht::config::DhtConfig;
use swarm_logfiles::config::LogfilesConfig;
use swarm_queue::config::QueueConfig;

/// The name the messages give the fuzzed file.
const FILE: &str = "fuzz.ini";

/// Any text gives a config or an error, never a panic; every error and warning names the file,
/// so an operator knows where to look; the same text reads to the same result twice.
pub fn config_files(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(ini) = parse_ini(&text) else {
        return;
    };
    let named = |msg: String| assert!(msg.contains(FILE), "{msg:?} does not name the file");
    if let Err(e) = ServerConfig::from_ini(&ini, FILE) {
        named(e.to_string());
    }
    let dht = DhtConfig::from_ini(&ini, FILE);
    if let Err(e) = &dht {
        named(e.to_string());
    }
    let queue = QueueConfig::from_ini(&ini, FILE);
    if let Err(e) = &queue {
        named(e.to_string());
    }
    let logfiles = LogfilesConfig::from_ini(&ini, FILE);
    if let Err(e) = &logfiles {
        named(e.to_string());
    }
    let warnings = [
        DhtConfig::warnings(&ini, FILE),
        QueueConfig::warnings(&ini, FILE),
        LogfilesConfig::warnings(&ini, FILE),
    ];
    for w in warnings.iter().flatten() {
        named(w.to_string());
    }
    assert_eq!(
        format!("{dht:?}"),
        format!("{:?}", DhtConfig::from_ini(&ini, FILE)),
        "the same text reads the same twice"
    );
}
