//! logpond: an embeddable event broker. Partitioned, replayable logs (the
//! Kafka half) over a pluggable [`Storage`], with no server, no async and
//! no threads of its own.
//!
//! ```
//! use logpond::{NewRecord, Pond, ReadLimits, TopicConfig};
//! let pond = Pond::memory();
//! pond.create_topic("orders", TopicConfig::with_partitions(3))?;
//! let md = pond.send("orders", NewRecord::keyed(b"customer-7", b"{\"total\": 12}"))?;
//! let records = pond.read("orders", md.partition, 0, ReadLimits::default())?;
//! assert_eq!(records[0].value.as_deref(), Some(&b"{\"total\": 12}"[..]));
//! # Ok::<(), logpond::Error>(())
//! ```
//!
//! Layers, each using only those below it:
//! - `storage`: named byte files (memory, files, a mirror for async stores);
//! - `log`: records, batches, segments, partitions, topics;
//! - `groups` and `queues`: the two consumption engines, over the log;
//! - `pond`: the broker (one lock over the state of the three) and its
//!   handles, `Pond`, `Consumer` and `Queue`.
//!
//! Beside them: `error`, `clock`, `fork`, `wait` and `surface` (the option
//! names and defaults every binding offers).
#![forbid(unsafe_code)]

pub mod clock;
mod error;
pub mod fork;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod groups;
mod holder;
mod log;
mod pond;
mod queues;
pub mod storage;
pub mod surface;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod wait;

pub use log::{partitioner, topic};

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use error::{Error, ErrorCode, Result};
pub use groups::assignor::{Assignor, TopicPartition};
pub use groups::describe::{GroupInfo, GroupMember, OffsetInfo};
pub use groups::engine::OffsetReset;
pub use log::partition::ReadLimits;
pub use log::record::{schedule_headers, NewRecord, Record, RecordMetadata, Schedule};
pub use log::topic::{Cleanup, TopicConfig};
pub use pond::consumer::{Consumer, ConsumerConfig};
pub use pond::queue::Queue;
pub use pond::{
    AppendListener, Damage, Durability, PartitionInfo, Pond, PondOptions, TopicInfo, FORMAT_VERSION,
};
pub use queues::describe::SubscriptionInfo;
pub use queues::engine::{
    dead_letter_headers, failure_backoff_ms, Delivery, DeliveryToken, QueueConfig, SettingsUpdate,
    FAILURE_BACKOFF_MS,
};
pub use queues::subscription::{ParkedRecord, SubscriptionSettings};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use storage::FileStorage;
pub use storage::{FileMode, MemoryStorage, MirrorStorage, Storage, StorageFile};
