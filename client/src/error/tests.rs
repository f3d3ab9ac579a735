//! Display, `node()` and `status()` of every kind of [`super::ClientError`].

use super::*;
use std::error::Error;

fn addr() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 10000))
}

#[test]
fn display_names_node_command_and_status() {
    let e = ClientError::Status {
        node: addr(),
        command: DhtCommand::Put.into(),
        status: Status::WrongNode,
    };
    assert_eq!(
        e.to_string(),
        "node 127.0.0.1:10000: Put answered WrongNode (404)"
    );
    assert_eq!(e.status(), Some(Status::WrongNode));
    assert_eq!(e.node(), Some(addr()));
}

#[test]
fn display_of_other_variants() {
    let io = ClientError::Io {
        node: addr(),
        source: io::Error::new(io::ErrorKind::ConnectionReset, "reset"),
    };
    assert_eq!(io.to_string(), "node 127.0.0.1:10000: I/O error: reset");
    assert!(io.source().is_some());
    assert_eq!(
        ClientError::NoResponsibleNode { key: 0xab }.to_string(),
        "no node is responsible for key 00000000000000ab"
    );
    let v = ClientError::VersionMismatch {
        node: addr(),
        version: "1".into(),
    };
    assert!(v.to_string().contains("\"1\""));
    let nf = ClientError::NodesFile {
        path: "nodes.txt".into(),
        line: Some(3),
        reason: "bad".into(),
    };
    assert_eq!(nf.to_string(), "nodes.txt:3: bad");
    let p = ClientError::Protocol {
        node: addr(),
        error: ProtocolError::BadKey,
    };
    assert!(p.to_string().contains("malformed key"));
    assert_eq!(ClientError::EmptyValue.node(), None);
    let bad = ClientError::BadChannelName {
        channel: "a.b".into(),
    };
    assert_eq!(
        bad.to_string(),
        "invalid channel name \"a.b\": a name is 1 to 230 ASCII letters, digits, '_' or '-'"
    );
    let big = ClientError::ValueTooBig {
        key: 1,
        len: 9,
        limit: 8,
    };
    assert_eq!(
        big.to_string(),
        "value of 9 bytes for key 0000000000000001 is over the limit of 8 bytes"
    );
}

#[test]
fn display_of_the_queue_variants() {
    let q = |c| Command::Queue(c);
    let all = ClientError::AllNodesFailed {
        command: q(QueueCommand::Push),
        failures: vec![
            (addr(), NodeFailure::Status(Status::OutOfMemory)),
            (addr(), NodeFailure::Down),
        ],
    };
    assert_eq!(
        all.to_string(),
        "Push failed on every node: 127.0.0.1:10000 answered OutOfMemory (407); \
         127.0.0.1:10000 skipped (down, reconnecting with backoff)"
    );
    let lost = ClientError::StreamsLost {
        command: q(QueueCommand::Produce),
        streams: vec![(addr(), 5), (addr(), 1)],
    };
    assert_eq!(
        lost.to_string(),
        "Produce streams broke with records unconfirmed, which may be lost: \
         127.0.0.1:10000 (5 records), 127.0.0.1:10000 (1 records)"
    );
    let unknown = ClientError::OutcomeUnknown {
        node: addr(),
        command: q(QueueCommand::PushMulti2),
        channels: vec!["a".into()],
        source: io::ErrorKind::UnexpectedEof.into(),
    };
    assert!(
        unknown.to_string().contains("[\"a\"] is unknown"),
        "{unknown}"
    );
    assert_eq!(unknown.node(), Some(addr()));
    assert!(unknown.source().is_some());
    assert_eq!(
        ClientError::RecordTooBig { len: 3 }.to_string(),
        "a record of 3 bytes is over the array limit"
    );
    assert_eq!(Command::from(DhtCommand::Get).to_string(), "Get");
}

#[test]
fn display_of_the_logfiles_variants() {
    let e = ClientError::NotSupported {
        node: addr(),
        command: LogfilesCommand::GetSize.into(),
    };
    assert_eq!(
        e.to_string(),
        "node 127.0.0.1:10000 does not support GetSize (it answered NotSupported, 406)"
    );
    assert_eq!(e.node(), Some(addr()));
    assert_eq!(e.status(), Some(Status::NotSupported));
    assert_eq!(
        Command::from(LogfilesCommand::GetRangeRegex).to_string(),
        "GetRangeRegex"
    );
}
