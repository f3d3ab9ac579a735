//! [`ReplyKind`]: what code that reads the replies of any node kind needs (the client's
//! connection reads dht, queue and logfiles replies through it): a command decodes the reply it
//! gets, and a reply says whether it is a bare status.

use crate::dht::{DhtCommand, DhtReply};
use crate::logfiles::{LogfilesCommand, LogfilesReply};
use crate::queue::{QueueCommand, QueueReply};
use crate::{DecodeError, Status};

/// A node kind's command, as the key to decoding its reply.
pub trait ReplyKind: Copy {
    /// The kind's reply, borrowing from the input.
    type Reply<'a>;
    /// Decodes the reply to this command (its head, for a stream) from the front of `buf`,
    /// with the bytes it used.
    fn decode_reply(self, buf: &[u8]) -> Result<(Self::Reply<'_>, usize), DecodeError>;
    /// The status of a reply that is a bare status (every non-`Ok` reply is one).
    fn bare_status(reply: &Self::Reply<'_>) -> Option<Status>;
}

impl ReplyKind for DhtCommand {
    type Reply<'a> = DhtReply<'a>;
    fn decode_reply(self, buf: &[u8]) -> Result<(DhtReply<'_>, usize), DecodeError> {
        DhtReply::decode(self, buf)
    }
    fn bare_status(reply: &DhtReply<'_>) -> Option<Status> {
        match reply {
            DhtReply::Status(s) => Some(*s),
            _ => None,
        }
    }
}

impl ReplyKind for QueueCommand {
    type Reply<'a> = QueueReply<'a>;
    fn decode_reply(self, buf: &[u8]) -> Result<(QueueReply<'_>, usize), DecodeError> {
        QueueReply::decode(self, buf)
    }
    fn bare_status(reply: &QueueReply<'_>) -> Option<Status> {
        match reply {
            QueueReply::Status(s) => Some(*s),
            _ => None,
        }
    }
}

impl ReplyKind for LogfilesCommand {
    type Reply<'a> = LogfilesReply<'a>;
    fn decode_reply(self, buf: &[u8]) -> Result<(LogfilesReply<'_>, usize), DecodeError> {
        LogfilesReply::decode(self, buf)
    }
    fn bare_status(reply: &LogfilesReply<'_>) -> Option<Status> {
        match reply {
            LogfilesReply::Status(s) => Some(*s),
            _ => None,
        }
    }
}
