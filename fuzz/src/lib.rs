//! Fuzz targets for logpond: the table of targets (each an entry point of
//! `logpond::fuzzing` plus its seeds), the test vectors the recovery
//! target compares against, a deterministic mutator for the short run,
//! and an allocator that refuses oversized allocations. docs/FUZZING.md
//! explains how they are run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use logpond::fuzzing::{self, ExpectedRecord, Place, Vector};
use serde_json::Value;

// ------------------------------------------------------------ allocation

/// The largest single allocation an input may cause. Inputs are at most
/// about 1 MiB, so anything bigger is an allocation sized by a corrupt
/// length field rather than by the data: a finding.
pub const MAX_ALLOCATION: usize = 32 << 20;

/// Where the input that asked for an oversized allocation is written
/// before the process aborts (AFL++ keeps its own copy as a crash).
pub fn oversized_input_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/oversized-allocation-input")
}

/// The input the short run is executing, for the report above.
static CURRENT_INPUT: Mutex<Vec<u8>> = Mutex::new(Vec::new());

/// The system allocator, refusing any allocation over [`MAX_ALLOCATION`]:
/// the refusal aborts the process ("memory allocation of N bytes failed").
struct Capped;

impl Capped {
    fn refuse(size: usize) -> bool {
        if size <= MAX_ALLOCATION {
            return false;
        }
        if let Ok(input) = CURRENT_INPUT.try_lock() {
            let _ = std::fs::write(oversized_input_path(), &*input);
        }
        true
    }
}

