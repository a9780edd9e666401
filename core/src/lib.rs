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
#![forbid(unsafe_code)]

mod assignor;
mod batch;
mod chunk_cache;
pub mod clock;
mod compaction;
mod consumer;
mod error;
pub mod fork;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod group;
mod index;
mod offsets;
mod partition;
pub mod partitioner;
mod pond;
mod queue;
mod range_set;
mod record;
mod segment;
pub mod storage;
mod subscription;
pub mod surface;
pub mod topic;
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod wait;
mod wire;

pub use assignor::{Assignor, TopicPartition};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock};
pub use consumer::{Consumer, ConsumerConfig};
pub use error::{Error, ErrorCode, Result};
pub use group::OffsetReset;
pub use partition::ReadLimits;
pub use pond::{AppendListener, Durability, PartitionInfo, Pond, PondOptions, TopicInfo, FORMAT_VERSION};
pub use queue::{dead_letter_headers, failure_backoff_ms, Delivery, DeliveryToken, Queue, QueueConfig};
pub use record::{NewRecord, Record, RecordMetadata};
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub use storage::FileStorage;
pub use storage::{FileMode, MemoryStorage, MirrorStorage, Storage, StorageFile};
pub use subscription::ParkedRecord;
pub use topic::{Cleanup, TopicConfig};
