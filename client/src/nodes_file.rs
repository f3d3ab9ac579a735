//! The nodes file (swarm `NodesConfigReader`): one `ip:port` per line; blank lines and `#`
//! comments are ignored.

use crate::error::ClientError;
use std::net::SocketAddr;
use std::path::Path;

/// Reads a nodes file.
pub fn read_nodes_file(path: impl AsRef<Path>) -> Result<Vec<SocketAddr>, ClientError> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|e| ClientError::NodesFile {
        path: path.to_path_buf(),
        line: None,
        reason: e.to_string(),
    })?;
    parse_nodes(&text).map_err(|(line, reason)| ClientError::NodesFile {
        path: path.to_path_buf(),
        line,
        reason,
    })
}

/// Parses the text of a nodes file. On error, returns the 1-based line (if any) and the reason.
pub fn parse_nodes(text: &str) -> Result<Vec<SocketAddr>, (Option<usize>, String)> {
    let mut nodes: Vec<SocketAddr> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let addr: SocketAddr = line.parse().map_err(|_| {
            (
                Some(i + 1),
                format!("expected ip:port (for example 127.0.0.1:10000), found {line:?}"),
            )
        })?;
        if nodes.contains(&addr) {
            return Err((Some(i + 1), format!("node {addr} is listed twice")));
        }
        nodes.push(addr);
    }
    if nodes.is_empty() {
        return Err((None, "no node listed".to_string()));
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let text = "# cluster\n\n127.0.0.1:10000\n  127.0.0.1:10001  # second\n\n";
        let nodes = parse_nodes(text).unwrap();
        assert_eq!(
            nodes,
            vec![
                SocketAddr::from(([127, 0, 0, 1], 10000)),
                SocketAddr::from(([127, 0, 0, 1], 10001)),
            ]
        );
    }

    #[test]
    fn bad_lines_name_their_number() {
        assert_eq!(
            parse_nodes("127.0.0.1:1\nlocalhost\n").unwrap_err().0,
            Some(2)
        );
        assert_eq!(parse_nodes("127.0.0.1\n").unwrap_err().0, Some(1));
        assert_eq!(
            parse_nodes("127.0.0.1:1\n127.0.0.1:1\n").unwrap_err().0,
            Some(2)
        );
        assert_eq!(parse_nodes("# nothing\n").unwrap_err().0, None);
    }

    #[test]
    fn file_errors_carry_path_and_line() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        writeln!(f, "127.0.0.1:10000\n127.0.0.1:x").unwrap();
        let e = read_nodes_file(f.path()).unwrap_err();
        assert!(
            e.to_string().ends_with(
                ":2: expected ip:port (for example 127.0.0.1:10000), found \"127.0.0.1:x\""
            ),
            "{e}"
        );
        let missing = read_nodes_file("/nonexistent/nodes.txt").unwrap_err();
        assert!(matches!(missing, ClientError::NodesFile { line: None, .. }));
    }
}