// SAFETY: every call is forwarded to `System` unchanged, or answered with
// null (allocation failure), which callers must handle.
unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if Capped::refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if Capped::refuse(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if Capped::refuse(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Capped = Capped;

// --------------------------------------------------------------- targets

/// One fuzz target: an entry point and the seeds its corpus starts from.
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
    pub seeds: fn() -> Vec<Vec<u8>>,
    /// Mutated inputs the short run (`make test-fuzz`) executes.
    pub short_run: usize,
    /// Whether it fuzzes one decoder directly (`make fuzz` gives each of
    /// these FUZZ_EXECS executions; the pond-level ones get FUZZ_POND_EXECS).
    pub decoder: bool,
    /// Recognizes inputs of findings still open in the core: the AFL++
    /// binaries skip them so a long run looks past them, while the short
    /// run replays their inputs from fuzz/regressions/ and fails until
    /// they are fixed. Remove an entry with its fix.
    pub known_open: Option<fn(&[u8]) -> bool>,
}

pub const TARGETS: &[Target] = &[
    Target {
        name: "frames",
        run: fuzzing::frames,
        seeds: frame_seeds,
        short_run: 1_000_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "index",
        run: fuzzing::index,
        seeds: index_seeds,
        short_run: 1_000_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "offsets",
        run: fuzzing::offsets,
        seeds: offsets_seeds,
        short_run: 1_000_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "wire",
        run: fuzzing::wire,
        seeds: wire_seeds,
        short_run: 1_000_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "topic_meta",
        run: fuzzing::topic_meta,
        seeds: topic_meta_seeds,
        short_run: 1_000_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "queue_events",
        run: fuzzing::queue_events,
        seeds: queue_events_seeds,
        short_run: 500_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "queue_snapshot",
        run: fuzzing::queue_snapshot,
        seeds: queue_snapshot_seeds,
        short_run: 500_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "meta_files",
        run: fuzzing::meta_files,
        seeds: meta_files_seeds,
        short_run: 500_000,
        decoder: true,
        known_open: None,
    },
    Target {
        name: "open_pond",
        run: fuzzing::open_pond,
        seeds: open_pond_seeds,
        short_run: 50_000,
        decoder: false,
        known_open: None,
    },
    Target {
        name: "recovery",
        run: recovery,
        seeds: recovery_seeds,
        short_run: 50_000,
        decoder: false,
        known_open: None,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> &'static Target {
    match TARGETS.iter().find(|t| t.name == name) {
        Some(t) => t,
        None => panic!("no fuzz target named {name:?}"),
    }
}

/// Builds what the targets share (the base pond, the vectors) before a
/// fuzzer forks, so no execution pays for it.
pub fn warm_up() {
    fuzzing::base_files();
    vectors();
}

/// What the AFL++ binaries run: `target` on `input`, unless the input
/// reproduces a finding still open ([`Target::known_open`]).
pub fn fuzz_one(target: &Target, input: &[u8]) {
    if target.known_open.is_some_and(|known| known(input)) {
        return;
    }
    execute(target, input);
}

/// Runs `target` on `input`, remembering the input for the oversized
/// allocation report.
pub fn execute(target: &Target, input: &[u8]) {
    if let Ok(mut current) = CURRENT_INPUT.lock() {
        current.clear();
        current.extend_from_slice(input);
    }
    (target.run)(input);
}

fn recovery(data: &[u8]) {
    fuzzing::recovery(vectors(), data);
}

// ---------------------------------------------------- open findings
//
// The filters of findings still open (`Target::known_open`) go here, each
// with a regression under fuzz/regressions/; a fix removes its filter.

// --------------------------------------------------------------- vectors

/// `tests/vectors/` of the repository.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

/// The test vectors, each with every record it was written with: the
/// user topics' records from its expected.json, the internal topics'
/// (`__consumer_offsets`) from reading the intact pond, and the records
/// below a `delete_records` start that its segments still hold.
pub fn vectors() -> &'static [Vector] {
    static VECTORS: OnceLock<Vec<Vector>> = OnceLock::new();
    VECTORS.get_or_init(|| match load_vectors() {
        Ok(v) => v,
        Err(e) => panic!("loading the test vectors from {}: {e}", vectors_dir().display()),
    })
}

fn load_vectors() -> Result<Vec<Vector>, String> {
    let mut names: Vec<String> = std::fs::read_dir(vectors_dir())
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("expected.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let dir = vectors_dir().join(&name);
        let mut files = Vec::new();
        walk(&dir.join("pond"), "", &mut files)?;
        let text = std::fs::read_to_string(dir.join("expected.json")).map_err(|e| e.to_string())?;
        let expected: Value = serde_json::from_str(&text).map_err(|e| format!("{name}: {e}"))?;
        let mut records = expected_records(&expected).ok_or(format!("{name}: unexpected expected.json"))?;
        let read = fuzzing::pond_records(&files).map_err(|e| format!("{name}: {e}"))?;
        let user: BTreeMap<&Place, &ExpectedRecord> =
            read.iter().filter(|(p, _)| !p.0.starts_with("__")).collect();
        if user != records.iter().collect::<BTreeMap<_, _>>() {
            return Err(format!("{name}: the pond does not read back as its expected.json says"));
        }
        records.extend(read.into_iter().filter(|(p, _)| p.0.starts_with("__")));
        // Records `delete_records` hid are still in their segments: without
        // the `log-start` file they are readable again, as written.
        let unhidden: Vec<(String, Vec<u8>)> =
            files.iter().filter(|(n, _)| !n.ends_with("/log-start")).cloned().collect();
        for (place, record) in fuzzing::pond_records(&unhidden).map_err(|e| format!("{name}: {e}"))? {
            if records.get(&place).is_some_and(|r| *r != record) {
                return Err(format!("{name}: {place:?} reads differently without log-start files"));
            }
            records.insert(place, record);
        }
        out.push(Vector { name, files, records });
    }
    if out.is_empty() {
        return Err("no vectors found".into());
    }
    Ok(out)
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, Vec<u8>)>) -> Result<(), String> {
    let mut entries: Vec<_> =
        std::fs::read_dir(dir).map_err(|e| e.to_string())?.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = format!("{rel}{}", entry.file_name().to_string_lossy());
        if entry.path().is_dir() {
            walk(&entry.path(), &format!("{name}/"), out)?;
        } else if !name.starts_with("LOCK") {
            out.push((name, std::fs::read(entry.path()).map_err(|e| e.to_string())?));
        }
    }
    Ok(())
}

