//! A set of u64 offsets kept as disjoint, non-adjacent half-open ranges.

use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (exclusive); ranges never touch or overlap.
    ranges: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// Inserts `[start, end)`, merging with neighbours.
    pub fn insert_range(&mut self, mut start: u64, mut end: u64) {
        if start >= end {
            return;
        }
        if let Some((&s, &e)) = self.ranges.range(..=start).next_back() {
            if e >= start {
                start = s;
                end = end.max(e);
                self.ranges.remove(&s);
            }
        }
        while let Some((&s, &e)) = self.ranges.range(start..=end).next() {
            end = end.max(e);
            self.ranges.remove(&s);
        }
        self.ranges.insert(start, end);
    }

    pub fn contains(&self, offset: u64) -> bool {
        self.ranges.range(..=offset).next_back().is_some_and(|(_, &e)| offset < e)
    }

    /// If a range starts exactly at `floor`, removes it and returns its end.
    pub fn take_from(&mut self, floor: u64) -> Option<u64> {
        let end = *self.ranges.get(&floor)?;
        self.ranges.remove(&floor);
        Some(end)
    }

    /// The end of the range holding `offset`, if one does.
    pub fn end_of(&self, offset: u64) -> Option<u64> {
        self.ranges.range(..=offset).next_back().map(|(_, &e)| e).filter(|&e| offset < e)
    }

    /// How many offsets the set holds.
    pub fn len(&self) -> u64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.ranges.iter().map(|(s, e)| (*s, *e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn behaves_like_a_set(ops in proptest::collection::vec((0u64..60, 0u64..5, any::<bool>()), 0..80)) {
            let mut set = RangeSet::default();
            let mut model = std::collections::BTreeSet::new();
            for (start, len, take) in ops {
                if take {
                    if let Some(end) = set.take_from(start) {
                        prop_assert!(model.contains(&start) && !model.contains(&(start.wrapping_sub(1))) || start == 0);
                        model.retain(|o| *o < start || *o >= end);
                    }
                } else {
                    set.insert_range(start, start + len);
                    model.extend(start..start + len);
                }
                prop_assert_eq!(set.len(), model.len() as u64);
                for o in 0..70 {
                    prop_assert_eq!(set.contains(o), model.contains(&o), "offset {}", o);
                }
                let ranges: Vec<_> = set.ranges().collect();
                prop_assert!(ranges.windows(2).all(|w| w[0].1 < w[1].0), "disjoint, not touching: {:?}", ranges);
            }
        }
    }

    #[test]
    fn take_from_the_floor() {
        let mut set = RangeSet::default();
        set.insert_range(5, 8);
        set.insert_range(10, 11);
        assert_eq!(set.take_from(4), None);
        assert_eq!(set.take_from(5), Some(8));
        assert_eq!(set.len(), 1);
    }
}
