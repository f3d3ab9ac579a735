//! The queue node's legacy request set (dmqproto `DmqConst`, spec/queue.md section 2): command
//! codes, requests with their stream records, and replies. The byte layouts follow the
//! original's node request handlers (`queuenode/request/*Request.d` of Era A, and
//! `dmqproto/node/request/*.d`), as summarised in spec/queue.md.

mod reply;
mod request;

pub use crate::dht::NodeInfo;
pub use reply::{ConsumeBatch, QueueReply};
pub use request::{decode_stream_record, encode_stream_end, QueueRequest, StreamRecord};

/// Legacy queue command codes, 1 to 13 with no gaps (code 0 is "None": unknown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum QueueCommand {
    /// Append a record to a channel.
    Push = 1,
    /// Take the oldest record of a channel.
    Pop = 2,
    /// List channels (Era A).
    GetChannels = 3,
    /// Records and bytes of one channel (Era A).
    GetChannelSize = 4,
    /// Records and bytes of all channels (Era A).
    GetSize = 5,
    /// Stream of a channel's records, node to client.
    Consume = 6,
    /// The per-channel size limit (Era A).
    GetSizeLimit = 7,
    /// Open connections.
    GetNumConnections = 8,
    /// Append one record to several channels.
    PushMulti = 9,
    /// Stream of records, client to node, into one channel.
    Produce = 10,
    /// Stream of records, client to node, each into several channels.
    ProduceMulti = 11,
    /// Delete a channel.
    RemoveChannel = 12,
    /// PushMulti answering with the channels that were full (Era A, 2015-01 to 2016-07).
    PushMulti2 = 13,
}

impl QueueCommand {
    /// Every command, in code order.
    pub const ALL: [QueueCommand; 13] = [
        QueueCommand::Push,
        QueueCommand::Pop,
        QueueCommand::GetChannels,
        QueueCommand::GetChannelSize,
        QueueCommand::GetSize,
        QueueCommand::Consume,
        QueueCommand::GetSizeLimit,
        QueueCommand::GetNumConnections,
        QueueCommand::PushMulti,
        QueueCommand::Produce,
        QueueCommand::ProduceMulti,
        QueueCommand::RemoveChannel,
        QueueCommand::PushMulti2,
    ];

    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The command for a wire code.
    pub fn from_code(code: i32) -> Option<QueueCommand> {
        QueueCommand::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The request's name as in the original's logs and stats (`request/<Name>/handled`).
    pub fn name(self) -> &'static str {
        match self {
            QueueCommand::Push => "Push",
            QueueCommand::Pop => "Pop",
            QueueCommand::GetChannels => "GetChannels",
            QueueCommand::GetChannelSize => "GetChannelSize",
            QueueCommand::GetSize => "GetSize",
            QueueCommand::Consume => "Consume",
            QueueCommand::GetSizeLimit => "GetSizeLimit",
            QueueCommand::GetNumConnections => "GetNumConnections",
            QueueCommand::PushMulti => "PushMulti",
            QueueCommand::Produce => "Produce",
            QueueCommand::ProduceMulti => "ProduceMulti",
            QueueCommand::RemoveChannel => "RemoveChannel",
            QueueCommand::PushMulti2 => "PushMulti2",
        }
    }
}

#[cfg(test)]
mod reply_tests;
#[cfg(test)]
mod request_tests;
