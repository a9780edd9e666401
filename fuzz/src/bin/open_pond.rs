//! AFL++ target `open_pond` (docs/FUZZING.md).

fn main() {
    let target = logpond_fuzz::target("open_pond");
    logpond_fuzz::warm_up();
    afl::fuzz!(|data: &[u8]| logpond_fuzz::fuzz_one(target, data));
}