/// expected.json's records by place (keys, values and header values are
/// UTF-8 text there).
fn expected_records(v: &Value) -> Option<BTreeMap<Place, ExpectedRecord>> {
    let text = |v: &Value| -> Option<Option<Vec<u8>>> {
        match v {
            Value::Null => Some(None),
            Value::String(s) => Some(Some(s.as_bytes().to_vec())),
            _ => None,
        }
    };
    let mut out = BTreeMap::new();
    for (topic, partitions) in v.get("topics")?.as_object()? {
        for p in partitions.as_array()? {
            let partition = u32::try_from(p.get("partition")?.as_u64()?).ok()?;
            for r in p.get("records")?.as_array()? {
                let mut headers = Vec::new();
                for h in r.get("headers")?.as_array()? {
                    let name = h.get(0)?.as_str()?.to_string();
                    headers.push((name, text(h.get(1)?)??));
                }
                let record = ExpectedRecord {
                    timestamp_ms: r.get("timestamp_ms")?.as_i64()?,
                    key: text(r.get("key")?)?,
                    value: text(r.get("value")?)?,
                    headers,
                };
                out.insert((topic.clone(), partition, r.get("offset")?.as_u64()?), record);
            }
        }
    }
    Some(out)
}

// ----------------------------------------------------------------- seeds

/// Every file of every vector and of the base pond.
fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = vectors().iter().flat_map(|v| v.files.clone()).collect();
    files.extend(fuzzing::base_files().iter().cloned());
    files
}

/// Seeds without duplicates, in a stable order.
fn unique(seeds: impl IntoIterator<Item = Vec<u8>>) -> Vec<Vec<u8>> {
    let set: BTreeSet<Vec<u8>> = seeds.into_iter().collect();
    set.into_iter().collect()
}

/// A file in both forms of the CRC convention (see `logpond::fuzzing`).
fn crc_forms(flag: u8, file: &[u8]) -> [Vec<u8>; 2] {
    let mut raw = vec![flag & !1];
    raw.extend_from_slice(file);
    let mut fixed = vec![flag | 1];
    fixed.extend_from_slice(&file[..file.len().saturating_sub(4)]);
    [raw, fixed]
}

fn frame_seeds() -> Vec<Vec<u8>> {
    unique(
        all_files()
            .into_iter()
            .filter(|(n, d)| n.ends_with(".log") && d.len() > 8)
            .map(|(_, d)| d[8..].to_vec()),
    )
}

fn index_seeds() -> Vec<Vec<u8>> {
    unique(all_files().into_iter().filter(|(n, _)| n.ends_with(".index")).flat_map(|(_, d)| crc_forms(0, &d)))
}

fn offsets_seeds() -> Vec<Vec<u8>> {
    let records = all_files()
        .into_iter()
        .filter(|(n, _)| n.starts_with("topics/__consumer_offsets/") && n.ends_with(".log"))
        .flat_map(|(_, d)| fuzzing::segment_records(&d));
    unique(records.flat_map(|(k, v)| [k, v]).flatten())
}

fn wire_seeds() -> Vec<Vec<u8>> {
    let mut seeds = vec![
        vec![0, 0x00, 0, 0x7f, 0, 0x80, 0x01, 0, 0xff, 0xff, 0xff, 0xff, 0x0f],
        vec![1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 0x80, 0x80, 0x40],
        vec![2, 0x00, 2, 0x01, 2, 0x02, 2, 0x03],
        vec![3, 0x02, b'h', b'i', 3, 0x00],
        vec![4, 0x03, b'a', b'b', b'c', 4, 0x02, 0xc3, 0xa9],
        vec![5, 0x00, 5, 0x01, 0x01, b'k', 5, 0x01, 0x00],
    ];
    // The entries of real batch bodies, read as byte strings.
    for body in frame_seeds().iter().filter_map(|f| f.get(41..)).take(8) {
        let mut seed = vec![3];
        seed.extend_from_slice(body);
        seeds.push(seed);
    }
    unique(seeds)
}

fn topic_meta_seeds() -> Vec<Vec<u8>> {
    unique(
        all_files()
            .into_iter()
            .filter(|(n, _)| n.ends_with("topic.meta"))
            .flat_map(|(_, d)| crc_forms(0, &d)),
    )
}

fn queue_snapshot_seeds() -> Vec<Vec<u8>> {
    unique(
        all_files().into_iter().filter(|(n, _)| n.ends_with("/snapshot")).flat_map(|(_, d)| crc_forms(0, &d)),
    )
}

