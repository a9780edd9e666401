//! Browser binding of logpond (wasm-bindgen). Thin: argument conversion,
//! record packing and error mapping. The JS package (`web/`) wraps these
//! classes in the public API and does the asynchronous parts (IndexedDB,
//! waiting for records); the storage the core works on is the core's
//! `MirrorStorage` (or `MemoryStorage` for memory ponds).
//!
//! Nothing here may panic on a path a caller's input reaches: in wasm a
//! panic aborts as `RuntimeError: unreachable`. Every fallible conversion
//! returns an error carrying the core's error code.

mod clock;
mod convert;
mod group;
mod pond;
mod queue;

pub use clock::WasmClock;
pub use group::WasmConsumer;
pub use pond::{WasmLoader, WasmPond};
pub use queue::WasmQueue;

/// Every error kind the core declares, as `[class name, code]` pairs (the
/// JS layer checks its classes against them).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = errorKinds)]
pub fn error_kinds() -> js_sys::Array {
    logpond::ErrorCode::ALL
        .iter()
        .map(|c| js_sys::Array::of2(&c.class_name().into(), &c.as_str().into()))
        .collect()
}

/// The option names of `createTopic`, in the order its numbers take.
#[wasm_bindgen::prelude::wasm_bindgen(js_name = topicOptions)]
pub fn topic_options() -> Vec<String> {
    logpond_js::topic_options().map(String::from).collect()
}

/// Bytes per IndexedDB page (the core's mirror page size).
#[wasm_bindgen::prelude::wasm_bindgen(js_name = pageSize)]
pub fn page_size() -> u32 {
    logpond::storage::PAGE_SIZE as u32
}
