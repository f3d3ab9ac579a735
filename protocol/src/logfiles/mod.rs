//! The logfiles (DLS) node's legacy request set (dlsproto `DlsConst`, spec/logfiles.md sections
//! 1 and 2): command codes, the GetRangeRegex filter mode, requests and replies. The byte
//! layouts follow the node side of dlsproto (`dlsproto/node/request/*.d`), as summarised in the
//! spec; the LZO batches of range replies and PutBatch are [`crate::batch`]'s.

mod reply;
mod request;

pub use crate::dht::NodeInfo;
pub use reply::{decode_batch_item, encode_stream_end, BatchItem, LogfilesReply};
pub use request::{LogfilesRequest, RedistributeNode};

/// API version string a logfiles node answers to GetVersion (dlsproto `DlsConst.ApiVersion`);
/// the client handshake marks a node with any other answer incompatible.
pub const API_VERSION: &[u8] = b"20110401";

/// The largest value a logfiles record may have: what a 64 KiB read batch can carry beside its
/// 16-digit key (the original's Put took up to 65,536 bytes, of which 65,505 and more could
/// never be read back; ours refuses them, DECISIONS).
pub const MAX_VALUE_LEN: usize =
    crate::batch::DEFAULT_BATCH_SIZE - crate::batch::pair_size(crate::key::KEY_HEX_LEN, 0);

/// Legacy logfiles command codes. They reuse the dht numbering (Put = 3 was the dht's old PutDup
/// slot), so the gaps are dht or dead codes: unknown here, and the node closes the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(i32)]
pub enum LogfilesCommand {
    /// Append a record (several records may share a key).
    Put = 3,
    /// List channels.
    GetChannels = 17,
    /// Records and bytes of one channel (NotSupported in the 2017-2019 original; counted here).
    GetChannelSize = 18,
    /// Records and bytes of all channels (as GetChannelSize).
    GetSize = 19,
    /// Delete a channel.
    RemoveChannel = 22,
    /// Open legacy connections.
    GetNumConnections = 23,
    /// API version.
    GetVersion = 24,
    /// Records whose key is in an inclusive range: a batch stream.
    GetRange = 28,
    /// All records of a channel: a batch stream.
    GetAll = 29,
    /// All records whose value contains a byte string: a batch stream.
    GetAllFilter = 31,
    /// GetRange and a substring filter on the value.
    GetRangeFilter = 32,
    /// GetRange and a filter on the value by [`FilterMode`] (substring or PCRE).
    GetRangeRegex = 34,
    /// Send a fraction of the data to other nodes.
    Redistribute = 35,
    /// Append a compressed batch of records.
    PutBatch = 36,
}

impl LogfilesCommand {
    /// Every command, in code order.
    pub const ALL: [LogfilesCommand; 14] = [
        LogfilesCommand::Put,
        LogfilesCommand::GetChannels,
        LogfilesCommand::GetChannelSize,
        LogfilesCommand::GetSize,
        LogfilesCommand::RemoveChannel,
        LogfilesCommand::GetNumConnections,
        LogfilesCommand::GetVersion,
        LogfilesCommand::GetRange,
        LogfilesCommand::GetAll,
        LogfilesCommand::GetAllFilter,
        LogfilesCommand::GetRangeFilter,
        LogfilesCommand::GetRangeRegex,
        LogfilesCommand::Redistribute,
        LogfilesCommand::PutBatch,
    ];

    /// The wire code.
    pub fn code(self) -> i32 {
        self as i32
    }

    /// The command for a wire code.
    pub fn from_code(code: i32) -> Option<LogfilesCommand> {
        LogfilesCommand::ALL.into_iter().find(|c| c.code() == code)
    }

    /// The request's name as in the original's logs and stats (`request/<Name>/handled`).
    pub fn name(self) -> &'static str {
        match self {
            LogfilesCommand::Put => "Put",
            LogfilesCommand::GetChannels => "GetChannels",
            LogfilesCommand::GetChannelSize => "GetChannelSize",
            LogfilesCommand::GetSize => "GetSize",
            LogfilesCommand::RemoveChannel => "RemoveChannel",
            LogfilesCommand::GetNumConnections => "GetNumConnections",
            LogfilesCommand::GetVersion => "GetVersion",
            LogfilesCommand::GetRange => "GetRange",
            LogfilesCommand::GetAll => "GetAll",
            LogfilesCommand::GetAllFilter => "GetAllFilter",
            LogfilesCommand::GetRangeFilter => "GetRangeFilter",
            LogfilesCommand::GetRangeRegex => "GetRangeRegex",
            LogfilesCommand::Redistribute => "Redistribute",
            LogfilesCommand::PutBatch => "PutBatch",
        }
    }

    /// Whether the reply is a batch stream (an `Ok` head, compressed batches, an empty array):
    /// GetRange, GetAll, GetAllFilter, GetRangeFilter, GetRangeRegex.
    pub fn streams_batches(self) -> bool {
        matches!(
            self,
            LogfilesCommand::GetRange
                | LogfilesCommand::GetAll
                | LogfilesCommand::GetAllFilter
                | LogfilesCommand::GetRangeFilter
                | LogfilesCommand::GetRangeRegex
        )
    }
}

/// GetRangeRegex's filter mode (dlsproto `DlsConst.FilterMode`, one byte on the wire). The
/// original hit `assert(false)` on any other value; the decoder refuses it, which closes the
/// connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum FilterMode {
    /// Case-sensitive byte substring of the value (as GetRangeFilter).
    StringMatch = 0,
    /// PCRE, case-sensitive, unanchored search over the value.
    Pcre = 1,
    /// PCRE, case-insensitive (`PCRE_CASELESS`).
    PcreCaseInsensitive = 2,
}

impl FilterMode {
    /// Every mode, in wire order.
    pub const ALL: [FilterMode; 3] = [
        FilterMode::StringMatch,
        FilterMode::Pcre,
        FilterMode::PcreCaseInsensitive,
    ];

    /// The wire byte.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The mode for a wire byte.
    pub fn from_code(code: u8) -> Option<FilterMode> {
        FilterMode::ALL.into_iter().find(|m| m.code() == code)
    }
}

#[cfg(test)]
mod prop_tests;
#[cfg(test)]
mod reply_tests;
#[cfg(test)]
mod request_tests;