fn queue_events_seeds() -> Vec<Vec<u8>> {
    let logged = all_files()
        .into_iter()
        .filter(|(n, _)| n.starts_with("queues/") && n.contains("/log/") && n.ends_with(".log"))
        .flat_map(|(_, d)| fuzzing::segment_records(&d))
        .filter_map(|(_, v)| v);
    let mut seeds: Vec<Vec<u8>> = logged.collect();
    // Delivered(p 1, 300, ×2), Settled(p 0, 5..9), Parked(p 1, 7, ×5, "nacked").
    seeds.push(vec![1, 1, 0xac, 0x02, 2, 2, 0, 5, 9, 3, 1, 7, 5, 6, b'n', b'a', b'c', b'k', b'e', b'd']);
    unique(seeds)
}

fn meta_files_seeds() -> Vec<Vec<u8>> {
    // Bits 1-2 of the first byte pick the file (see `logpond::fuzzing::meta_files`).
    let names =
        ["pond.meta", "topics/orders/0/log-start", "topics/orders/0/log-start", "topics/orders/topic.meta"];
    let base = fuzzing::base_files();
    let mut seeds = Vec::new();
    for (which, name) in names.iter().enumerate() {
        if let Some((_, data)) = base.iter().find(|(n, _)| n == name) {
            seeds.extend(crc_forms((which as u8) << 1, data));
        }
    }
    unique(seeds)
}

/// Each vector and the base pond, as they are and with every name marked
/// `+` (checksums fixed after mutation).
fn open_pond_seeds() -> Vec<Vec<u8>> {
    let mut ponds: Vec<Vec<(String, Vec<u8>)>> = vectors().iter().map(|v| v.files.clone()).collect();
    ponds.push(fuzzing::base_files().to_vec());
    let marked = ponds.iter().map(|files| files.iter().map(|(n, d)| (format!("+{n}"), d.clone())).collect());
    let marked: Vec<Vec<(String, Vec<u8>)>> = marked.collect();
    unique(ponds.iter().chain(&marked).map(|files| fuzzing::encode_files(files)))
}

/// Per vector: no damage, and each file cut in half and with one bit
/// flipped in its middle (see `logpond::fuzzing::recovery`).
fn recovery_seeds() -> Vec<Vec<u8>> {
    let mut seeds = Vec::new();
    for (v, vector) in vectors().iter().enumerate() {
        let v = v as u8;
        seeds.push(vec![v]);
        for (i, (_, data)) in vector.files.iter().enumerate().take(256) {
            let [lo, hi] = ((data.len() / 2) as u16).to_le_bytes();
            seeds.push(vec![v, 2, i as u8, lo, hi]);
            seeds.push(vec![v, 0, i as u8, lo, hi, 3]);
        }
    }
    unique(seeds)
}

// --------------------------------------------------------------- mutator

/// SplitMix64: a small, seeded, reproducible PRNG.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

const INTERESTING: &[u64] =
    &[0, 1, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0xffff, 0x7fff_ffff, 0xffff_ffff, u64::MAX];

/// One to four random edits of `input`, drawing splices from `pool`: bit
/// flips, byte and integer sets, truncations, insertions, deletions,
/// duplications and splices.
pub fn mutate(rng: &mut Rng, input: &[u8], pool: &[Vec<u8>]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next_u64() as u8;
            }
            2 if len > 0 => {
                let width = [1, 2, 4, 8][rng.below(4)];
                let i = rng.below(len);
                let value = INTERESTING[rng.below(INTERESTING.len())];
                let value = if rng.below(2) == 0 { value } else { value.wrapping_neg() };
                let bytes = value.to_le_bytes();
                let end = (i + width).min(len);
                data[i..end].copy_from_slice(&bytes[..end - i]);
            }
            3 => data.truncate(rng.below(len + 1)),
            4 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            5 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(32)).min(len);
                data.drain(at..end);
            }
            6 if len > 0 => {
                let at = rng.below(len);
                let end = (at + 1 + rng.below(64)).min(len);
                let chunk = data[at..end].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, chunk);
            }
            7 if !pool.is_empty() => {
                let other = &pool[rng.below(pool.len())];
                let keep = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(keep);
                data.extend_from_slice(&other[from..]);
            }
            _ if len > 0 => {
                let i = rng.below(len);
                data[i] = [0, 1, 0x7f, 0x80, 0xff][rng.below(5)];
            }
            _ => data.push(rng.next_u64() as u8),
        }
    }
    data
}
