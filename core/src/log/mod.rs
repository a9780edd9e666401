//! The log layer: records, batches and their on-disk frames, segments with
//! their sparse indexes, partitions, compaction and retention, and the
//! topics made of them. Below it is only the storage trait; above it the
//! consumer groups and queues.

pub mod batch;
pub mod chunk_cache;
pub mod compaction;
pub mod index;
pub mod partition;
pub mod partitioner;
pub mod record;
pub mod segment;
pub(crate) mod state_log;
pub mod topic;
pub mod topics;
pub mod wire;
