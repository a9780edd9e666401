//! Node.js binding of logpond (napi-rs). Thin: argument conversion and
//! error mapping only; the idiomatic API (classes, option objects, `Error`
//! subclasses) is the one JS layer of both JS packages (`js/`, over
//! `node/lib/backend.js`), which is the only caller of
//! these functions and hands them values it has already type-checked.
//!
//! Conventions of this native surface:
//! - Errors carry the core's stable code (`TOPIC_EXISTS`, ...) as the JS
//!   error's `code`; conversion failures keep napi's codes (`InvalidArg`,
//!   `NumberExpected`, ...), which the JS layer turns into `TypeError`.
//! - Offsets, counts and timestamps cross as `f64` and are checked to be
//!   integers within `Number.MAX_SAFE_INTEGER` in both directions.
//! - No panic crosses the boundary: every entry point runs under
//!   [`convert::guard`].
//! - No hand-written `unsafe`: borrowed JS buffers come through napi-rs's
//!   checked conversions and live only for the call.
//! - Results that would cost one JS object per record from native code are
//!   returned packed instead (see `logpond_js::Packed`); the JS layer
//!   builds the objects, which V8 does far faster than napi calls can.

// `deny`, not `forbid`: napi-derive's generated glue allows itself unsafe code.
#![deny(unsafe_code)]

pub mod clock;
pub mod consumer;

/// The `logpond` command (the package's `bin`): runs `args` (without the
/// program name) through the one Rust implementation; returns the exit
/// code. Blocks: only the command's own process calls it.
#[napi_derive::napi]
pub fn cli_main(args: Vec<String>) -> u32 {
    u32::from(logpond_cli::run(args))
}

pub mod convert;
pub mod pond;
pub mod queue;
pub mod wait;
