//! The one error type of the core. Bindings map each variant to a typed
//! exception (Python) or an `Error` with a `code` (JS); `code()` is that code.

use std::fmt;

/// Everything that can go wrong in logpond.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("topic already exists: {0}")]
    TopicExists(String),
    #[error("topic not found: {0}")]
    TopicNotFound(String),
    #[error("invalid name: {0}")]
    InvalidName(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("record too large: {size} bytes, limit {limit}")]
    RecordTooLarge { size: usize, limit: usize },
    /// The records of one call bound for one partition encode to more than
    /// a batch may hold; the code is `RECORD_TOO_LARGE`.
    #[error("batch too large: {size} bytes encoded, limit {limit}; send fewer records per call")]
    BatchTooLarge { size: usize, limit: usize },
    #[error("backpressure: {0}")]
    Backpressure(String),
    #[error("offset out of range: {0}")]
    OffsetOutOfRange(String),
    #[error("corruption: {0}")]
    Corruption(String),
    #[error("pond is locked by another open handle: {0}")]
    PondLocked(String),
    #[error("pond is closed")]
    Closed,
    /// A consumer or queue consumer closed while its pond is open; the code
    /// is `CLOSED` too, the message names the handle ("consumer", "queue
    /// consumer").
    #[error("this {0} is closed")]
    HandleClosed(&'static str),
    /// A handle opened in process {0} used in the child of a `fork()`; the
    /// code is `CLOSED`.
    #[error("this pond was opened in process {0} before a fork(); open it again in this process")]
    Forked(u32),
    #[error("commit failed: {0}")]
    CommitFailed(String),
    #[error("lease expired: {0}")]
    LeaseExpired(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// A stable, language-neutral code for this kind of error
    /// (`TOPIC_EXISTS`, `BACKPRESSURE`, ...), used by the bindings.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::TopicExists(_) => ErrorCode::TopicExists,
            Error::TopicNotFound(_) => ErrorCode::TopicNotFound,
            Error::InvalidName(_) => ErrorCode::InvalidName,
            Error::InvalidArgument(_) => ErrorCode::InvalidArgument,
            Error::RecordTooLarge { .. } | Error::BatchTooLarge { .. } => ErrorCode::RecordTooLarge,
            Error::Backpressure(_) => ErrorCode::Backpressure,
            Error::OffsetOutOfRange(_) => ErrorCode::OffsetOutOfRange,
            Error::Corruption(_) => ErrorCode::Corruption,
            Error::PondLocked(_) => ErrorCode::PondLocked,
            Error::Closed | Error::HandleClosed(_) | Error::Forked(_) => ErrorCode::Closed,
            Error::CommitFailed(_) => ErrorCode::CommitFailed,
            Error::LeaseExpired(_) => ErrorCode::LeaseExpired,
            Error::Io(_) => ErrorCode::Io,
        }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Error {
        Error::InvalidArgument(msg.into())
    }

    pub(crate) fn corrupt(msg: impl Into<String>) -> Error {
        Error::Corruption(msg.into())
    }
}

/// The kinds of [`Error`], as the bindings name them. New kinds may be
/// added: a binding should map an unknown one to its base error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    TopicExists,
    TopicNotFound,
    InvalidName,
    InvalidArgument,
    RecordTooLarge,
    Backpressure,
    OffsetOutOfRange,
    Corruption,
    PondLocked,
    Closed,
    CommitFailed,
    LeaseExpired,
    Io,
}

impl ErrorCode {
    /// Every code, for bindings that build one error class per code.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::TopicExists,
        ErrorCode::TopicNotFound,
        ErrorCode::InvalidName,
        ErrorCode::InvalidArgument,
        ErrorCode::RecordTooLarge,
        ErrorCode::Backpressure,
        ErrorCode::OffsetOutOfRange,
        ErrorCode::Corruption,
        ErrorCode::PondLocked,
        ErrorCode::Closed,
        ErrorCode::CommitFailed,
        ErrorCode::LeaseExpired,
        ErrorCode::Io,
    ];

    /// The error class every binding names this kind by (`TopicExists`,
    /// ..., `IoError`): declared here once; the bindings build their classes
    /// from it and a test checks the stubs (`.pyi`, `.d.ts`) against it.
    pub fn class_name(self) -> &'static str {
        match self {
            ErrorCode::TopicExists => "TopicExists",
            ErrorCode::TopicNotFound => "TopicNotFound",
            ErrorCode::InvalidName => "InvalidName",
            ErrorCode::InvalidArgument => "InvalidArgument",
            ErrorCode::RecordTooLarge => "RecordTooLarge",
            ErrorCode::Backpressure => "Backpressure",
            ErrorCode::OffsetOutOfRange => "OffsetOutOfRange",
            ErrorCode::Corruption => "Corruption",
            ErrorCode::PondLocked => "PondLocked",
            ErrorCode::Closed => "Closed",
            ErrorCode::CommitFailed => "CommitFailed",
            ErrorCode::LeaseExpired => "LeaseExpired",
            ErrorCode::Io => "IoError",
        }
    }

    /// One sentence on what the kind means (the classes' docstrings).
    pub fn summary(self) -> &'static str {
        match self {
            ErrorCode::TopicExists => "A topic with this name already exists.",
            ErrorCode::TopicNotFound => "No topic (or subscription) has this name.",
            ErrorCode::InvalidName => "A topic or subscription name breaks the naming rules.",
            ErrorCode::InvalidArgument => "An argument is out of range or inconsistent.",
            ErrorCode::RecordTooLarge => "A record exceeds the topic's max_record_bytes, or a batch its frame limit.",
            ErrorCode::Backpressure => "A bounded backlog is full: nothing was written.",
            ErrorCode::OffsetOutOfRange => "The offset is outside the partition's range.",
            ErrorCode::Corruption => "Stored data failed a check (CRC, format); the message names where.",
            ErrorCode::PondLocked => "Another open handle holds the pond directory.",
            ErrorCode::Closed => "The pond (or this consumer or queue) is closed, or was opened before a fork().",
            ErrorCode::CommitFailed => {
                "A commit for partitions this consumer no longer owns (it left or timed out): nothing was committed."
            }
            ErrorCode::LeaseExpired => {
                "An ack or nack of a delivery that was delivered again or settled since: nothing changed."
            }
            ErrorCode::Io => "The storage failed; the message names the path.",
        }
    }

    /// The `SCREAMING_SNAKE_CASE` code JS errors carry.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::TopicExists => "TOPIC_EXISTS",
            ErrorCode::TopicNotFound => "TOPIC_NOT_FOUND",
            ErrorCode::InvalidName => "INVALID_NAME",
            ErrorCode::InvalidArgument => "INVALID_ARGUMENT",
            ErrorCode::RecordTooLarge => "RECORD_TOO_LARGE",
            ErrorCode::Backpressure => "BACKPRESSURE",
            ErrorCode::OffsetOutOfRange => "OFFSET_OUT_OF_RANGE",
            ErrorCode::Corruption => "CORRUPTION",
            ErrorCode::PondLocked => "POND_LOCKED",
            ErrorCode::Closed => "CLOSED",
            ErrorCode::CommitFailed => "COMMIT_FAILED",
            ErrorCode::LeaseExpired => "LEASE_EXPIRED",
            ErrorCode::Io => "IO",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
