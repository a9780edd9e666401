//! Consumer groups (the log side): membership, assignment, positions and
//! committed offsets, over the log layer. The public handle, `Consumer`,
//! lives with the pond above.

pub mod assignor;
pub mod describe;
pub mod engine;
pub(crate) mod membership;
pub mod offsets;
