//! A raw TCP connection to a node, for tests that talk bytes: no codec beyond the legacy
//! framing's u64-length arrays, so a test can send anything, malformed or not. Node kinds add
//! their requests on top (see [`crate::dht::DhtConn`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// The Ok status as it is on the wire.
pub const OK: [u8; 4] = [0xc8, 0, 0, 0];

/// A raw protocol connection.
#[derive(Debug)]
pub struct Conn {
    pub s: TcpStream,
}

impl Conn {
    /// Connects with `TCP_NODELAY`; reads give up after `read_timeout`.
    pub fn connect(addr: SocketAddr, read_timeout: Duration) -> Conn {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(read_timeout)).unwrap();
        s.set_nodelay(true).unwrap();
        Conn { s }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    pub fn read_n(&mut self, n: usize) -> Vec<u8> {
        let mut buf = vec![0; n];
        self.s.read_exact(&mut buf).unwrap();
        buf
    }

    pub fn read_u64(&mut self) -> u64 {
        u64::from_le_bytes(self.read_n(8).try_into().unwrap())
    }

    /// A u64 length, then that many bytes (at most 64 MiB: a longer one is a test failure).
    pub fn read_array(&mut self) -> Vec<u8> {
        let n = self.read_u64();
        assert!(n <= 64 << 20, "absurd array length {n}");
        self.read_n(n as usize)
    }

    /// Arrays up to the empty one that ends a list (GetChannels), in the order sent.
    pub fn read_list(&mut self) -> Vec<Vec<u8>> {
        let mut items = Vec::new();
        loop {
            let item = self.read_array();
            if item.is_empty() {
                return items;
            }
            items.push(item);
        }
    }

    /// A size reply after its status: the echoed address and port skipped, then (records,
    /// bytes).
    pub fn read_size_fields(&mut self) -> (u64, u64) {
        let _address = self.read_array();
        let _port = self.read_n(2);
        (self.read_u64(), self.read_u64())
    }

    /// Sends `bytes` and reads exactly `expect.len()` bytes, which must equal `expect`.
    pub fn exchange_raw(&mut self, bytes: &[u8], expect: &[u8]) {
        self.send_raw(bytes);
        assert_eq!(self.read_n(expect.len()), expect);
    }

    /// Whether the node closed the connection (EOF or reset) within the read timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.s.read(&mut buf), Ok(0) | Err(_))
    }
}

/// `bytes` as a protocol array (u64 length, then the bytes).
pub fn arr(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A status code as it is on the wire.
pub fn status(code: i32) -> Vec<u8> {
    code.to_le_bytes().to_vec()
}
