//! Model-based test of queues against a tiny reference: random receives,
//! acks (current and stale), nacks with delays, clock advances, appends and
//! reopens, with several consumers on two subscriptions. Invariants: never
//! delivered to two consumers under live leases; delivery counts grow by
//! one per delivery, across reopens too; an ack or nack is accepted exactly
//! when the reference says so; and in the end every record is settled
//! exactly once per subscription (acked or dead-lettered), nothing lost.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use common::manual;
use logpond::{
    dead_letter_headers, Delivery, DeliveryToken, Error, NewRecord, Pond, Queue, QueueConfig, TopicConfig,
};
use proptest::prelude::*;

const SUBS: [&str; 2] = ["a", "b"];
const PER_SUB: usize = 2;
const ACK_TIMEOUT: i64 = 1_000;
const MAX_DELIVERIES: u32 = 3;

#[derive(Debug, Clone)]
enum Op {
    Receive(usize, usize),
    Ack(usize, usize),
    Nack(usize, usize, i64),
    StaleAck(usize, usize),
    Advance(i64),
    Append(u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    let slot = 0..SUBS.len() * PER_SUB;
    prop_oneof![
        5 => (slot.clone(), 1usize..5).prop_map(|(s, n)| Op::Receive(s, n)),
        4 => (slot.clone(), 0usize..8).prop_map(|(s, k)| Op::Ack(s, k)),
        2 => (slot.clone(), 0usize..8, 0i64..2_000).prop_map(|(s, k, d)| Op::Nack(s, k, d)),
        1 => (slot, 0usize..8).prop_map(|(s, k)| Op::StaleAck(s, k)),
        2 => (0i64..1_500).prop_map(Op::Advance),
        3 => (1u8..5).prop_map(Op::Append),
        1 => Just(Op::Reopen),
    ]
}

#[derive(Debug, Default, Clone)]
struct RecordModel {
    count: u32,
    last_token: Option<DeliveryToken>,
    settled: bool,
    /// Settled by an ack (rather than dead-lettered).
    acked: bool,
    /// (slot, deadline) of the live lease, if any.
    lease: Option<(usize, i64)>,
}

fn config(sub: &str) -> QueueConfig {
    let mut c = QueueConfig { ack_timeout_ms: Some(ACK_TIMEOUT), max_in_flight: 6, ..QueueConfig::new(sub) };
    if sub == "a" {
        c.max_deliveries = Some(MAX_DELIVERIES);
        c.dead_letter_topic = Some("dlq".into());
    }
    c
}

struct World {
    /// Opens a handle on the pond's storage.
    open: Box<dyn Fn() -> Arc<Pond>>,
    /// One handle, or two on one directory: consumer slots alternate
    /// between them.
    ponds: Vec<Arc<Pond>>,
    queues: Vec<Queue>,
    held: Vec<Vec<Delivery>>,
    history: Vec<Vec<DeliveryToken>>,
    model: Vec<BTreeMap<u64, RecordModel>>,
    appended: u64,
}

impl World {
    fn attach(&mut self) {
        self.queues = (0..SUBS.len() * PER_SUB)
            .map(|s| self.ponds[s % self.ponds.len()].queue("t", config(SUBS[s / PER_SUB])).unwrap())
            .collect();
        self.held = (0..self.queues.len()).map(|_| Vec::new()).collect();
        self.history = (0..self.queues.len()).map(|_| Vec::new()).collect();
    }

