//! Model-based test of consumer groups: random joins, leaves, polls,
//! commits, session expiries, appends and reopens. Invariants: a partition
//! has at most one owner; within a member's tenure a partition is
//! delivered in offset order without gaps; nothing is ever skipped for the
//! group (a final drain sees every record at least once); a commit for a
//! partition the member does not own is refused and changes nothing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::manual;
use logpond::{Assignor, Consumer, ConsumerConfig, Error, NewRecord, OffsetReset, Pond, TopicConfig};
use proptest::prelude::*;

const PARTITIONS: u32 = 3;
const SLOTS: usize = 3;
const SESSION_MS: i64 = 1_000;

#[derive(Debug, Clone)]
enum Op {
    Join(usize),
    Leave(usize),
    Poll(usize, usize),
    /// One record through `next_record` (iteration).
    Next(usize),
    Commit(usize),
    CommitOther(usize, u32, u64),
    Advance(i64),
    Append(u32, u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..SLOTS).prop_map(Op::Join),
        1 => (0..SLOTS).prop_map(Op::Leave),
        6 => (0..SLOTS, 1usize..8).prop_map(|(s, n)| Op::Poll(s, n)),
        4 => (0..SLOTS).prop_map(Op::Next),
        2 => (0..SLOTS).prop_map(Op::Commit),
        1 => (0..SLOTS, 0..PARTITIONS, 0u64..30).prop_map(|(s, p, o)| Op::CommitOther(s, p, o)),
        2 => (0i64..800).prop_map(Op::Advance),
        3 => (0..PARTITIONS, 1u8..6).prop_map(|(p, n)| Op::Append(p, n)),
        1 => Just(Op::Reopen),
    ]
}

struct Harness {
    /// Opens a handle on the pond's storage.
    open: Box<dyn Fn() -> Arc<Pond>>,
    /// One handle, or two on one directory: slots alternate between them.
    ponds: Vec<Arc<Pond>>,
    slots: Vec<Option<Consumer>>,
    assignor: Assignor,
    /// Per (slot, partition): the next offset this consumer must deliver
    /// (its tenure's order), reset when the partition leaves it.
    expected_next: BTreeMap<(usize, u32), u64>,
    delivered: BTreeMap<u32, BTreeSet<u64>>,
    appended: BTreeMap<u32, u64>,
}

impl Harness {
    fn config(&self) -> ConsumerConfig {
        ConsumerConfig {
            auto_offset_reset: OffsetReset::Earliest,
            auto_commit: false,
            session_timeout_ms: SESSION_MS,
            assignor: self.assignor,
            ..ConsumerConfig::new("g", &["t"])
        }
    }

    fn owners(&self) -> BTreeMap<u32, Vec<usize>> {
        let mut out: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for (i, c) in self.slots.iter().enumerate() {
            if let Some(c) = c {
                for (_, p) in c.assignment().unwrap() {
                    out.entry(p).or_default().push(i);
                }
            }
        }
        out
    }

    fn forget_lost_partitions(&mut self) {
        let owners = self.owners();
        self.expected_next.retain(|(slot, p), _| owners.get(p).is_some_and(|o| o.contains(slot)));
    }

    fn check(&self) {
        for (p, owners) in self.owners() {
            assert!(owners.len() <= 1, "partition {p} has owners {owners:?}");
        }
    }
}

