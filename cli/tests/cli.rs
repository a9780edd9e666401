//! The `logpond` binary, run for real on real ponds.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use logpond::{NewRecord, Pond, TopicConfig};

fn logpond(pond: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_logpond"));
    c.arg("--pond").arg(pond).args(args).env_remove("LOGPOND_POND");
    c
}

fn run(pond: &Path, args: &[&str]) -> Output {
    logpond(pond, args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn ok(pond: &Path, args: &[&str]) -> String {
    let o = run(pond, args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    stdout(&o)
}

fn pond_with_orders() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::open(dir.path()).unwrap();
    pond.create_topic("orders", TopicConfig { partitions: 2, ..TopicConfig::default() }).unwrap();
    for i in 0..30u32 {
        let v = format!("order-{i}");
        let r = NewRecord::keyed(b"k", v.as_bytes()).with_header("src", b"test").with_partition(i % 2);
        pond.send("orders", r.with_timestamp(1_000 + i64::from(i))).unwrap();
    }
    dir
}

/// Kills a child (SIGKILL, by pid) that is still running when its time
/// is up, so that a hung child fails its test instead of hanging CI. Done
/// once dropped: a dropped watchdog kills nothing.
struct Watchdog(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl Watchdog {
    fn kill_after(pid: u32, limit: Duration) -> Watchdog {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = done.clone();
        std::thread::spawn(move || {
            let until = Instant::now() + limit;
            while Instant::now() < until {
                if seen.load(std::sync::atomic::Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        });
        Watchdog(done)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[test]
fn topics_and_describe_as_tables_and_json() {
    let dir = pond_with_orders();
    let table = ok(dir.path(), &["topics"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines[0].split_whitespace().collect::<Vec<_>>(), ["TOPIC", "PARTITIONS", "RECORDS", "BYTES"]);
    assert_eq!(lines[1].split_whitespace().take(3).collect::<Vec<_>>(), ["orders", "2", "30"]);
    let json: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["topics", "--json"])).unwrap();
    assert_eq!(json[0]["topic"], "orders");
    assert_eq!(json[0]["records"], 30);

    let text = ok(dir.path(), &["describe", "orders"]);
    assert!(text.starts_with("topic orders: 2 partition(s), cleanup delete"), "{text}");
    assert!(text.lines().any(|l| l.split_whitespace().take(4).eq(["1", "0", "15", "15"])), "{text}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["describe", "orders", "--json"])).unwrap();
    assert_eq!(json["partitions"][1]["end_offset"], 15);
    assert_eq!(json["config"]["cleanup"], "delete");
}

#[test]
fn create_send_from_stdin_and_tail_back() {
    let dir = tempfile::tempdir().unwrap();
    let pond = dir.path().join("fresh");
    ok(&pond, &["create-topic", "events", "--partitions", "1", "--retention", "7d"]);
    let json: serde_json::Value =
        serde_json::from_str(&ok(&pond, &["describe", "events", "--json"])).unwrap();
    assert_eq!(json["config"]["retention_ms"], 604_800_000);
    let mut child = logpond(&pond, &["send", "events", "--key", "user-1", "--header", "via=cli", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"one\ntwo\nthree\n").unwrap();
    let sent = child.wait_with_output().unwrap();
    assert!(sent.status.success());
    let offsets: Vec<u64> = stdout(&sent)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["offset"].as_u64().unwrap())
        .collect();
    assert_eq!(offsets, [0, 1, 2]);
    ok(&pond, &["send", "events", "four"]);
    assert_eq!(ok(&pond, &["tail", "events"]), "one\ntwo\nthree\nfour\n");
    assert_eq!(ok(&pond, &["tail", "events", "-n", "2"]), "three\nfour\n");
    assert_eq!(
        ok(&pond, &["tail", "events", "--offset", "1", "-n", "2", "--format", "%o:%k=%s;%h\\n"]),
        "1:user-1=two;via=cli\n2:user-1=three;via=cli\n"
    );
    let line = ok(&pond, &["tail", "events", "--from-beginning", "-n", "1", "--json"]);
    let r: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    assert_eq!(
        (r["value"].as_str(), r["key"].as_str(), r["offset"].as_u64()),
        (Some("one"), Some("user-1"), Some(0))
    );
    assert_eq!(r["headers"][0][0], "via");
}

#[test]
fn tail_since_a_time_and_one_partition() {
    let dir = pond_with_orders();
    // Records carry timestamps 1000..1030 (epoch milliseconds).
    let got = ok(dir.path(), &["tail", "orders", "--since", "1026", "--format", "%p/%o %T\\n"]);
    assert_eq!(got, "0/13 1026\n0/14 1028\n1/13 1027\n1/14 1029\n");
    let got = ok(dir.path(), &["tail", "orders", "--partition", "1", "-n", "1", "--format", "%s\\n"]);
    assert_eq!(got, "order-29\n");
    let got = ok(dir.path(), &["tail", "orders", "--since", "1970-01-01T00:00:01.028Z", "--partition", "0"]);
    assert_eq!(got, "order-28\n");
}

#[test]
fn tail_follows_what_another_process_sends() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::open(dir.path()).unwrap();
    pond.create_topic("live", TopicConfig::default()).unwrap();
    let mut child = logpond(dir.path(), &["tail", "live", "-f"]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    let reader = std::thread::spawn(move || {
        let mut got = Vec::new();
        while got.len() < 3 {
            match lines.next() {
                Some(Ok(line)) => got.push(line),
                _ => break,
            }
        }
        got
    });
    for i in 0..3 {
        std::thread::sleep(Duration::from_millis(100));
        pond.send("live", NewRecord::value(format!("v{i}").as_bytes())).unwrap();
    }
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(reader.join().unwrap(), ["v0", "v1", "v2"]);
}

#[test]
fn bad_input_gives_one_line_and_exit_2() {
    let dir = pond_with_orders();
    let missing = dir.path().join("nothing-here");
    for (pond, args) in [
        (missing.as_path(), vec!["topics"]),
        (missing.as_path(), vec!["send", "orders", "x"]),
        (dir.path(), vec!["describe", "nope"]),
        (dir.path(), vec!["tail", "orders", "--partition", "9"]),
        (dir.path(), vec!["tail", "orders", "--since", "yesterday"]),
        (dir.path(), vec!["create-topic", "orders"]),
    ] {
        let o = run(pond, &args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("logpond: "), "{args:?}: {err}");
    }
    // Usage errors (clap's) exit 2 too.
    assert_eq!(run(dir.path(), &["tail"]).status.code(), Some(2));
    assert_eq!(run(dir.path(), &["frobnicate"]).status.code(), Some(2));
    let o = Command::new(env!("CARGO_BIN_EXE_logpond"))
        .arg("topics")
        .env_remove("LOGPOND_POND")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--pond"));
}

#[test]
fn looking_runs_beside_a_live_writer_and_writes_nothing() {
    let dir = pond_with_orders();
    let writer = Pond::open(dir.path()).unwrap();
    writer.send("orders", NewRecord::value(b"late").with_partition(0)).unwrap();
    assert_eq!(ok(dir.path(), &["tail", "orders", "--partition", "0", "-n", "1"]), "late\n");
    assert!(ok(dir.path(), &["topics"]).contains("31"));
}

#[test]
fn verify_finds_a_flipped_byte_and_names_where() {
    let dir = tempfile::tempdir().unwrap();
    let pond = Pond::open(dir.path()).unwrap();
    // Small segments: record 20 lies in a sealed one, whose index open trusts.
    pond.create_topic("t", TopicConfig { segment_bytes: 1024, ..TopicConfig::default() }).unwrap();
    for i in 0..50u32 {
        pond.send("t", NewRecord::value(format!("record number {i:04}").as_bytes())).unwrap();
    }
    pond.close().unwrap();
    assert_eq!(ok(dir.path(), &["verify"]), "ok: 50 records, every batch intact\n");
    // Flip a byte inside the value of record 20 (its text is unique).
    let log = std::fs::read_dir(dir.path().join("topics/t/0"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "log")
                && std::fs::read(p).unwrap().windows(18).any(|w| w == b"record number 0020")
        })
        .unwrap();
    let mut bytes = std::fs::read(&log).unwrap();
    let at = bytes.windows(18).position(|w| w == b"record number 0020").unwrap() + 15;
    bytes[at] ^= 0x01;
    std::fs::write(&log, bytes).unwrap();
    let o = run(dir.path(), &["verify"]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    assert!(text.starts_with("damaged: t/0 from offset 20 to offset 21:"), "{text}");
    let o = run(dir.path(), &["verify", "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(json["records"], 50);
    assert_eq!(
        (json["damaged"][0]["offset"].as_u64(), json["damaged"][0]["resume"].as_u64()),
        (Some(20), Some(21))
    );
}

#[test]
fn groups_and_lag_without_joining() {
    let dir = pond_with_orders();
    let pond = std::sync::Arc::new(Pond::open(dir.path()).unwrap());
    let config = logpond::ConsumerConfig {
        auto_offset_reset: logpond::OffsetReset::Earliest,
        auto_commit: false,
        ..logpond::ConsumerConfig::new("billing", &["orders"])
    };
    let consumer = pond.consumer(config).unwrap();
    let got = consumer.poll(20).unwrap();
    consumer.commit().unwrap();
    let member = consumer.member_id().unwrap();
    let table = ok(dir.path(), &["groups"]);
    let row: Vec<&str> = table.lines().nth(1).unwrap().split_whitespace().collect();
    assert_eq!(
        row,
        ["billing", &consumer.generation().unwrap().to_string(), "1", &(30 - got.len()).to_string()]
    );
    let lag = ok(dir.path(), &["lag", "billing"]);
    let lines: Vec<Vec<&str>> = lag.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        lines[0],
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID"]
    );
    assert_eq!(lines.len(), 3);
    for line in &lines[1..] {
        let (current, end, lag): (u64, u64, u64) =
            (line[3].parse().unwrap(), line[4].parse().unwrap(), line[5].parse().unwrap());
        assert_eq!(
            (line[0], line[1], end, end - current, line[6]),
            ("billing", "orders", 15, lag, &*member.to_string())
        );
    }
    let json: serde_json::Value = serde_json::from_str(&ok(dir.path(), &["lag", "--json"])).unwrap();
    let total: u64 = json.as_array().unwrap().iter().map(|r| r["lag"].as_u64().unwrap()).sum();
    assert_eq!(total, 30 - got.len() as u64);
    // Looking did not rebalance the group.
    assert_eq!(consumer.member_id().unwrap(), member);
    assert_eq!(consumer.poll(100).unwrap().len(), 30 - got.len());
}

#[test]
fn subscriptions_show_backlog_counts_and_settings_without_attaching() {
    let dir = pond_with_orders();
    {
        let pond = std::sync::Arc::new(Pond::open(dir.path()).unwrap());
        let config = logpond::QueueConfig {
            max_deliveries: Some(3),
            dead_letter_topic: Some("orders.dlq".into()),
            retry_backoff_ms: Some((1_000, 60_000)),
            ..logpond::QueueConfig::new("billing")
        };
        let q = pond.queue("orders", config).unwrap();
        let got = q.receive(4).unwrap();
        q.ack(got[0].token).unwrap();
        // Three stay in flight: the handle closes under them.
        std::mem::forget(q);
        pond.queue("orders", logpond::QueueConfig::new("audit")).unwrap().close().unwrap();
        pond.close().unwrap();
    }
    let table = ok(dir.path(), &["subscriptions"]);
    let lines: Vec<Vec<&str>> = table.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0][..4], ["TOPIC", "SUBSCRIPTION", "BACKLOG", "IN-FLIGHT"], "{table}");
    let audit = lines.iter().find(|l| l.get(1) == Some(&"audit")).expect("audit");
    assert_eq!(audit[..7], ["orders", "audit", "30", "0", "0", "0", "0"], "{table}");
    let billing = lines.iter().find(|l| l.get(1) == Some(&"billing")).expect("billing");
    assert_eq!(billing[2], "29", "{table}");
    assert!(table.contains("orders.dlq") && table.contains("1s..1m"), "{table}");
    let json: serde_json::Value =
        serde_json::from_str(&ok(dir.path(), &["subscriptions", "orders", "--json"])).unwrap();
    let billing = json.as_array().unwrap().iter().find(|s| s["subscription"] == "billing").unwrap();
    assert_eq!(billing["backlog"], 29);
    assert_eq!(billing["settings"]["max_deliveries"], 3);
    assert_eq!(billing["settings"]["retry_backoff_ms"], serde_json::json!([1000, 60000]));
    assert!(billing["oldest_unacked_age_ms"].as_i64().unwrap() > 0);
    // Looking attached nothing: the names are as they were.
    let pond = Pond::open(dir.path()).unwrap();
    assert_eq!(pond.subscriptions("orders").unwrap(), ["audit", "billing"]);
    let missing = run(dir.path(), &["subscriptions", "nope"]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn stat_prints_one_line_per_interval_with_what_went_in_and_out() {
    let dir = pond_with_orders();
    let pond = std::sync::Arc::new(Pond::open(dir.path()).unwrap());
    let q = pond.queue("orders", logpond::QueueConfig::new("w")).unwrap();
    let mut child = logpond(dir.path(), &["stat", "--interval", "1s", "-n", "3", "--json"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let _bound = Watchdog::kill_after(child.id(), Duration::from_secs(60));
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!((first["records"].as_u64(), first["backlog"].as_u64()), (Some(30), Some(30)));
    assert_eq!((first["in"].as_u64(), first["out"].as_u64()), (Some(0), Some(0)));
    // Between the lines: 5 records in, 4 settled out.
    for i in 0..5 {
        pond.send("orders", NewRecord::value(format!("more-{i}").as_bytes())).unwrap();
    }
    let got = q.receive(4).unwrap();
    q.ack_many(&got.iter().map(|d| d.token).collect::<Vec<_>>()).unwrap();
    let rest: Vec<serde_json::Value> = lines.map(|l| serde_json::from_str(&l.unwrap()).unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success());
    assert_eq!(rest.len(), 2, "-n 3 stops after three lines");
    let went_in: u64 = rest.iter().map(|l| l["in"].as_u64().unwrap()).sum();
    let went_out: u64 = rest.iter().map(|l| l["out"].as_u64().unwrap()).sum();
    assert_eq!((went_in, went_out), (5, 4));
    assert_eq!(rest[1]["backlog"], 31);
    // A table with a header; a zero interval is refused.
    let table = ok(dir.path(), &["stat", "--interval", "10ms", "-n", "2"]);
    assert_eq!(
        table.lines().next().unwrap().split_whitespace().collect::<Vec<_>>(),
        ["time", "records", "in", "out", "lag", "backlog"]
    );
    assert_eq!(table.lines().count(), 3);
    assert_eq!(run(dir.path(), &["stat", "--interval", "0s", "-n", "1"]).status.code(), Some(2));
}