    fn expect_settle(&mut self, slot: usize, token: DeliveryToken) -> bool {
        let m = self.model[slot / PER_SUB].entry(token.offset).or_default();
        m.last_token == Some(token) && !m.settled
    }
}

/// Runs `ops` on one memory pond, or (`handles` = 2) on two handles of one
/// directory.
fn run(ops: Vec<Op>, handles: usize) {
    let (clock, options) = manual(0);
    let (_dir, open) = common::opener(handles > 1, options);
    let ponds: Vec<Arc<Pond>> = (0..handles).map(|_| open()).collect();
    ponds[0].create_topic("t", TopicConfig::default()).unwrap();
    let mut w = World {
        open,
        ponds,
        queues: Vec::new(),
        held: Vec::new(),
        history: Vec::new(),
        model: vec![BTreeMap::new(); SUBS.len()],
        appended: 0,
    };
    w.attach();
    for op in ops {
        let now = clock.now_ms_value();
        match op {
            Op::Receive(slot, n) => {
                let got = w.queues[slot].receive(n).unwrap();
                let sub = slot / PER_SUB;
                for d in got {
                    let m = w.model[sub].entry(d.record.offset).or_default();
                    assert!(!m.settled, "a settled record was delivered again");
                    if let Some((holder, deadline)) = m.lease {
                        assert!(
                            deadline <= now || holder == slot,
                            "delivered under another consumer's live lease"
                        );
                        assert!(deadline <= now, "delivered again under its own live lease");
                    }
                    assert_eq!(d.delivery_count, m.count + 1, "counts grow by one per delivery");
                    m.count = d.delivery_count;
                    m.last_token = Some(d.token);
                    m.lease = Some((slot, now + ACK_TIMEOUT));
                    w.history[slot].push(d.token);
                    w.held[slot].push(d);
                }
                // Records past their deliveries were dead-lettered (settled) by this receive.
                for offset in dead_letters(&w.ponds[0]).keys() {
                    w.model[0].entry(*offset).or_default().settled = true;
                }
            }
            Op::Ack(slot, k) | Op::Nack(slot, k, _) if k >= w.held[slot].len() => {}
            Op::Ack(slot, k) => {
                let d = w.held[slot].remove(k);
                let expected = w.expect_settle(slot, d.token);
                let result = w.queues[slot].ack(d.token);
                assert_eq!(result.is_ok(), expected, "ack accepted exactly when current: {result:?}");
                if let Err(e) = result {
                    assert!(matches!(e, Error::LeaseExpired(_)));
                } else {
                    let m = w.model[slot / PER_SUB].get_mut(&d.token.offset).unwrap();
                    m.settled = true;
                    m.acked = true;
                    m.lease = None;
                }
            }
            Op::Nack(slot, k, delay) => {
                let d = w.held[slot].remove(k);
                let expected = w.expect_settle(slot, d.token);
                let result = w.queues[slot].nack(d.token, Some(delay));
                assert_eq!(result.is_ok(), expected, "nack accepted exactly when current: {result:?}");
                if result.is_ok() {
                    w.model[slot / PER_SUB].get_mut(&d.token.offset).unwrap().lease = None;
                }
            }
            Op::StaleAck(slot, k) => {
                let Some(&token) = w.history[slot].get(k) else { continue };
                let expected = w.expect_settle(slot, token);
                let result = w.queues[slot].ack(token);
                assert_eq!(result.is_ok(), expected, "stale ack: {result:?}");
                if result.is_ok() {
                    let m = w.model[slot / PER_SUB].get_mut(&token.offset).unwrap();
                    m.settled = true;
                    m.acked = true;
                    m.lease = None;
                }
            }
            Op::Advance(ms) => clock.advance(ms),
            Op::Append(n) => {
                for _ in 0..n {
                    w.ponds[w.appended as usize % w.ponds.len()].send("t", NewRecord::value(b"job")).unwrap();
                }
                w.appended += u64::from(n);
            }
            Op::Reopen => {
                w.queues.clear();
                w.held.clear();
                let n = w.ponds.len();
                w.ponds.clear();
                w.ponds = (0..n).map(|_| (w.open)()).collect();
                for sub in &mut w.model {
                    for m in sub.values_mut() {
                        m.lease = None; // leases are released by a reopen
                        m.last_token = None; // and old tokens belong to the old pond
                    }
                }
                w.attach();
            }
        }
    }
    // Drain: every record ends settled exactly once per subscription.
    clock.advance(100 * ACK_TIMEOUT);
    for (sub, name) in SUBS.iter().enumerate() {
        let q = &w.queues[sub * PER_SUB];
        loop {
            clock.advance(ACK_TIMEOUT);
            let got = q.receive(100).unwrap();
            if got.is_empty() {
                break;
            }
            for d in got {
                let m = w.model[sub].entry(d.record.offset).or_default();
                assert!(!m.settled);
                q.ack(d.token).unwrap();
                m.settled = true;
                m.acked = true;
            }
        }
        assert_eq!(q.backlog().unwrap(), 0, "subscription {name}");
    }
    let dead = dead_letters(&w.ponds[0]);
    for (sub, _) in SUBS.iter().enumerate() {
        for offset in 0..w.appended {
            let acked = w.model[sub].get(&offset).is_some_and(|m| m.acked);
            let dead_lettered = sub == 0 && dead.contains_key(&offset);
            assert!(
                acked ^ dead_lettered,
                "sub {sub} offset {offset}: acked {acked}, dead-lettered {dead_lettered}"
            );
        }
    }
    assert!(dead.values().all(|n| *n == 1), "dead-lettered once: {dead:?}");
}

/// Dead letters of subscription "a", by origin offset: how many of each.
fn dead_letters(pond: &Pond) -> BTreeMap<u64, usize> {
    let mut dead = BTreeMap::new();
    if !pond.has_topic("dlq").unwrap() {
        return dead;
    }
    let limits = logpond::ReadLimits { max_records: 100_000, max_bytes: usize::MAX };
    for r in pond.read("dlq", 0, 0, limits).unwrap() {
        let header = |n: &str| r.headers.iter().find(|(h, _)| h == n).map(|(_, v)| v.clone()).unwrap();
        assert_eq!(&header(dead_letter_headers::SUBSCRIPTION)[..], b"a");
        let offset: u64 = String::from_utf8_lossy(&header(dead_letter_headers::OFFSET)).parse().unwrap();
        *dead.entry(offset).or_default() += 1;
    }
    dead
}

trait Now {
    fn now_ms_value(&self) -> i64;
}

impl Now for logpond::ManualClock {
    fn now_ms_value(&self) -> i64 {
        logpond::Clock::now_ms(self)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn queues_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn queues_over_two_handles_match_model(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops, 2);
    }
}
