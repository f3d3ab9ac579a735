//! Legacy status codes (swarm `IStatusCodes`), sent as int32 LE after every request.

use std::fmt;

/// A node's answer to a request. After any status other than `Ok` nothing more is sent for that
/// request. A client treats `Error` and unknown codes as fatal for the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum Status {
    /// Never sent.
    Undefined = 0,
    /// Success; the request's payload follows.
    Ok = 200,
    /// Defined, not sent by the dht node.
    InvalidRequest = 400,
    /// The key is outside this node's hash range.
    WrongNode = 404,
    /// Defined, not sent by the dht node.
    NotSupported = 406,
    /// The node's size limit would be exceeded.
    OutOfMemory = 407,
    /// A zero-length value.
    EmptyValue = 408,
    /// The channel name fails validation.
    BadChannelName = 409,
    /// The value is larger than the record size limit.
    ValueTooBig = 410,
    /// Internal error.
    Error = 500,
}

impl Status {
    /// Every status, in code order.
    pub const ALL: [Status; 10] = [
        Status::Undefined,
        Status::Ok,
        Status::InvalidRequest,
        Status::WrongNode,
        Status::NotSupported,
        Status::OutOfMemory,
        Status::EmptyValue,
        Status::BadChannelName,
        Status::ValueTooBig,
        Status::Error,
    ];

    /// Appends the status as it is on the wire (an i32 LE).
    #[inline]
    pub fn put(self, out: &mut Vec<u8>) {
        crate::wire::put_i32(out, self.code());
    }

    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The status for a wire code, if the code is in the legacy table.
    pub fn from_code(code: i32) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The status as its 4 wire bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        self.code().to_le_bytes()
    }

    /// Whether a client must drop the connection after this status (the original's "fatal").
    pub fn is_fatal(self) -> bool {
        matches!(self, Status::Error | Status::Undefined)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} ({})", self, self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_match_the_legacy_table() {
        assert_eq!(Status::Ok.to_bytes(), [0xc8, 0, 0, 0]);
        assert_eq!(Status::from_code(404), Some(Status::WrongNode));
        assert_eq!(Status::from_code(410), Some(Status::ValueTooBig));
        assert_eq!(Status::from_code(201), None);
        for s in Status::ALL {
            assert_eq!(Status::from_code(s.code()), Some(s));
        }
    }
}
