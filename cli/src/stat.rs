//! `logpond stat`: one line per interval, as `redis-cli --stat` — what
//! went in and out of the pond, and what waits.

use std::io::Write;
use std::time::{Duration, Instant};

use logpond::Pond;
use serde_json::json;

use crate::{Failure, Outcome};

/// The pond's totals at one moment (its own topics; the pond's internal
/// ones are not listed).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Totals {
    /// Every record ever appended (the partitions' end offsets).
    appended: u64,
    /// Every offset the groups committed past, summed.
    committed: u64,
    /// Records the subscriptions settled: per subscription, its topic's
    /// appended records minus its backlog.
    settled: u64,
    /// The groups' lag, summed.
    lag: u64,
    /// The subscriptions' backlog, summed.
    backlog: u64,
    records: u64,
}

fn totals(pond: &Pond) -> Result<Totals, Failure> {
    let mut t = Totals::default();
    for topic in pond.topics()? {
        let info = pond.describe(&topic)?;
        let appended: u64 = info.partitions.iter().map(|p| p.end_offset).sum();
        t.appended += appended;
        t.records += info.partitions.iter().map(|p| p.end_offset - p.start_offset).sum::<u64>();
        for sub in pond.subscriptions(&topic)? {
            let backlog = pond.describe_subscription(&topic, &sub)?.backlog;
            t.backlog += backlog;
            t.settled += appended.saturating_sub(backlog);
        }
    }
    for group in pond.groups()? {
        let info = pond.describe_group(&group)?;
        t.lag += info.offsets.values().map(|o| o.lag).sum::<u64>();
        t.committed += info.offsets.values().filter_map(|o| o.committed).sum::<u64>();
    }
    Ok(t)
}

const HEADER: &str = "     time    records         in        out        lag    backlog";

/// Prints a line every `interval_ms` (the first at once, counting from
/// the pond as it was then), `count` lines or until interrupted; a header
/// every 20 lines.
pub fn run(pond: &Pond, interval_ms: i64, count: Option<u64>, json: bool, out: &mut impl Write) -> Outcome {
    let interval = u64::try_from(interval_ms)
        .ok()
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis)
        .ok_or_else(|| Failure("--interval must be positive".into()))?;
    let mut before = totals(pond)?;
    let mut next = Instant::now();
    let mut line = 0u64;
    while count.is_none_or(|n| line < n) {
        let now = totals(pond)?;
        let (went_in, went_out) = (
            now.appended.saturating_sub(before.appended),
            (now.committed + now.settled).saturating_sub(before.committed + before.settled),
        );
        let time = crate::when::format_clock(crate::when::now_ms());
        if json {
            let v = json!({
                "time": time, "records": now.records, "in": went_in, "out": went_out,
                "lag": now.lag, "backlog": now.backlog,
            });
            writeln!(out, "{v}")?;
        } else {
            if line.is_multiple_of(20) {
                writeln!(out, "{HEADER}")?;
            }
            writeln!(
                out,
                "{time:>9} {:>10} {went_in:>10} {went_out:>10} {:>10} {:>10}",
                now.records, now.lag, now.backlog
            )?;
        }
        out.flush()?;
        before = now;
        line += 1;
        if count.is_some_and(|n| line >= n) {
            break;
        }
        next += interval;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    Ok(0)
}
