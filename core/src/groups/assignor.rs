//! Partition assignment strategies for consumer groups. Pure functions of
//! the members (in join order, each with its subscribed topics), the
//! partitions that exist, and (for the sticky assignor) who owned what.

use std::collections::{BTreeMap, BTreeSet};

/// A topic partition.
pub type TopicPartition = (String, u32);

/// How a group splits partitions between its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Assignor {
    /// Per topic, contiguous ranges of partitions; earlier members get one
    /// more when the count does not divide evenly.
    Range,
    /// All partitions, in (topic, partition) order, dealt to members in turn.
    RoundRobin,
    /// Balanced like round-robin, but a rebalance keeps every partition it
    /// can where it was: only the partitions that must move change hands.
    #[default]
    CooperativeSticky,
}

impl Assignor {
    pub fn parse(name: &str) -> Option<Assignor> {
        match name {
            "range" => Some(Assignor::Range),
            "round-robin" | "roundrobin" => Some(Assignor::RoundRobin),
            "cooperative-sticky" | "sticky" => Some(Assignor::CooperativeSticky),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => "range",
            Assignor::RoundRobin => "round-robin",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }
}

/// A member as assignors see it.
pub struct MemberSubscription<'a> {
    pub id: u64,
    pub topics: &'a [String],
}

