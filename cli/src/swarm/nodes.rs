//! Which nodes to talk to (`--nodes FILE` or `--node HOST:PORT`, host names resolved) and the
//! client settings `--timeout` makes: a refused connection fails at once (no reconnect loop),
//! a node that accepts but stays silent fails after the timeout.

use crate::args::Global;
use crate::error::CliError;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;
use swarm_client::{read_nodes_file, ClientConfig};

/// The nodes the global options name, in order.
pub fn nodes(global: &Global) -> Result<Vec<SocketAddr>, CliError> {
    match (&global.nodes, global.node.is_empty()) {
        (Some(_), false) => Err(CliError::Usage(
            "give either --nodes FILE or --node HOST:PORT, not both".into(),
        )),
        (Some(path), true) => Ok(read_nodes_file(path)?),
        (None, false) => {
            let mut all: Vec<SocketAddr> = Vec::new();
            for spec in &global.node {
                let addr = resolve(spec)?;
                if all.contains(&addr) {
                    return Err(CliError::Usage(format!("node {addr} is given twice")));
                }
                all.push(addr);
            }
            Ok(all)
        }
        (None, true) => Err(CliError::Usage(
            "no node: give --nodes FILE or --node HOST:PORT (see --help)".into(),
        )),
    }
}

/// `HOST:PORT` as one address: the first IPv4 address the name resolves to (nodes listen on
/// IPv4 by default), else the first address.
pub fn resolve(spec: &str) -> Result<SocketAddr, CliError> {
    let bad = |why: String| CliError::Usage(format!("--node {spec:?}: {why}"));
    let addrs: Vec<SocketAddr> = spec
        .to_socket_addrs()
        .map_err(|e| {
            bad(format!(
                "{e} (expected HOST:PORT, for example localhost:10000)"
            ))
        })?
        .collect();
    addrs
        .iter()
        .find(|a| a.is_ipv4())
        .or(addrs.first())
        .copied()
        .ok_or_else(|| bad("the name resolves to no address".into()))
}

/// The client settings for `--timeout`.
pub fn config(timeout: Duration) -> ClientConfig {
    ClientConfig::default()
        .with_connect_timeout(timeout)
        .with_io_timeout(Some(timeout))
        // One attempt per node: a refused connection is reported, not retried.
        .with_reconnect_timeout(Duration::ZERO)
        // A one-shot command has no use for a periodic refresh.
        .with_range_refresh(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_resolve_to_ipv4_first() {
        let a = resolve("localhost:10000").unwrap();
        assert_eq!(a, SocketAddr::from(([127, 0, 0, 1], 10000)));
        assert_eq!(resolve("[::1]:5").unwrap().port(), 5);
        assert!(resolve("localhost").is_err());
        assert!(resolve("127.0.0.1:notaport").is_err());
    }
}
