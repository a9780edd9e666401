//! Topic names, configuration and the persisted topic metadata file.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Longest topic name, as in Kafka.
pub const MAX_NAME_LEN: usize = 249;
/// Most partitions a topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;
/// Largest `max_record_bytes` a topic may set.
pub const MAX_RECORD_BYTES_LIMIT: u32 = 64 << 20;
/// Smallest and largest segment sizes.
pub const MIN_SEGMENT_BYTES: u64 = 64;
pub const MAX_SEGMENT_BYTES: u64 = 1 << 30;

/// Checks a name by Kafka's rules: 1 to 249 of ASCII letters, digits, `.`,
/// `_`, `-`; not `.` or `..`. (Names beginning `__` are internal: see
/// [`is_internal`].)
pub fn validate_name(name: &str) -> Result<()> {
    let bad = |why: &str| Err(Error::InvalidName(format!("{name:?}: {why}")));
    if name.is_empty() {
        return bad("empty");
    }
    if name.len() > MAX_NAME_LEN {
        return bad("longer than 249 characters");
    }
    if name == "." || name == ".." {
        return bad("'.' and '..' are not allowed");
    }
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
        return bad("only ASCII letters, digits, '.', '_' and '-' are allowed");
    }
    Ok(())
}

/// Internal topics (`__consumer_offsets`, ...) begin with `__`; users may
/// not create them and `topics()` does not list them.
pub fn is_internal(name: &str) -> bool {
    name.starts_with("__")
}

/// What happens to old records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Cleanup {
    /// Retention deletes whole old segments.
    #[default]
    Delete,
    /// Compaction keeps the newest record per key (and retention, if set,
    /// still applies).
    Compact,
}

/// A topic's configuration. `Default` gives Kafka-like defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicConfig {
    pub partitions: u32,
    /// Delete sealed segments whose newest record is older than this.
    pub retention_ms: Option<i64>,
    /// Delete the oldest sealed segments while the rest still hold this many bytes.
    pub retention_bytes: Option<u64>,
    /// Delete the oldest sealed segments while the rest still hold this many records.
    pub retention_records: Option<u64>,
    pub cleanup: Cleanup,
    /// How long compaction keeps a tombstone (a keyed record with no value).
    pub delete_retention_ms: i64,
    /// The largest record (key + value + headers) a producer may send.
    pub max_record_bytes: u32,
    /// Unsettled records the topic's subscriptions may hold before producers
    /// get `Backpressure`.
    pub max_backlog: Option<u64>,
    /// Keep records only until every subscription (and every consumer group
    /// with a committed offset) has settled them: whole segments below that
    /// are freed.
    pub retain_until_acked: bool,
    /// Roll to a new segment past this size...
    pub segment_bytes: u64,
    /// ...or when the active segment's first record is this old.
    pub segment_ms: i64,
}

impl Default for TopicConfig {
    fn default() -> TopicConfig {
        TopicConfig {
            partitions: 1,
            retention_ms: None,
            retention_bytes: None,
            retention_records: None,
            cleanup: Cleanup::Delete,
            delete_retention_ms: 24 * 3600 * 1000,
            max_record_bytes: 1 << 20,
            max_backlog: None,
            retain_until_acked: false,
            segment_bytes: 64 << 20,
            segment_ms: 7 * 24 * 3600 * 1000,
        }
    }
}

