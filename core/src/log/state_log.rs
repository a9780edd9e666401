//! A state log: the durable form of state that handles share and change in
//! small steps (a queue subscription, a consumer group) — a snapshot file
//! plus a log of the changes after it (an internal partition, `log/`).
//! A handle's memory holds the state replayed up to `replayed`; it catches
//! up on what other handles logged, and writes a snapshot every
//! [`SNAPSHOT_EVERY`] records, freeing the log before it. What the
//! snapshot and the records hold is its owner's (`queues::subscription`,
//! `groups::membership`).

use crate::log::batch::Origin;
use crate::log::chunk_cache::ChunkCache;
use crate::log::partition::{AppendContext, Partition, ReadLimits};
use crate::log::record::NewRecord;
use crate::log::topic::TopicConfig;
use crate::storage::{read_all, replace_file, Storage};
use crate::{Error, Result};

/// What a state log holds: events, how they change the state, and the
/// state's snapshot.
pub(crate) trait Replicated {
    type Event;
    fn encode_events(events: &[Self::Event]) -> Vec<u8>;
    /// `None` for bytes that are not events of this kind.
    fn decode_events(buf: &[u8]) -> Option<Vec<Self::Event>>;
    /// Applies an event another handle logged (or one logged before this
    /// handle opened).
    fn apply(&mut self, event: Self::Event);
    fn encode_snapshot(&self, replay_from: u64) -> Vec<u8>;
}

/// State-log records between snapshots.
pub(crate) const SNAPSHOT_EVERY: u64 = 4096;

fn log_config() -> TopicConfig {
    TopicConfig { segment_bytes: 4 << 20, ..TopicConfig::default() }
}

#[derive(Debug)]
pub(crate) struct StateLog {
    dir: String,
    log: Partition,
    records_since_snapshot: u64,
    /// The next offset to replay: records below it are in the state.
    replayed: u64,
}

impl StateLog {
    /// Creates the files of new state under `dir` (removing any left
    /// there), the snapshot last: its presence means the state exists.
    /// `snapshot` encodes the state given the offset replay starts from.
    pub fn create(
        storage: &dyn Storage,
        dir: String,
        origin: Origin,
        snapshot: impl FnOnce(u64) -> Vec<u8>,
        durable: bool,
    ) -> Result<StateLog> {
        storage.remove(&format!("{dir}/snapshot"))?;
        for stale in storage.list(&format!("{dir}/"))? {
            storage.remove(&stale)?;
        }
        let log = Partition::create(storage, format!("{dir}/log"), origin, durable)?;
        let mut state = StateLog { dir, log, records_since_snapshot: 0, replayed: 0 };
        state.snapshot(storage, snapshot, durable)?;
        Ok(state)
    }

    /// Opens the files under `dir`: decodes the snapshot (`decode` gives
    /// the state and the offset replay starts from; `shape` adjusts the
    /// state before replay) and replays the events logged after it.
    pub fn open<S: Replicated>(
        storage: &dyn Storage,
        (dir, origin): (String, Origin),
        chunks: &ChunkCache,
        durable: bool,
        decode: impl FnOnce(&[u8]) -> Option<(u64, S)>,
        shape: impl FnOnce(&mut S),
    ) -> Result<(StateLog, S)> {
        let log = Partition::open(storage, format!("{dir}/log"), origin, durable)?;
        let snapshot = read_all(&*storage.open(&format!("{dir}/snapshot"), false)?)?;
        let (replay_from, mut state) =
            decode(&snapshot).ok_or_else(|| Error::corrupt(format!("{dir}/snapshot is damaged")))?;
        shape(&mut state);
        let replayed = replay_from.max(log.start_offset());
        let mut log = StateLog { dir, log, records_since_snapshot: 0, replayed };
        log.replay_into(chunks, &mut state)?;
        Ok((log, state))
    }

    /// Calls `apply` with each record's offset and value from `replayed`
    /// to the log's end.
    fn replay(&mut self, chunks: &ChunkCache, mut apply: impl FnMut(u64, &[u8]) -> Result<()>) -> Result<()> {
        let limits = ReadLimits { max_records: 1024, max_bytes: usize::MAX };
        loop {
            let mut batch = Vec::new();
            self.log.read(self.replayed, limits, chunks, &mut batch)?;
            let Some(last) = batch.last() else { break };
            self.replayed = last.offset + 1;
            for record in &batch {
                let value = record.value.as_deref().ok_or_else(|| {
                    Error::corrupt(format!("{}/log: malformed event at {}", self.dir, record.offset))
                })?;
                apply(record.offset, value)?;
                self.records_since_snapshot += 1;
            }
        }
        Ok(())
    }