/// Who owns each partition afterwards. Every partition some member
/// subscribes to is owned by exactly one subscribed member.
pub fn assign(
    assignor: Assignor,
    members: &[MemberSubscription<'_>],
    partitions: &BTreeMap<String, u32>,
    previous: &BTreeMap<TopicPartition, u64>,
) -> BTreeMap<TopicPartition, u64> {
    match assignor {
        Assignor::Range => range(members, partitions),
        Assignor::RoundRobin => round_robin(members, partitions),
        Assignor::CooperativeSticky => sticky(members, partitions, previous),
    }
}

fn subscribers(members: &[MemberSubscription<'_>], topic: &str) -> Vec<u64> {
    members.iter().filter(|m| m.topics.iter().any(|t| t == topic)).map(|m| m.id).collect()
}

fn range(
    members: &[MemberSubscription<'_>],
    partitions: &BTreeMap<String, u32>,
) -> BTreeMap<TopicPartition, u64> {
    let mut out = BTreeMap::new();
    for (topic, &count) in partitions {
        let subs = subscribers(members, topic);
        if subs.is_empty() {
            continue;
        }
        let n = subs.len() as u32;
        let (each, extra) = (count / n, count % n);
        let mut next = 0;
        for (i, member) in subs.iter().enumerate() {
            let take = each + u32::from((i as u32) < extra);
            for p in next..next + take {
                out.insert((topic.clone(), p), *member);
            }
            next += take;
        }
    }
    out
}

fn all_partitions(partitions: &BTreeMap<String, u32>) -> impl Iterator<Item = TopicPartition> + '_ {
    partitions.iter().flat_map(|(t, &n)| (0..n).map(move |p| (t.clone(), p)))
}

fn round_robin(
    members: &[MemberSubscription<'_>],
    partitions: &BTreeMap<String, u32>,
) -> BTreeMap<TopicPartition, u64> {
    let mut out = BTreeMap::new();
    let mut turn = 0usize;
    for tp in all_partitions(partitions) {
        // The next member in turn that subscribes to this topic.
        for step in 0..members.len() {
            let m = &members[(turn + step) % members.len()];
            if m.topics.contains(&tp.0) {
                out.insert(tp, m.id);
                turn = (turn + step + 1) % members.len();
                break;
            }
        }
    }
    out
}

fn sticky(
    members: &[MemberSubscription<'_>],
    partitions: &BTreeMap<String, u32>,
    previous: &BTreeMap<TopicPartition, u64>,
) -> BTreeMap<TopicPartition, u64> {
    let subscribed =
        |id: u64, topic: &str| members.iter().any(|m| m.id == id && m.topics.iter().any(|t| t == topic));
    let assignable: Vec<TopicPartition> = all_partitions(partitions)
        .filter(|(t, _)| members.iter().any(|m| m.topics.iter().any(|s| s == t)))
        .collect();
    if members.is_empty() {
        return BTreeMap::new();
    }
    // Balanced quotas: every member gets `floor` or `floor + 1`, the extra
    // ones going to members that already hold the most (so fewer move).
    let mut owned: BTreeMap<u64, BTreeSet<TopicPartition>> =
        members.iter().map(|m| (m.id, BTreeSet::new())).collect();
    let mut pool = Vec::new();
    for tp in &assignable {
        match previous.get(tp) {
            Some(&owner) if subscribed(owner, &tp.0) => {
                owned.entry(owner).or_default().insert(tp.clone());
            }
            _ => pool.push(tp.clone()),
        }
    }
    let n = members.len();
    let floor = assignable.len() / n;
    let mut extra = assignable.len() % n;
    let mut by_load: Vec<u64> = members.iter().map(|m| m.id).collect();
    by_load.sort_by_key(|id| std::cmp::Reverse(owned[id].len()));
    let mut quota: BTreeMap<u64, usize> = BTreeMap::new();
    for id in by_load {
        let q = floor + usize::from(extra > 0 && owned[&id].len() > floor);
        if q > floor {
            extra -= 1;
        }
        quota.insert(id, q);
    }
    // Anyone still short of a remainder slot gets it in join order.
    for m in members {
        if extra == 0 {
            break;
        }
        if quota[&m.id] == floor {
            quota.insert(m.id, floor + 1);
            extra -= 1;
        }
    }
    // Members over quota give up their highest partitions.
    for (id, set) in owned.iter_mut() {
        while set.len() > quota[id] {
            if let Some(tp) = set.pop_last() {
                pool.push(tp);
            }
        }
    }
    pool.sort();
    // Pool partitions go to the least-loaded subscribed member under quota,
    // or failing that (uneven subscriptions) the least-loaded subscriber.
    for tp in pool {
        let candidates = members.iter().filter(|m| m.topics.contains(&tp.0));
        let pick = candidates
            .clone()
            .filter(|m| owned[&m.id].len() < quota[&m.id])
            .min_by_key(|m| owned[&m.id].len())
            .or_else(|| candidates.min_by_key(|m| owned[&m.id].len()));
        if let Some(m) = pick {
            owned.entry(m.id).or_default().insert(tp);
        }
    }
    owned.into_iter().flat_map(|(id, set)| set.into_iter().map(move |tp| (tp, id))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(list: &[(&str, u32)]) -> BTreeMap<String, u32> {
        list.iter().map(|(t, n)| (t.to_string(), *n)).collect()
    }

    fn owners(a: &BTreeMap<TopicPartition, u64>, topic: &str, n: u32) -> Vec<u64> {
        (0..n).map(|p| a[&(topic.to_string(), p)]).collect()
    }

    #[test]
    fn range_gives_contiguous_blocks() {
        let t = vec!["t".to_string()];
        let members = [MemberSubscription { id: 1, topics: &t }, MemberSubscription { id: 2, topics: &t }];
        let a = assign(Assignor::Range, &members, &topics(&[("t", 5)]), &BTreeMap::new());
        assert_eq!(owners(&a, "t", 5), vec![1, 1, 1, 2, 2]);
    }

    #[test]
    fn round_robin_deals_in_turn_across_topics() {
        let t = vec!["a".to_string(), "b".to_string()];
        let members = [MemberSubscription { id: 1, topics: &t }, MemberSubscription { id: 2, topics: &t }];
        let a = assign(Assignor::RoundRobin, &members, &topics(&[("a", 3), ("b", 2)]), &BTreeMap::new());
        assert_eq!(owners(&a, "a", 3), vec![1, 2, 1]);
        assert_eq!(owners(&a, "b", 2), vec![2, 1]);
    }

    #[test]
    fn members_only_get_topics_they_subscribe_to() {
        let a_only = vec!["a".to_string()];
        let both = vec!["a".to_string(), "b".to_string()];
        let members =
            [MemberSubscription { id: 1, topics: &a_only }, MemberSubscription { id: 2, topics: &both }];
        for assignor in [Assignor::Range, Assignor::RoundRobin, Assignor::CooperativeSticky] {
            let a = assign(assignor, &members, &topics(&[("a", 2), ("b", 3), ("c", 1)]), &BTreeMap::new());
            assert_eq!(owners(&a, "b", 3), vec![2, 2, 2], "{assignor:?}");
            assert!(!a.contains_key(&("c".to_string(), 0)), "nobody subscribes to c");
            assert_eq!(a.len(), 5);
        }
    }

    #[test]
    fn sticky_moves_only_what_balance_requires() {
        let t = vec!["t".to_string()];
        let parts = topics(&[("t", 6)]);
        let two = [MemberSubscription { id: 1, topics: &t }, MemberSubscription { id: 2, topics: &t }];
        let first = assign(Assignor::CooperativeSticky, &two, &parts, &BTreeMap::new());
        let counts = |a: &BTreeMap<TopicPartition, u64>, id| a.values().filter(|o| **o == id).count();
        assert_eq!((counts(&first, 1), counts(&first, 2)), (3, 3));
        let three = [
            MemberSubscription { id: 1, topics: &t },
            MemberSubscription { id: 2, topics: &t },
            MemberSubscription { id: 3, topics: &t },
        ];
        let second = assign(Assignor::CooperativeSticky, &three, &parts, &first);
        let moved = first.iter().filter(|(tp, o)| second[*tp] != **o).count();
        assert_eq!(moved, 2, "exactly the two partitions the newcomer needs move");
        assert_eq!((counts(&second, 1), counts(&second, 2), counts(&second, 3)), (2, 2, 2));
        // Member 2 leaves: only its partitions move.
        let left = [MemberSubscription { id: 1, topics: &t }, MemberSubscription { id: 3, topics: &t }];
        let third = assign(Assignor::CooperativeSticky, &left, &parts, &second);
        for (tp, owner) in &second {
            if *owner != 2 {
                assert_eq!(third[tp], *owner, "{tp:?} stays put");
            }
        }
        assert_eq!((counts(&third, 1), counts(&third, 3)), (3, 3));
    }

    #[test]
    fn sticky_with_uneven_counts_stays_balanced() {
        let t = vec!["t".to_string()];
        let parts = topics(&[("t", 7)]);
        let mut previous = BTreeMap::new();
        let mut members = Vec::new();
        let ids: Vec<u64> = (1..=4).collect();
        for (k, _) in ids.iter().enumerate() {
            members = ids[..=k].iter().map(|id| MemberSubscription { id: *id, topics: &t }).collect();
            previous = assign(Assignor::CooperativeSticky, &members, &parts, &previous);
            let loads: Vec<usize> =
                members.iter().map(|m| previous.values().filter(|o| **o == m.id).count()).collect();
            let (min, max) = (loads.iter().min().unwrap(), loads.iter().max().unwrap());
            assert!(max - min <= 1, "loads {loads:?}");
            assert_eq!(loads.iter().sum::<usize>(), 7);
        }
        assert_eq!(members.len(), 4);
    }
}
