//! The option names every binding offers, declared once: each with its
//! Python name (durations in seconds), its JS name (durations in ms) and
//! its default. The core's configs take their defaults from here, and a
//! test (`core/tests/surfaces.rs`) checks the `.pyi` stubs, the `.d.ts`
//! files and the JS option checks against these lists, so a binding cannot
//! drift from them. Error kinds are declared by [`crate::ErrorCode`].

/// An option's default, as the bindings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// No value: unset (`None` / `null`).
    Unset,
    Bool(bool),
    Int(u64),
    /// A duration: seconds in Python, milliseconds in JS.
    Millis(i64),
    Str(&'static str),
}

impl Default {
    /// How a Python signature spells it (`30.0`, `None`, `"latest"`).
    pub fn python(self) -> String {
        match self {
            Default::Unset => "None".into(),
            Default::Bool(b) => if b { "True" } else { "False" }.into(),
            Default::Int(n) => n.to_string(),
            Default::Millis(ms) => format!("{:?}", ms as f64 / 1000.0),
            Default::Str(s) => format!("{s:?}"),
        }
    }
}

/// One option of one call.
#[derive(Debug, Clone, Copy)]
pub struct OptionSpec {
    pub python: &'static str,
    pub js: &'static str,
    pub default: Default,
}

const fn opt(python: &'static str, js: &'static str, default: Default) -> OptionSpec {
    OptionSpec { python, js, default }
}

/// A queue delivery's lease unless acked (`ack_timeout`).
pub const DEFAULT_ACK_TIMEOUT_MS: i64 = 30_000;
/// A queue consumer's prefetch window (`max_in_flight`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 100;
/// A group member's session timeout.
pub const DEFAULT_SESSION_TIMEOUT_MS: i64 = 10_000;
/// How often auto-commit commits while polling.
pub const DEFAULT_AUTO_COMMIT_INTERVAL_MS: i64 = 5_000;

/// `create_topic` / `createTopic`. (Defaults of the sizes and ages are the
/// core's `TopicConfig::default()`, shown as unset in the signatures.)
pub const TOPIC_OPTIONS: &[OptionSpec] = &[
    opt("partitions", "partitions", Default::Int(1)),
    opt("retention", "retentionMs", Default::Unset),
    opt("retention_bytes", "retentionBytes", Default::Unset),
    opt("retention_records", "retentionRecords", Default::Unset),
    opt("compact", "compact", Default::Bool(false)),
    opt("max_record_bytes", "maxRecordBytes", Default::Unset),
    opt("max_backlog", "maxBacklog", Default::Unset),
    opt("segment_bytes", "segmentBytes", Default::Unset),
    opt("segment_age", "segmentMs", Default::Unset),
    opt("delete_retention", "deleteRetentionMs", Default::Unset),
    opt("retain_until_acked", "retainUntilAcked", Default::Bool(false)),
];

/// `consumer(group, topics, ...)`.
pub const CONSUMER_OPTIONS: &[OptionSpec] = &[
    opt("auto_offset_reset", "autoOffsetReset", Default::Str("latest")),
    opt("auto_commit", "autoCommit", Default::Bool(true)),
    opt("session_timeout", "sessionTimeoutMs", Default::Millis(DEFAULT_SESSION_TIMEOUT_MS)),
    opt("assignor", "assignor", Default::Str("cooperative-sticky")),
    opt("auto_commit_interval", "autoCommitIntervalMs", Default::Millis(DEFAULT_AUTO_COMMIT_INTERVAL_MS)),
];

/// `queue(topic, subscription, ...)`.
pub const QUEUE_OPTIONS: &[OptionSpec] = &[
    // Stored with the subscription: unset means the stored value (on
    // first attach, the default).
    opt("ack_timeout", "ackTimeoutMs", Default::Unset),
    opt("max_deliveries", "maxDeliveries", Default::Unset),
    opt("dead_letter_topic", "deadLetterTopic", Default::Unset),
    opt("retry_backoff", "retryBackoffMs", Default::Unset),
    opt("max_in_flight", "maxInFlight", Default::Int(DEFAULT_MAX_IN_FLIGHT as u64)),
    opt("start_at_end", "startAtEnd", Default::Bool(false)),
];
