//! Several processes on one pond: aggregate produce from 1, 2 and 4
//! processes (batches of 1,000, 100-byte values, one partition: every
//! batch contends for the same lock), cross-process latency from a send to
//! the wake-up of a waiting `receive` and `poll` in another process, and
//! the CPU an idle waiter uses. The processes are this binary, started
//! again with `LOGPOND_BENCH_CHILD` set. `cargo bench -p logpond --bench
//! shared [-- --quick]`.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use logpond::{ConsumerConfig, NewRecord, OffsetReset, Pond, QueueConfig, TopicConfig};

const VALUE: [u8; 100] = [7; 100];

fn wall_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}

struct Worker {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Worker {
    fn start(args: &[&str]) -> Worker {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env("LOGPOND_BENCH_CHILD", args.join(" "))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Worker { child, stdin, stdout }
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line.trim().to_string()
    }

    fn say(&mut self, what: &str) {
        writeln!(self.stdin, "{what}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a child process does (`LOGPOND_BENCH_CHILD` holds its arguments).
fn child(args: &str) {
    let args: Vec<&str> = args.split(' ').collect();
    let pond = Arc::new(Pond::open(args[1]).unwrap());
    let mut stdin = std::io::stdin().lock();
    let mut go = String::new();
    match args[0] {
        "produce" => {
            let n: u64 = args[2].parse().unwrap();
            let batch: Vec<NewRecord<'_>> = (0..1000).map(|_| NewRecord::value(&VALUE)).collect();
            println!("ready");
            stdin.read_line(&mut go).unwrap();
            let mut sent = 0;
            while sent < n {
                pond.send_many("t", &batch).unwrap();
                sent += 1000;
            }
            println!("done");
        }
        "receive" | "poll" => {
            let n: usize = args[2].parse().unwrap();
            let long = Duration::from_secs(30);
            let queue = pond.queue("t", QueueConfig::new("bench")).unwrap();
            let config = ConsumerConfig {
                auto_offset_reset: OffsetReset::Earliest,
                ..ConsumerConfig::new("b", &["t"])
            };
            let consumer = pond.consumer(config).unwrap();
            println!("ready");
            let mut latencies = Vec::with_capacity(n);
            while latencies.len() < n {
                let got: Vec<logpond::Record> = if args[0] == "receive" {
                    let deliveries = queue.receive_wait(100, long).unwrap();
                    let tokens: Vec<_> = deliveries.iter().map(|d| d.token).collect();
                    queue.ack_many(&tokens).unwrap();
                    deliveries.into_iter().map(|d| d.record).collect()
                } else {
                    consumer.poll_wait(100, long).unwrap()
                };
                let now = wall_ns();
                for r in got {
                    let sent = u64::from_le_bytes(r.value.as_deref().unwrap()[..8].try_into().unwrap());
                    latencies.push(now.saturating_sub(sent));
                }
            }
            latencies.sort_unstable();
            let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize] as f64 / 1e6;
            println!("{:.3} {:.3}", p(0.5), p(0.99));
        }
        "idle" => {
            let queue = pond.queue("t", QueueConfig::new("idle")).unwrap();
            println!("ready");
            let _ = queue.receive_wait(1, Duration::from_secs(120));
        }
        other => panic!("unknown child {other}"),
    }
}

fn produce(procs: u64, total: u64) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    Pond::open(&path).unwrap().create_topic("t", TopicConfig::default()).unwrap();
    let each = (total / procs).to_string();
    let mut workers: Vec<Worker> = (0..procs).map(|_| Worker::start(&["produce", &path, &each])).collect();
    for w in &mut workers {
        assert_eq!(w.line(), "ready");
    }
    let start = Instant::now();
    for w in &mut workers {
        w.say("go");
    }
    for w in &mut workers {
        assert_eq!(w.line(), "done");
    }
    let rate = total as f64 / start.elapsed().as_secs_f64();
    let pond = Pond::open(&path).unwrap();
    assert_eq!(pond.offsets("t", 0).unwrap().1, total, "every record once");
    rate
}

fn latency(kind: &str, samples: usize) -> (f64, f64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    let pond = Pond::open(&path).unwrap();
    pond.create_topic("t", TopicConfig::default()).unwrap();
    let mut w = Worker::start(&[kind, &path, &samples.to_string()]);
    assert_eq!(w.line(), "ready");
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..samples {
        pond.send("t", NewRecord::value(&wall_ns().to_le_bytes())).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let line = w.line();
    let mut parts = line.split(' ').map(|x| x.parse::<f64>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap())
}

/// CPU time (user + system, clock ticks) of a process, from /proc.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn idle_cpu(seconds: u64) -> Option<f64> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap().to_string();
    Pond::open(&path).unwrap().create_topic("t", TopicConfig::default()).unwrap();
    let mut w = Worker::start(&["idle", &path]);
    assert_eq!(w.line(), "ready");
    let before = cpu_ticks(w.child.id())?;
    std::thread::sleep(Duration::from_secs(seconds));
    let after = cpu_ticks(w.child.id())?;
    // Clock ticks are 1/100 s on Linux.
    Some((after - before) as f64 / (seconds as f64 * 100.0) * 100.0)
}

fn main() {
    if let Ok(args) = std::env::var("LOGPOND_BENCH_CHILD") {
        child(&args);
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick");
    let total = if quick { 400_000 } else { 4_000_000 };
    // Best of three runs each: one slow run on a noisy machine would skew
    // the ratios.
    let best = |procs: u64| (0..3).map(|_| produce(procs, total)).fold(0.0, f64::max);
    let one = best(1);
    println!("shared_produce_batched_100B_1_process: {:.2}M records/s", one / 1e6);
    for procs in [2, 4] {
        let rate = best(procs);
        println!(
            "shared_produce_batched_100B_{procs}_processes: {:.2}M records/s ({:.0}% of one process)",
            rate / 1e6,
            rate / one * 100.0
        );
    }
    let samples = if quick { 200 } else { 1000 };
    for kind in ["receive", "poll"] {
        let (p50, p99) = latency(kind, samples);
        println!("shared_latency_send_to_{kind}_wakeup: p50 {p50:.3} ms, p99 {p99:.3} ms ({samples} sends, 2 ms apart)");
    }
    if let Some(cpu) = idle_cpu(if quick { 2 } else { 5 }) {
        println!("shared_idle_waiter_cpu: {cpu:.2}% of a core");
    }
}
