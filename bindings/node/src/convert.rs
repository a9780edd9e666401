//! Conversions between JS values and the core's types, and error mapping.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A native error: the JS error's `code` is the string status.
pub type NError = napi::Error<&'static str>;
/// Named `Result` so napi-derive sees a fallible function.
pub type Result<T> = napi::Result<T, &'static str>;

/// The code of an error that is the binding's fault, not the caller's.
const INTERNAL: &str = "INTERNAL";

/// Maps a core error to a JS error carrying the core's code.
pub fn core_err(e: logpond::Error) -> NError {
    napi::Error::new(e.code().as_str(), e.to_string())
}

pub fn invalid(msg: impl Into<String>) -> NError {
    napi::Error::new(logpond::ErrorCode::InvalidArgument.as_str(), msg.into())
}

/// The code of every error the core can raise (the JS layer's tests check
/// it has a class for each).
#[napi_derive::napi]
pub fn error_codes() -> Vec<&'static str> {
    logpond::ErrorCode::ALL.iter().map(|c| c.as_str()).collect()
}

/// Runs `f`, turning a panic into a JS error instead of unwinding into V8.
///
/// `AssertUnwindSafe`: the binding keeps no state of its own across calls,
/// and the core tolerates poisoned mutexes, so calls after a caught panic
/// still run (and the core does not panic on input: a panic is a bug).
pub fn guard<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(napi::Error::new(INTERNAL, format!("logpond internal error (a bug): {msg}")))
        }
    }
}

// The JS number conversions live in the core (shared with the browser
// binding); these map their errors.

/// A non-negative safe integer.
#[inline]
pub fn to_u64(name: &str, v: f64) -> Result<u64> {
    logpond_js::to_u64(name, v).map_err(core_err)
}

/// A safe integer (may be negative).
#[inline]
pub fn to_i64(name: &str, v: f64) -> Result<i64> {
    logpond_js::to_i64(name, v).map_err(core_err)
}

pub fn to_u32(name: &str, v: f64) -> Result<u32> {
    logpond_js::to_u32(name, v).map_err(core_err)
}

#[inline]
pub fn to_usize(name: &str, v: f64) -> Result<usize> {
    logpond_js::to_usize(name, v).map_err(core_err)
}

/// An offset (or count) going out to JS, which must hold it exactly.
pub fn from_u64(v: u64) -> Result<f64> {
    logpond_js::from_u64(v).map_err(core_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_errors() {
        let r: Result<()> = guard(|| panic!("boom"));
        let e = r.err().map(|e| (e.status, e.reason));
        assert_eq!(e.as_ref().map(|e| e.0), Some(INTERNAL));
        assert!(e.is_some_and(|e| e.1.contains("boom")));
    }

    #[test]
    fn core_errors_keep_their_code() {
        let e = core_err(logpond::Error::TopicExists("t".into()));
        assert_eq!(e.status, "TOPIC_EXISTS");
        assert!(e.reason.contains("topic already exists"));
    }
}

/// Every error kind the core declares, as `[class name, code]` pairs: the
/// JS layer makes one `Error` subclass per pair.
#[napi_derive::napi]
pub fn error_kinds() -> Vec<Vec<String>> {
    logpond::ErrorCode::ALL.iter().map(|c| vec![c.class_name().to_string(), c.as_str().to_string()]).collect()
}
