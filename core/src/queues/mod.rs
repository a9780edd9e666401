//! Queues (the traditional-broker side): subscriptions whose consumers
//! compete for records, with leases, acks, nacks and dead letters, over the
//! log layer. The public handle, `Queue`, lives with the pond above.

pub mod describe;
pub mod engine;
pub mod range_set;
pub mod subscription;
