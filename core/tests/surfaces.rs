//! The bindings' surfaces against what the core declares once: every error
//! kind (`ErrorCode`: class name and code) and every option of
//! `create_topic`, `consumer` and `queue` (`logpond::surface`: Python and
//! JS names, Python defaults) must appear in the Python stubs, the one
//! `.d.ts` of the JS layer (`js/`, shared by the Node and browser packages)
//! and its option checks. A binding that drifts fails here.

use std::path::Path;

use logpond::surface::{Default, OptionSpec, CONSUMER_OPTIONS, QUEUE_OPTIONS, TOPIC_OPTIONS};
use logpond::ErrorCode;

fn read(rel: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The text from the line containing `start` to the first line (after it)
/// containing `end`.
fn block<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    let from = text.find(start).unwrap_or_else(|| panic!("no {start:?}"));
    let rest = &text[from..];
    let to = rest[start.len()..].find(end).map_or(rest.len(), |i| i + start.len() + end.len());
    &rest[..to]
}

#[test]
fn every_error_kind_has_its_class_in_every_binding() {
    let pyi = read("python/logpond/_native.pyi");
    let init = read("python/logpond/__init__.py");
    let dts = read("js/index.d.ts");
    let errors = read("js/errors.js");
    let mut missing = Vec::new();
    for code in ErrorCode::ALL {
        let (name, c) = (code.class_name(), code.as_str());
        let checks = [
            ("_native.pyi", pyi.contains(&format!("class {name}(LogpondError"))),
            ("__init__.py", init.contains(&format!("\"{name}\""))),
            ("js/index.d.ts", dts.contains(&format!("export declare class {name} extends LogpondError"))),
            ("js/index.d.ts code", dts.contains(&format!("'{c}'"))),
            ("js/errors.js", errors.contains(&format!("  {name},"))),
        ];
        for (file, ok) in checks {
            if !ok {
                missing.push(format!("{name} ({c}) in {file}"));
            }
        }
    }
    assert!(missing.is_empty(), "error kinds missing: {missing:#?}");
}

/// Checks one call's options: the Python signature (in `pyi_block`) names
/// each with its default; the `.d.ts` interfaces and the JS key sets name
/// each in camelCase.
fn check_options(
    what: &str,
    options: &[OptionSpec],
    pyi_block: &str,
    dts_blocks: &[(&str, &str)],
    js: &[(&str, &str)],
) {
    let mut missing = Vec::new();
    for o in options {
        let line = pyi_block.lines().find(|l| l.trim_start().starts_with(&format!("{}:", o.python)));
        match line {
            None => missing.push(format!("{what}: {} in the Python stub", o.python)),
            Some(l) => {
                let want = format!("= {},", o.default.python());
                if !l.trim_end().ends_with(&want) {
                    missing.push(format!(
                        "{what}: Python {} should default to {}: {l:?}",
                        o.python,
                        o.default.python()
                    ));
                }
            }
        }
        for (file, text) in dts_blocks {
            if !text.contains(&format!("  {}?:", o.js)) && !text.contains(&format!("  {}:", o.js)) {
                missing.push(format!("{what}: {} in {file}", o.js));
            }
        }
        for (file, text) in js {
            if !text.contains(&format!("'{}'", o.js)) {
                missing.push(format!("{what}: {} in {file}", o.js));
            }
        }
    }
    assert!(missing.is_empty(), "options drifted: {missing:#?}");
}

#[test]
fn every_option_has_its_name_and_default_in_every_binding() {
    let pyi = read("python/logpond/_native.pyi");
    let dts = read("js/index.d.ts");
    check_options(
        "create_topic",
        TOPIC_OPTIONS,
        block(&pyi, "def create_topic(", ") -> None"),
        &[("js/index.d.ts", block(&dts, "export interface TopicOptions {", "\n}"))],
        // The JS layer takes these names from the bindings, which take them from the core.
        &[],
    );
    check_options(
        "consumer",
        CONSUMER_OPTIONS,
        block(&pyi, "class Consumer:", ") -> None"),
        &[("js/index.d.ts", block(&dts, "export interface ConsumerOptions {", "\n}"))],
        &[("js/consumer.js", &read("js/consumer.js"))],
    );
    check_options(
        "queue",
        QUEUE_OPTIONS,
        block(&pyi, "class Queue:", ") -> None"),
        &[("js/index.d.ts", block(&dts, "export interface QueueOptions {", "\n}"))],
        &[("js/queue.js", &read("js/queue.js"))],
    );
    // The Pythonic layer restates the signatures of `Pond.consumer` and
    // `Pond.queue`: their defaults must match too.
    let init = read("python/logpond/__init__.py");
    for (what, options, start) in [
        ("Pond.consumer", CONSUMER_OPTIONS, "    def consumer("),
        ("Pond.queue", QUEUE_OPTIONS, "    def queue("),
    ] {
        let sig = block(&init, start, ") ->");
        for o in options.iter().filter(|o| o.default != Default::Unset) {
            if let Some(l) = sig.lines().find(|l| l.trim_start().starts_with(&format!("{}:", o.python))) {
                assert!(l.trim_end().ends_with(&format!("= {},", o.default.python())), "{what}: {l:?}");
            }
        }
    }
}

/// The defaults are part of the API contract (API.md): the core's configs
/// must start from those values, whatever the constants are named.
#[test]
fn the_core_configs_take_the_contracted_defaults() {
    let q = logpond::QueueConfig::new("s");
    // Subscription settings default to the stored ones (`None`), and a
    // new subscription's to these.
    assert_eq!(q.ack_timeout_ms, None);
    assert_eq!(logpond::SubscriptionSettings::DEFAULT.ack_timeout_ms, 30_000);
    assert_eq!(q.max_in_flight, 100);
    let c = logpond::ConsumerConfig::new("g", &["t"]);
    assert_eq!(c.session_timeout_ms, 10_000);
    assert_eq!(c.auto_commit_interval_ms, 5_000);
    assert_eq!(c.auto_offset_reset, logpond::OffsetReset::Latest);
    assert_eq!(c.assignor.name(), "cooperative-sticky");
}