/// Runs `ops` on one memory pond, or (`handles` = 2) on two handles of one
/// directory, whose members then hand partitions over between handles.
fn run(ops: Vec<Op>, assignor: Assignor, handles: usize) {
    let (clock, options) = manual(0);
    let (_dir, open) = common::opener(handles > 1, options);
    let ponds: Vec<Arc<Pond>> = (0..handles).map(|_| open()).collect();
    ponds[0].create_topic("t", TopicConfig::with_partitions(PARTITIONS)).unwrap();
    let mut h = Harness {
        open,
        ponds,
        slots: (0..SLOTS).map(|_| None).collect(),
        assignor,
        expected_next: BTreeMap::new(),
        delivered: BTreeMap::new(),
        appended: BTreeMap::new(),
    };
    for op in ops {
        match op {
            Op::Join(s) => {
                if h.slots[s].is_none() {
                    h.slots[s] = Some(h.ponds[s % h.ponds.len()].consumer(h.config()).unwrap());
                }
            }
            Op::Leave(s) => {
                if let Some(c) = h.slots[s].take() {
                    c.close().unwrap();
                }
            }
            Op::Poll(s, _) | Op::Next(s) => {
                let Some(c) = &h.slots[s] else { continue };
                let member = c.member_id().unwrap();
                let records = match op {
                    Op::Poll(_, n) => {
                        let got = c.poll(n).unwrap();
                        assert!(got.len() <= n);
                        got
                    }
                    _ => c.next_record().unwrap().into_iter().collect(),
                };
                if c.member_id().unwrap() != member {
                    // Expired and rejoined: every tenure of this slot restarts.
                    h.expected_next.retain(|(slot, _), _| *slot != s);
                }
                let owned: BTreeSet<u32> = c.assignment().unwrap().into_iter().map(|(_, p)| p).collect();
                // A poll may have rebalanced: forget tenures that ended.
                h.expected_next.retain(|(slot, p), _| *slot != s || owned.contains(p));
                for r in &records {
                    assert!(owned.contains(&r.partition), "delivered from an unowned partition");
                    let committed = c.committed("t", r.partition).unwrap().unwrap_or(0);
                    let next = h.expected_next.entry((s, r.partition)).or_insert(committed);
                    assert_eq!(r.offset, *next, "partition {} delivered in order without gaps", r.partition);
                    *next += 1;
                    h.delivered.entry(r.partition).or_default().insert(r.offset);
                }
            }
            Op::Commit(s) => {
                if let Some(c) = &h.slots[s] {
                    match c.commit() {
                        Ok(()) | Err(Error::CommitFailed(_)) => {}
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            Op::CommitOther(s, p, o) => {
                let Some(c) = &h.slots[s] else { continue };
                let owns = c.assignment().unwrap().contains(&("t".to_string(), p));
                let before = c.committed("t", p).unwrap();
                // Commit no further than delivered (committing past undelivered
                // records would skip them by the user's own choice).
                let limit = if owns { c.position("t", p).unwrap() } else { o };
                if owns {
                    // Asking fixes the position: this tenure continues from it.
                    h.expected_next.entry((s, p)).or_insert(limit);
                }
                let result = c.commit_offsets(&[("t", p, o.min(limit))]);
                if owns {
                    result.unwrap();
                } else {
                    assert!(matches!(result, Err(Error::CommitFailed(_))));
                    assert_eq!(c.committed("t", p).unwrap(), before, "a refused commit changes nothing");
                }
            }
            Op::Advance(ms) => clock.advance(ms),
            Op::Append(p, n) => {
                for _ in 0..n {
                    h.ponds[p as usize % h.ponds.len()]
                        .send("t", NewRecord::value(b"r").with_partition(p))
                        .unwrap();
                }
                *h.appended.entry(p).or_default() += u64::from(n);
            }
            Op::Reopen => {
                // Like a crash: the pond goes first, so nobody leaves or commits.
                for pond in &h.ponds {
                    pond.close().unwrap();
                }
                for c in h.slots.iter_mut().filter_map(Option::take) {
                    drop(c);
                }
                h.expected_next.clear();
                let n = h.ponds.len();
                h.ponds = (0..n).map(|_| (h.open)()).collect();
            }
        }
        h.forget_lost_partitions();
        h.check();
    }
    // Never skipped: a fresh member of the group drains everything after the
    // committed offsets, and together with what was delivered it covers all.
    for c in h.slots.iter_mut().filter_map(Option::take) {
        drop(c);
    }
    clock.advance(10 * SESSION_MS);
    let last = h.ponds[0].consumer(h.config()).unwrap();
    loop {
        let batch = last.poll(50).unwrap();
        if batch.is_empty() {
            break;
        }
        for r in batch {
            h.delivered.entry(r.partition).or_default().insert(r.offset);
        }
    }
    for p in 0..PARTITIONS {
        let n = h.appended.get(&p).copied().unwrap_or(0);
        let got = h.delivered.get(&p).map_or(0, |s| s.len() as u64);
        assert_eq!(got, n, "partition {p}: every record delivered at least once");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sticky_groups_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, Assignor::CooperativeSticky, 1);
    }

    #[test]
    fn range_groups_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, Assignor::Range, 1);
    }

    #[test]
    fn round_robin_groups_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, Assignor::RoundRobin, 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn sticky_groups_over_two_handles_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, Assignor::CooperativeSticky, 2);
    }

    #[test]
    fn range_groups_over_two_handles_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, Assignor::Range, 2);
    }
}