    /// Applies the events logged since the last replay to `state`.
    pub fn replay_into<S: Replicated>(&mut self, chunks: &ChunkCache, state: &mut S) -> Result<()> {
        let dir = self.dir.clone();
        self.replay(chunks, |offset, value| {
            let events = S::decode_events(value)
                .ok_or_else(|| Error::corrupt(format!("{dir}/log: malformed event at {offset}")))?;
            for e in events {
                state.apply(e);
            }
            Ok(())
        })
    }

    /// Takes in the events other handles logged since this one last looked
    /// (after listing the files again, when names changed). `Ok(false)`
    /// when they were snapshotted and freed before this handle replayed
    /// them: the caller opens the state again.
    pub fn catch_up_into<S: Replicated>(
        &mut self,
        storage: &dyn Storage,
        chunks: &ChunkCache,
        state: &mut S,
        names_changed: bool,
    ) -> Result<bool> {
        if !self.catch_up(storage, names_changed)? {
            return Ok(false);
        }
        self.replay_into(chunks, state)?;
        Ok(true)
    }

    /// Logs events already applied to `state` (one record), and a snapshot
    /// of `state` when one is due.
    pub fn log<S: Replicated>(
        &mut self,
        storage: &dyn Storage,
        events: &[S::Event],
        state: &S,
        fsync: bool,
        now_ms: i64,
    ) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        if self.append(storage, &S::encode_events(events), fsync, now_ms)? {
            self.snapshot(storage, |from| state.encode_snapshot(from), fsync)?;
        }
        Ok(())
    }

    /// Takes in the records other handles logged since this one last
    /// looked (after listing the files again, when names changed).
    /// `Ok(false)` when they were snapshotted and freed before this handle
    /// replayed them: the caller opens the state again.
    fn catch_up(&mut self, storage: &dyn Storage, names_changed: bool) -> Result<bool> {
        if names_changed {
            self.log.reload(storage)?;
        } else {
            self.log.catch_up(storage)?;
        }
        Ok(self.replayed >= self.log.start_offset())
    }

    /// Appends one record; returns whether a snapshot is due. The caller
    /// had replayed everything before it (it holds the pond's lock), and
    /// its state already holds this record's changes.
    fn append(&mut self, storage: &dyn Storage, value: &[u8], fsync: bool, now_ms: i64) -> Result<bool> {
        let record = NewRecord::value(value);
        let config = log_config();
        let ctx = AppendContext { storage, config: &config, fsync, now_ms };
        self.log.append(&ctx, std::slice::from_ref(&record))?;
        self.replayed = self.log.end_offset();
        self.records_since_snapshot += 1;
        Ok(self.records_since_snapshot >= SNAPSHOT_EVERY)
    }

    /// Whether records were logged since the last snapshot.
    pub fn has_unsnapshotted(&self) -> bool {
        self.records_since_snapshot > 0
    }

    /// Writes the whole state (`encode` gets the offset replay will start
    /// from) and frees the log before it.
    pub fn snapshot(
        &mut self,
        storage: &dyn Storage,
        encode: impl FnOnce(u64) -> Vec<u8>,
        durable: bool,
    ) -> Result<()> {
        let replay_from = self.log.end_offset();
        replace_file(storage, &format!("{}/snapshot", self.dir), &encode(replay_from), durable)?;
        self.log.delete_records(storage, replay_from, durable)?;
        self.records_since_snapshot = 0;
        Ok(())
    }

    /// Removes the files, the snapshot first: a crash part-way leaves a
    /// directory without a snapshot, which the next open clears.
    pub fn remove_files(&self, storage: &dyn Storage) -> Result<()> {
        storage.remove(&format!("{}/snapshot", self.dir))?;
        for name in storage.list(&format!("{}/", self.dir))? {
            storage.remove(&name)?;
        }
        Ok(())
    }

    pub fn sync(&self) -> Result<()> {
        self.log.sync()
    }
}
