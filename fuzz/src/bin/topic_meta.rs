//! AFL++ target `topic_meta` (docs/FUZZING.md).

fn main() {
    let target = logpond_fuzz::target("topic_meta");
    logpond_fuzz::warm_up();
    afl::fuzz!(|data: &[u8]| logpond_fuzz::fuzz_one(target, data));
}