impl TopicConfig {
    pub fn with_partitions(partitions: u32) -> TopicConfig {
        TopicConfig { partitions, ..TopicConfig::default() }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::InvalidArgument(msg));
        if !(1..=MAX_PARTITIONS).contains(&self.partitions) {
            return bad(format!("partitions must be 1..={MAX_PARTITIONS}, got {}", self.partitions));
        }
        if let Some(ms) = self.retention_ms {
            if ms <= 0 {
                return bad(format!("retention must be positive, got {ms} ms"));
            }
        }
        if self.retention_bytes == Some(0) || self.retention_records == Some(0) {
            return bad("retention bytes and records must be positive".into());
        }
        if self.delete_retention_ms < 0 || self.segment_ms <= 0 {
            return bad("delete retention must be >= 0 and segment age > 0".into());
        }
        if !(1..=MAX_RECORD_BYTES_LIMIT).contains(&self.max_record_bytes) {
            return bad(format!(
                "max_record_bytes must be 1..={MAX_RECORD_BYTES_LIMIT}, got {}",
                self.max_record_bytes
            ));
        }
        if self.max_backlog == Some(0) {
            return bad("max_backlog must be positive".into());
        }
        if !(MIN_SEGMENT_BYTES..=MAX_SEGMENT_BYTES).contains(&self.segment_bytes) {
            return bad(format!(
                "segment_bytes must be {MIN_SEGMENT_BYTES}..={MAX_SEGMENT_BYTES}, got {}",
                self.segment_bytes
            ));
        }
        Ok(())
    }
}

/// The persisted description of a topic (`topics/<name>/topic.meta`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicMeta {
    pub name: String,
    pub config: TopicConfig,
    pub created_ms: i64,
}

const META_MAGIC: &[u8; 4] = b"LPTM";
const META_VERSION: u32 = 1;

impl TopicMeta {
    /// `magic, version u32, postcard body, crc32 u32` (crc over all before it).
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        out.extend_from_slice(META_MAGIC);
        out.extend_from_slice(&META_VERSION.to_le_bytes());
        let mut out = postcard::to_extend(self, out)
            .map_err(|e| Error::invalid(format!("cannot encode topic metadata: {e}")))?;
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    pub fn decode(buf: &[u8]) -> Result<TopicMeta> {
        let bad = |what: &str| Error::corrupt(format!("topic metadata: {what}"));
        if buf.len() < 12 {
            return Err(bad("too short"));
        }
        let (body, crc) = buf.split_at(buf.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]) {
            return Err(bad("CRC mismatch"));
        }
        if &body[..4] != META_MAGIC || body[4..8] != META_VERSION.to_le_bytes() {
            return Err(bad("unknown magic or version"));
        }
        let meta: TopicMeta = postcard::from_bytes(&body[8..]).map_err(|_| bad("malformed"))?;
        meta.config.validate().map_err(|_| bad("invalid config"))?;
        Ok(meta)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafka_name_rules() {
        for good in ["orders", "a", "A.b_c-9", "__consumer_offsets", &"x".repeat(249)] {
            validate_name(good).unwrap();
        }
        for bad in ["", ".", "..", "has space", "slash/y", "ümlaut", "star*", &"x".repeat(250)] {
            assert!(matches!(validate_name(bad), Err(Error::InvalidName(_))), "{bad:?}");
        }
        assert!(is_internal("__consumer_offsets"));
        assert!(!is_internal("_one"));
    }

    #[test]
    fn config_validation() {
        TopicConfig::default().validate().unwrap();
        let bad = [
            TopicConfig { partitions: 0, ..Default::default() },
            TopicConfig { retention_ms: Some(0), ..Default::default() },
            TopicConfig { retention_bytes: Some(0), ..Default::default() },
            TopicConfig { max_record_bytes: 0, ..Default::default() },
            TopicConfig { segment_bytes: 10, ..Default::default() },
            TopicConfig { max_backlog: Some(0), ..Default::default() },
        ];
        for c in bad {
            assert!(matches!(c.validate(), Err(Error::InvalidArgument(_))), "{c:?}");
        }
    }

    #[test]
    fn meta_round_trips_and_rejects_damage() {
        let meta = TopicMeta {
            name: "orders".into(),
            config: TopicConfig { partitions: 3, retention_ms: Some(5), ..Default::default() },
            created_ms: 42,
        };
        let bytes = meta.encode().unwrap();
        assert_eq!(TopicMeta::decode(&bytes).unwrap(), meta);
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(TopicMeta::decode(&bad).is_err(), "byte {i}");
        }
    }
}
