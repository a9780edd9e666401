//! AFL++ target `index` (docs/FUZZING.md).

fn main() {
    let target = logpond_fuzz::target("index");
    logpond_fuzz::warm_up();
    afl::fuzz!(|data: &[u8]| logpond_fuzz::fuzz_one(target, data));
}
