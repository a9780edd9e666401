//! `logpond`: look into and drive a pond from a shell (README, "Command
//! line"). Commands that only look open the pond read-only, so they run
//! beside live processes. One implementation: the `logpond` binary, the
//! Python console script and the Node package's `bin` all call [`run`].
//!
//! Exit codes: 0 done; 1 a check found problems; 2 the command could not
//! run (bad flags, no pond, an unknown topic, an I/O error), with one line
//! on stderr.

mod show;
mod stat;
mod when;

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use logpond::{Cleanup, NewRecord, Pond, PondOptions, ReadLimits, Record, TopicConfig};
use serde_json::json;

#[derive(Parser)]
#[command(name = "logpond", version, about = "Look into and drive a logpond pond from a shell")]
struct Cli {
    /// The pond directory.
    #[arg(long, env = "LOGPOND_POND", global = true, value_name = "DIR")]
    pond: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The topics, with their partitions, records and bytes.
    Topics(JsonFlag),
    /// One topic: its settings and partitions.
    Describe {
        topic: String,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// Creates a topic (and the pond, when the directory has none).
    CreateTopic(CreateTopic),
    /// Sends VALUE, or one record per line of standard input.
    Send(Send),
    /// Prints records: the last few of each partition, or from a start,
    /// and with -f new ones as they come.
    Tail(Tail),
    /// Checks every batch's CRC in every topic; exit 1 when anything is
    /// damaged (each damaged stretch is named).
    Verify(JsonFlag),
    /// The consumer groups, with their generation, members and lag.
    Groups(JsonFlag),
    /// Per partition of a group (or of every group): committed offset, log
    /// end offset, lag and consumer, as `kafka-consumer-groups --describe`.
    /// Joins nothing.
    Lag {
        group: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// The queue subscriptions of a topic (or of every topic): backlog, in
    /// flight, dead-lettered, parked, expired, the age of the oldest
    /// unacked record, and the stored settings. Attaches to none.
    Subscriptions {
        topic: Option<String>,
        #[command(flatten)]
        json: JsonFlag,
    },
    /// One line per interval, as `redis-cli --stat`: records appended
    /// (in) and consumed (out: committed by groups, settled by
    /// subscriptions) in the interval, the groups' lag and the
    /// subscriptions' backlog, summed over the pond's topics.
    Stat(Stat),
}

#[derive(Args)]
struct Stat {
    /// The time between lines (250ms, 1s, 1m).
    #[arg(long, default_value = "1s", value_name = "DURATION", value_parser = when::parse_duration_ms)]
    interval: i64,
    /// Stop after COUNT lines (default: until interrupted).
    #[arg(short = 'n', long = "count", value_name = "COUNT")]
    count: Option<u64>,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct JsonFlag {
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CreateTopic {
    topic: String,
    #[arg(long, default_value_t = 1)]
    partitions: u32,
    /// Keep the last record per key (log compaction).
    #[arg(long)]
    compact: bool,
    /// Delete records older than this (250ms, 10s, 5m, 7d).
    #[arg(long, value_name = "DURATION", value_parser = when::parse_duration_ms)]
    retention: Option<i64>,
    #[arg(long, value_name = "BYTES")]
    retention_bytes: Option<u64>,
    #[arg(long, value_name = "RECORDS")]
    retention_records: Option<u64>,
    #[arg(long, value_name = "BYTES")]
    max_record_bytes: Option<u32>,
    #[arg(long, value_name = "BYTES")]
    segment_bytes: Option<u64>,
}

#[derive(Args)]
struct Send {
    topic: String,
    /// The value; without it, each line of standard input is one record.
    value: Option<String>,
    #[arg(long)]
    key: Option<String>,
    /// A header, NAME=VALUE (repeat for more).
    #[arg(long = "header", value_name = "NAME=VALUE", value_parser = header)]
    headers: Vec<(String, String)>,
    #[arg(long)]
    partition: Option<u32>,
    /// Print each record's metadata as a JSON line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct Tail {
    topic: String,
    /// Follow: print new records as they are sent, until interrupted.
    #[arg(short = 'f', long)]
    follow: bool,
    /// Start at each partition's first record.
    #[arg(long, conflicts_with_all = ["offset", "since"])]
    from_beginning: bool,
    /// Start at this offset.
    #[arg(long, conflicts_with = "since")]
    offset: Option<u64>,
    /// Start at the first record at or after TIME: a duration ago (10m),
    /// an RFC 3339 time or epoch milliseconds.
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// One partition only.
    #[arg(long)]
    partition: Option<u32>,
    /// kcat-like: %t topic, %p partition, %o offset, %k key, %s value,
    /// %T timestamp (ms), %h headers; \n \t.
    #[arg(long, default_value = "%s\\n", conflicts_with = "json")]
    format: String,
    /// One JSON object per line.
    #[arg(long)]
    json: bool,
    /// Without a start: the last COUNT records of each partition (10).
    /// With one: stop after COUNT records.
    #[arg(short = 'n', long = "count", value_name = "COUNT")]
    count: Option<u64>,
}

fn header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text.split_once('=').ok_or_else(|| format!("{text:?}: a header is NAME=VALUE"))?;
    Ok((name.to_string(), value.to_string()))
}

/// What makes a command fail: its one line for stderr.
struct Failure(String);

impl From<logpond::Error> for Failure {
    fn from(e: logpond::Error) -> Failure {
        Failure(e.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Failure {
        Failure(e.to_string())
    }
}

type Outcome = Result<u8, Failure>;

/// Runs the command line `args` (without the program name) and returns
/// the exit code; prints to this process's standard output and error.
pub fn run(args: impl IntoIterator<Item = String>) -> u8 {
    let cli = match Cli::try_parse_from(std::iter::once("logpond".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout (exit 0), usage errors to stderr (exit 2).
            let _ = e.print();
            return u8::try_from(e.exit_code()).unwrap_or(2);
        }
    };
    let result = match cli.pond.clone() {
        None => Err(Failure("no pond: give --pond DIR or set LOGPOND_POND".into())),
        Some(dir) => run_command(&dir, cli.command),
    };
    let _ = std::io::stdout().flush();
    match result {
        Ok(code) => code,
        // A closed stdout (`| head`) is not a failure of the command.
        Err(Failure(why)) if why.contains("Broken pipe") => 0,
        Err(Failure(why)) => {
            eprintln!("logpond: {}", why.lines().next().unwrap_or(""));
            2
        }
    }
}

fn run_command(dir: &std::path::Path, command: Command) -> Outcome {
    let reading = || Pond::open_with(dir, PondOptions { read_only: true, ..PondOptions::default() });
    let mut out = std::io::stdout().lock();
    match command {
        Command::Topics(JsonFlag { json }) => topics(&reading()?, json, &mut out),
        Command::Describe { topic, json } => describe(&reading()?, &topic, json.json, &mut out),
        Command::CreateTopic(args) => create_topic(&Pond::open(dir)?, args),
        Command::Send(args) => {
            if !dir.is_dir() {
                return Err(Failure(format!("{}: no such pond directory", dir.display())));
            }
            send(&Pond::open(dir)?, args, &mut out)
        }
        Command::Tail(args) => tail(&reading()?, args, &mut out),
        Command::Verify(JsonFlag { json }) => verify(&reading()?, json, &mut out),
        Command::Groups(JsonFlag { json }) => groups(&reading()?, json, &mut out),
        Command::Lag { group, json } => lag(&reading()?, group, json.json, &mut out),
        Command::Subscriptions { topic, json } => subscriptions(&reading()?, topic, json.json, &mut out),
        Command::Stat(args) => stat::run(&reading()?, args.interval, args.count, args.json, &mut out),
    }
}

fn subscriptions(pond: &Pond, topic: Option<String>, json: bool, out: &mut impl Write) -> Outcome {
    let topics = match topic {
        Some(t) => vec![t],
        None => pond.topics()?,
    };
    let mut items = Vec::new();
    for topic in topics {
        for name in pond.subscriptions(&topic)? {
            let i = pond.describe_subscription(&topic, &name)?;
            let s = &i.settings;
            let none = || "-".to_string();
            let count = |n: Option<u32>| n.map_or_else(none, |n| n.to_string());
            let backoff = s.retry_backoff_ms.map_or_else(none, |(a, b)| {
                format!("{}..{}", when::format_duration_ms(a), when::format_duration_ms(b))
            });
            let row = vec![
                i.topic.clone(),
                i.subscription.clone(),
                i.backlog.to_string(),
                i.in_flight.to_string(),
                i.dead_lettered.to_string(),
                i.parked.to_string(),
                i.expired.to_string(),
                i.oldest_unacked_age_ms.map_or_else(none, when::format_duration_ms),
                when::format_duration_ms(s.ack_timeout_ms),
                count(s.max_deliveries),
                s.dead_letter_topic.clone().unwrap_or_else(none),
                backoff,
            ];
            let value = json!({
                "topic": i.topic, "subscription": i.subscription, "backlog": i.backlog,
                "in_flight": i.in_flight, "dead_lettered": i.dead_lettered, "parked": i.parked,
                "expired": i.expired, "oldest_unacked_age_ms": i.oldest_unacked_age_ms,
                "settings": {
                    "ack_timeout_ms": s.ack_timeout_ms, "max_deliveries": s.max_deliveries,
                    "dead_letter_topic": s.dead_letter_topic,
                    "retry_backoff_ms": s.retry_backoff_ms.map(|(a, b)| [a, b]),
                },
            });
            items.push((value, row));
        }
    }
    let header = [
        "TOPIC",
        "SUBSCRIPTION",
        "BACKLOG",
        "IN-FLIGHT",
        "DEAD-LETTERED",
        "PARKED",
        "EXPIRED",
        "OLDEST-UNACKED",
        "ACK-TIMEOUT",
        "MAX-DELIVERIES",
        "DEAD-LETTER-TOPIC",
        "RETRY-BACKOFF",
    ];
    write!(out, "{}", show::listing(json, &header, items))?;
    Ok(0)
}

fn groups(pond: &Pond, json: bool, out: &mut impl Write) -> Outcome {
    let mut items = Vec::new();
    for name in pond.groups()? {
        let i = pond.describe_group(&name)?;
        let lag: u64 = i.offsets.values().map(|o| o.lag).sum();
        let members = i.members.len();
        let row = vec![i.group.clone(), i.generation.to_string(), members.to_string(), lag.to_string()];
        items.push((
            json!({"group": i.group, "generation": i.generation, "members": members, "lag": lag}),
            row,
        ));
    }
    write!(out, "{}", show::listing(json, &["GROUP", "GENERATION", "MEMBERS", "LAG"], items))?;
    Ok(0)
}

fn lag(pond: &Pond, group: Option<String>, json: bool, out: &mut impl Write) -> Outcome {
    let names = match group {
        Some(g) => vec![g],
        None => pond.groups()?,
    };
    let mut items = Vec::new();
    for name in names {
        let info = pond.describe_group(&name)?;
        for ((topic, partition), o) in &info.offsets {
            let show = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
            let row = vec![
                name.clone(),
                topic.clone(),
                partition.to_string(),
                show(o.committed),
                o.end.to_string(),
                o.lag.to_string(),
                show(o.consumer),
            ];
            let value = json!({
                "group": name, "topic": topic, "partition": partition, "current_offset": o.committed,
                "log_end_offset": o.end, "lag": o.lag, "consumer": o.consumer,
            });
            items.push((value, row));
        }
    }
    let header = ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID"];
    write!(out, "{}", show::listing(json, &header, items))?;
    Ok(0)
}

fn verify(pond: &Pond, json: bool, out: &mut impl Write) -> Outcome {
    use std::io::IsTerminal;
    let show_progress = std::io::stderr().is_terminal();
    let mut last_shown = std::time::Instant::now();
    let mut checked = 0;
    let damage = pond.verify(&mut |done, total| {
        checked = done;
        if show_progress && (last_shown.elapsed() >= Duration::from_millis(100) || done == total) {
            let percent = (done * 100).checked_div(total).unwrap_or(100);
            eprint!("\rverifying: {done}/{total} records ({percent}%)");
            last_shown = std::time::Instant::now();
        }
    })?;
    if show_progress {
        eprintln!();
    }
    if json {
        let list: Vec<_> = damage
            .iter()
            .map(|d| json!({"topic": d.topic, "partition": d.partition, "offset": d.offset, "resume": d.resume, "reason": d.reason}))
            .collect();
        writeln!(out, "{}", json!({"records": checked, "damaged": list}))?;
    } else if damage.is_empty() {
        writeln!(out, "ok: {checked} records, every batch intact")?;
    } else {
        for d in &damage {
            let until = d.resume.map_or_else(|| "the end".to_string(), |r| format!("offset {r}"));
            writeln!(
                out,
                "damaged: {}/{} from offset {} to {until}: {}",
                d.topic, d.partition, d.offset, d.reason
            )?;
        }
    }
    Ok(if damage.is_empty() { 0 } else { 1 })
}

fn topics(pond: &Pond, json: bool, out: &mut impl Write) -> Outcome {
    let mut items = Vec::new();
    for name in pond.topics()? {
        let i = pond.describe(&name)?;
        let records: u64 = i.partitions.iter().map(|p| p.end_offset - p.start_offset).sum();
        let bytes: u64 = i.partitions.iter().map(|p| p.bytes).sum();
        let partitions = i.partitions.len();
        let row = vec![i.name.clone(), partitions.to_string(), records.to_string(), bytes.to_string()];
        items.push((
            json!({"topic": i.name, "partitions": partitions, "records": records, "bytes": bytes}),
            row,
        ));
    }
    write!(out, "{}", show::listing(json, &["TOPIC", "PARTITIONS", "RECORDS", "BYTES"], items))?;
    Ok(0)
}

fn describe(pond: &Pond, topic: &str, json: bool, out: &mut impl Write) -> Outcome {
    let info = pond.describe(topic)?;
    let c = &info.config;
    let cleanup = if c.cleanup == Cleanup::Compact { "compact" } else { "delete" };
    if json {
        let parts: Vec<_> = info
            .partitions
            .iter()
            .map(|p| json!({"partition": p.partition, "start_offset": p.start_offset, "end_offset": p.end_offset, "bytes": p.bytes}))
            .collect();
        let config = json!({
            "partitions": c.partitions, "cleanup": cleanup, "retention_ms": c.retention_ms,
            "retention_bytes": c.retention_bytes, "retention_records": c.retention_records,
            "max_record_bytes": c.max_record_bytes, "max_backlog": c.max_backlog,
            "segment_bytes": c.segment_bytes, "segment_ms": c.segment_ms,
        });
        writeln!(out, "{}", json!({"topic": info.name, "config": config, "partitions": parts}))?;
        return Ok(0);
    }
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
    writeln!(out, "topic {}: {} partition(s), cleanup {cleanup}", info.name, c.partitions)?;
    writeln!(
        out,
        "retention: {} ms, {} bytes, {} records; max record {} bytes; segments of {} bytes",
        opt(c.retention_ms.map(|v| v.to_string())),
        opt(c.retention_bytes.map(|v| v.to_string())),
        opt(c.retention_records.map(|v| v.to_string())),
        c.max_record_bytes,
        c.segment_bytes
    )?;
    let rows: Vec<Vec<String>> = info
        .partitions
        .iter()
        .map(|p| {
            let n = p.end_offset - p.start_offset;
            vec![
                p.partition.to_string(),
                p.start_offset.to_string(),
                p.end_offset.to_string(),
                n.to_string(),
                p.bytes.to_string(),
            ]
        })
        .collect();
    write!(out, "{}", show::table(&["PARTITION", "START", "END", "RECORDS", "BYTES"], &rows))?;
    Ok(0)
}

fn create_topic(pond: &Pond, a: CreateTopic) -> Outcome {
    let mut config = TopicConfig { partitions: a.partitions, ..TopicConfig::default() };
    if a.compact {
        config.cleanup = Cleanup::Compact;
    }
    config.retention_ms = a.retention.or(config.retention_ms);
    config.retention_bytes = a.retention_bytes.or(config.retention_bytes);
    config.retention_records = a.retention_records.or(config.retention_records);
    config.max_record_bytes = a.max_record_bytes.unwrap_or(config.max_record_bytes);
    config.segment_bytes = a.segment_bytes.unwrap_or(config.segment_bytes);
    pond.create_topic(&a.topic, config)?;
    pond.close()?;
    Ok(0)
}

fn send(pond: &Pond, a: Send, out: &mut impl Write) -> Outcome {
    let values: Vec<String> = match &a.value {
        Some(v) => vec![v.clone()],
        None => std::io::stdin().lock().lines().collect::<Result<_, _>>()?,
    };
    for chunk in values.chunks(1000) {
        let records: Vec<NewRecord<'_>> = chunk
            .iter()
            .map(|v| {
                let mut r = NewRecord::value(v.as_bytes());
                r.key = a.key.as_deref().map(str::as_bytes);
                r.partition = a.partition;
                for (name, value) in &a.headers {
                    r = r.with_header(name, value.as_bytes());
                }
                r
            })
            .collect();
        for m in pond.send_many(&a.topic, &records)? {
            if a.json {
                let meta = json!({"topic": &*m.topic, "partition": m.partition, "offset": m.offset, "timestamp_ms": m.timestamp_ms});
                writeln!(out, "{meta}")?;
            }
        }
    }
    pond.close()?;
    Ok(0)
}

fn tail(pond: &Pond, a: Tail, out: &mut impl Write) -> Outcome {
    let info = pond.describe(&a.topic)?;
    let partitions: Vec<u32> = match a.partition {
        Some(p) if (p as usize) < info.partitions.len() => vec![p],
        Some(p) => return Err(Failure(format!("topic {} has no partition {p}", a.topic))),
        None => info.partitions.iter().map(|p| p.partition).collect(),
    };
    let started = a.from_beginning || a.offset.is_some() || a.since.is_some();
    let since = match &a.since {
        Some(text) => Some(when::parse_time_ms(text, pond.clock().now_ms()).map_err(Failure)?),
        None => None,
    };
    let mut positions = Vec::new();
    for &p in &partitions {
        let (start, end) = pond.offsets(&a.topic, p)?;
        let at = if a.from_beginning {
            start
        } else if let Some(o) = a.offset {
            o.clamp(start, end)
        } else if let Some(t) = since {
            pond.offset_for_time(&a.topic, p, t)?.unwrap_or(end)
        } else {
            end.saturating_sub(a.count.unwrap_or(10)).max(start)
        };
        positions.push((p, at));
    }
    // With a start, -n counts records; without one it chose where to start.
    let mut left = if started { a.count } else { None };
    let mut print = |r: &Record| -> Result<(), Failure> {
        if a.json {
            writeln!(out, "{}", show::record_json(r))?;
        } else {
            write!(out, "{}", show::format_record(&a.format, r))?;
        }
        Ok(())
    };
    loop {
        let seen = pond.append_count();
        let mut printed_any = false;
        for (p, at) in &mut positions {
            if left == Some(0) {
                break;
            }
            let max_records = left.map_or(500, |n| n.min(500) as usize);
            let records =
                pond.read(&a.topic, *p, *at, ReadLimits { max_records, ..ReadLimits::default() })?;
            for r in &records {
                print(r)?;
                *at = r.offset + 1;
                left = left.map(|n| n - 1);
            }
            printed_any |= !records.is_empty();
        }
        if left == Some(0) {
            break;
        }
        if !printed_any {
            if !a.follow {
                break;
            }
            out_flush()?;
            pond.wait_for_append(seen, Duration::from_secs(1));
        }
    }
    Ok(0)
}

fn out_flush() -> Result<(), Failure> {
    std::io::stdout().flush().map_err(Failure::from)
}
