//! The short, stable-Rust fuzz run of `make test` (`make test-fuzz`): per
//! target, every committed regression input, every seed, then a fixed
//! number of deterministic mutations of the seeds, all through the same
//! entry points AFL++ fuzzes. A failing input is saved under
//! fuzz/target/short-run/ and named in the failure.

use std::path::{Path, PathBuf};
use std::time::Instant;

use logpond_fuzz::{execute, mutate, target, Rng, Target};

fn failure_path(target: &Target, what: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/short-run").join(format!("{}-{what}", target.name))
}

/// Runs one input; on a panic saves it and fails naming it. With
/// FUZZ_SKIP_KNOWN set, inputs of open findings are skipped, as in
/// `make fuzz` (to look past them).
fn check(target: &Target, what: &str, input: &[u8]) {
    if std::env::var_os("FUZZ_SKIP_KNOWN").is_some() && target.known_open.is_some_and(|known| known(input)) {
        return;
    }
    let ran = std::panic::catch_unwind(|| execute(target, input));
    if ran.is_err() {
        let path = failure_path(target, what);
        let saved = std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))
            .and_then(|()| std::fs::write(&path, input));
        let shown: Vec<String> = input.iter().take(256).map(|b| format!("{b:02x}")).collect();
        panic!(
            "fuzz target {} panicked on {what} ({} bytes{}): {}{}",
            target.name,
            input.len(),
            if saved.is_ok() { format!(", saved to {}", path.display()) } else { String::new() },
            shown.join(""),
            if input.len() > 256 { "…" } else { "" },
        );
    }
}

/// Committed inputs that once failed: fuzz/regressions/<target>/*.
fn regressions(target: &Target) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("regressions").join(target.name);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut out: Vec<(String, Vec<u8>)> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), std::fs::read(e.path()).unwrap_or_default()))
        .collect();
    out.sort();
    out
}

fn short_run(name: &str) {
    let target = target(name);
    let started = Instant::now();
    for (file, input) in regressions(target) {
        check(target, &format!("regression {file}"), &input);
    }
    let seeds = (target.seeds)();
    assert!(!seeds.is_empty(), "{name} has no seeds");
    for (i, seed) in seeds.iter().enumerate() {
        check(target, &format!("seed {i}"), seed);
    }
    // Seeded by the name: every run executes the same inputs.
    let mut rng = Rng::new(
        name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)),
    );
    for i in 0..target.short_run {
        let seed = &seeds[rng.below(seeds.len())];
        let input = mutate(&mut rng, seed, &seeds);
        check(target, &format!("mutation {i}"), &input);
    }
    eprintln!(
        "{name}: {} seeds and {} mutations in {:.1} s",
        seeds.len(),
        target.short_run,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn every_target_is_covered() {
    let names: Vec<&str> = logpond_fuzz::TARGETS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "frames",
            "index",
            "offsets",
            "wire",
            "topic_meta",
            "queue_events",
            "queue_snapshot",
            "meta_files",
            "open_pond",
            "recovery"
        ]
    );
}

#[test]
fn frames() {
    short_run("frames");
}

#[test]
fn index() {
    short_run("index");
}

#[test]
fn offsets() {
    short_run("offsets");
}

#[test]
fn wire() {
    short_run("wire");
}

#[test]
fn topic_meta() {
    short_run("topic_meta");
}

#[test]
fn queue_events() {
    short_run("queue_events");
}

#[test]
fn queue_snapshot() {
    short_run("queue_snapshot");
}

#[test]
fn meta_files() {
    short_run("meta_files");
}

#[test]
fn open_pond() {
    short_run("open_pond");
}

#[test]
fn recovery() {
    short_run("recovery");
}

/// The recovery target's oracle compares with the vectors: they must load.
#[test]
fn the_vectors_load_with_every_record() {
    let vectors = logpond_fuzz::vectors();
    assert!(vectors.len() >= 5);
    for v in vectors {
        assert!(!v.records.is_empty(), "{}", v.name);
    }
    assert!(vectors.iter().any(|v| v.records.keys().any(|p| p.0 == "__consumer_offsets")));
}

/// The harness reads what it claims to: an undamaged vector shows every
/// record it was written with (plus the records the run appends).
#[test]
fn an_undamaged_vector_reads_back_whole() {
    let vectors = logpond_fuzz::vectors();
    for (i, v) in vectors.iter().enumerate() {
        let readable = logpond::fuzzing::pond_records(&v.files).map(|r| r.len()).unwrap_or(0);
        let seen = logpond::fuzzing::recovery_reads(vectors, &[i as u8]);
        assert!(readable > 0 && seen > readable, "{}: {seen} places read of {readable}", v.name);
    }
}

/// `make fuzz` skips the inputs of findings still open: each filter must
/// recognize a committed regression of its target (the finding's own).
#[test]
fn the_afl_filter_of_open_findings_knows_their_regressions() {
    for target in logpond_fuzz::TARGETS {
        let Some(known) = target.known_open else { continue };
        let inputs = regressions(target);
        assert!(
            inputs.iter().any(|(_, input)| known(input)),
            "{}: its open-findings filter knows none of its regressions",
            target.name
        );
    }
}

/// The filters of open findings pass every seed through.
#[test]
fn no_seed_is_filtered_as_a_known_finding() {
    for target in logpond_fuzz::TARGETS {
        let Some(known) = target.known_open else { continue };
        for (i, seed) in (target.seeds)().iter().enumerate() {
            assert!(!known(seed), "{}: seed {i} is filtered", target.name);
        }
    }
}
