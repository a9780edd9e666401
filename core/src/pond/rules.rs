//! Rules of the whole pond, which see the log, the groups and the queues
//! at once: producer backpressure (the queues' backlogs bound the log's
//! appends) and freeing what every consumer has settled. Run under the
//! pond's lock.

use crate::groups::engine;
use crate::log::topics::Env;
use crate::pond::State;
use crate::queues::engine::{backlog, settled_floors, subscription_keys};
use crate::{Error, Result};

/// Refuses an append of `incoming` records to a topic whose slowest
/// subscription would then hold more than `max_backlog` unsettled records.
pub(crate) fn check_backpressure(
    state: &State,
    topic: &str,
    max_backlog: Option<u64>,
    incoming: usize,
) -> Result<()> {
    let Some(limit) = max_backlog else { return Ok(()) };
    for key in subscription_keys(&state.queues, topic) {
        let unsettled = backlog(&state.topics, &state.queues, key)?;
        if unsettled + incoming as u64 > limit {
            return Err(Error::Backpressure(format!(
                "subscription {:?} of topic {topic:?} holds {unsettled} unsettled records; \
                 {incoming} more would pass max_backlog {limit}",
                key.1
            )));
        }
    }
    Ok(())
}

/// For topics that keep records only until settled: frees the whole
/// segments below what every subscription (and every group with a
/// committed offset) has settled.
pub(crate) fn free_settled(state: &mut State, env: &Env<'_>, topic: &str) -> Result<()> {
    let Some(t) = state.topics.get(topic) else { return Ok(()) };
    if !t.meta.config.retain_until_acked {
        return Ok(());
    }
    for p in 0..t.partitions.len() as u32 {
        let floors =
            settled_floors(&state.queues, topic, p).chain(engine::committed_offsets(&state.groups, topic, p));
        let Some(floor) = floors.min() else { continue };
        if let Some(t) = state.topics.get_mut(topic) {
            t.partition_mut(p)?.free_segments_below(env.storage, floor)?;
        }
    }
    Ok(())
}
