//! Committed group offsets are records of the internal compacted topic
//! `__consumer_offsets` (one partition), keyed by (group, topic, partition).
//! The newest record per key wins; a tombstone forgets the offset.
//!
//! ```text
//! key:   u8 version (1), varint len + group utf-8, varint len + topic utf-8, u32 LE partition
//! value: u8 version (1), u64 LE next offset to read, i64 LE commit time (epoch ms)
//! ```

use crate::log::topic::{Cleanup, TopicConfig};
use crate::log::wire::{put_bytes, Wire};

pub const OFFSETS_TOPIC: &str = "__consumer_offsets";
const VERSION: u8 = 1;

/// (group, topic, partition)
pub type OffsetKey = (String, String, u32);

pub fn topic_config() -> TopicConfig {
    TopicConfig { partitions: 1, cleanup: Cleanup::Compact, segment_bytes: 1 << 20, ..TopicConfig::default() }
}

pub fn encode_key(group: &str, topic: &str, partition: u32) -> Vec<u8> {
    let mut out = Vec::with_capacity(group.len() + topic.len() + 8);
    out.push(VERSION);
    put_bytes(&mut out, group.as_bytes());
    put_bytes(&mut out, topic.as_bytes());
    out.extend_from_slice(&partition.to_le_bytes());
    out
}

pub fn encode_value(offset: u64, commit_ms: i64) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = VERSION;
    out[1..9].copy_from_slice(&offset.to_le_bytes());
    out[9..17].copy_from_slice(&commit_ms.to_le_bytes());
    out
}

pub fn decode_key(key: &[u8]) -> Option<OffsetKey> {
    let (&version, rest) = key.split_first()?;
    if version != VERSION {
        return None;
    }
    let mut wire = Wire::new(rest);
    let group = wire.str()?.to_string();
    let topic = wire.str()?.to_string();
    let p: [u8; 4] = wire.rest.try_into().ok()?;
    Some((group, topic, u32::from_le_bytes(p)))
}

pub fn decode_value(value: &[u8]) -> Option<u64> {
    if value.len() != 17 || value[0] != VERSION {
        return None;
    }
    let mut a = [0u8; 8];
    a.copy_from_slice(&value[1..9]);
    Some(u64::from_le_bytes(a))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_round_trip() {
        let key = encode_key("billing", "orders", 7);
        assert_eq!(decode_key(&key), Some(("billing".into(), "orders".into(), 7)));
        assert_eq!(decode_value(&encode_value(42, 1_000)), Some(42));
        assert_eq!(decode_key(&key[..key.len() - 1]), None);
        assert_eq!(decode_key(&[2, 0, 0, 0, 0, 0, 0]), None);
        assert_eq!(decode_value(&[1, 2, 3]), None);
    }
}
