//! The dht node's legacy request set (dhtproto `DhtConst`): command codes, requests and replies.

mod reply;
mod request;

pub use reply::{DhtReply, NodeInfo};
pub use request::{DhtRequest, OversizedPut, RedistributeNode};

/// API version string a dht node answers to GetVersion; clients refuse any other.
pub const API_VERSION: &[u8] = b"20110401";

/// Legacy dht command codes. The gaps (2-6, 8-10, ...) are dead commands: unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum DhtCommand {
    /// Store a record.
    Put = 1,
    /// Read a record.
    Get = 7,
    /// Whether a record exists.
    Exists = 11,
    /// Delete a record.
    Remove = 12,
    /// List channels.
    GetChannels = 17,
    /// Records and bytes of one channel.
    GetChannelSize = 18,
    /// Records and bytes of all channels.
    GetSize = 19,
    /// The node's hash range.
    GetResponsibleRange = 20,
    /// Delete a channel.
    RemoveChannel = 22,
    /// Open connections.
    GetNumConnections = 23,
    /// API version.
    GetVersion = 24,
    /// Stream of records put into a channel.
    Listen = 25,
    /// All records of a channel.
    GetAll = 29,
    /// All keys of a channel.
    GetAllKeys = 30,
    /// All records whose value contains a filter string.
    GetAllFilter = 31,
    /// Change the hash range and move records to other nodes.
    Redistribute = 33,
    /// Store a compressed batch of records.
    PutBatch = 34,
}

impl DhtCommand {
    /// Every command, in code order.
    pub const ALL: [DhtCommand; 17] = [
        DhtCommand::Put,
        DhtCommand::Get,
        DhtCommand::Exists,
        DhtCommand::Remove,
        DhtCommand::GetChannels,
        DhtCommand::GetChannelSize,
        DhtCommand::GetSize,
        DhtCommand::GetResponsibleRange,
        DhtCommand::RemoveChannel,
        DhtCommand::GetNumConnections,
        DhtCommand::GetVersion,
        DhtCommand::Listen,
        DhtCommand::GetAll,
        DhtCommand::GetAllKeys,
        DhtCommand::GetAllFilter,
        DhtCommand::Redistribute,
        DhtCommand::PutBatch,
    ];

    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The command for a wire code.
    pub fn from_code(code: i32) -> Option<DhtCommand> {
        DhtCommand::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The request's name as in the original's logs and stats (`request/<Name>/handled`).
    pub fn name(self) -> &'static str {
        match self {
            DhtCommand::Put => "Put",
            DhtCommand::Get => "Get",
            DhtCommand::Exists => "Exists",
            DhtCommand::Remove => "Remove",
            DhtCommand::GetChannels => "GetChannels",
            DhtCommand::GetChannelSize => "GetChannelSize",
            DhtCommand::GetSize => "GetSize",
            DhtCommand::GetResponsibleRange => "GetResponsibleRange",
            DhtCommand::RemoveChannel => "RemoveChannel",
            DhtCommand::GetNumConnections => "GetNumConnections",
            DhtCommand::GetVersion => "GetVersion",
            DhtCommand::Listen => "Listen",
            DhtCommand::GetAll => "GetAll",
            DhtCommand::GetAllKeys => "GetAllKeys",
            DhtCommand::GetAllFilter => "GetAllFilter",
            DhtCommand::Redistribute => "Redistribute",
            DhtCommand::PutBatch => "PutBatch",
        }
    }
}
