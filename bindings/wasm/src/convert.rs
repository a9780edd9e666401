//! Conversions between JS values and the core's types, record packing, and
//! the mapping of core errors to JS `Error`s carrying a `code`.

use js_sys::{Array, Float64Array, Reflect, Uint8Array};
use logpond::{ErrorCode, Record};
use wasm_bindgen::prelude::*;

pub type JsResult<T> = Result<T, JsValue>;

/// A JS `Error` with `code`; the JS layer turns it into the subclass of
/// that code.
pub fn js_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(message);
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

pub fn core_err(e: logpond::Error) -> JsValue {
    js_error(e.code().as_str(), &e.to_string())
}

pub fn invalid(msg: impl AsRef<str>) -> JsValue {
    js_error(ErrorCode::InvalidArgument.as_str(), msg.as_ref())
}

/// Maps a core result to a JS one.
pub fn core<T>(r: logpond::Result<T>) -> JsResult<T> {
    r.map_err(core_err)
}

/// A non-negative safe integer.
pub fn to_u64(name: &str, v: f64) -> JsResult<u64> {
    core(logpond_js::to_u64(name, v))
}

/// A safe integer (may be negative).
pub fn to_i64(name: &str, v: f64) -> JsResult<i64> {
    core(logpond_js::to_i64(name, v))
}

pub fn to_u32(name: &str, v: f64) -> JsResult<u32> {
    core(logpond_js::to_u32(name, v))
}

pub fn to_usize(name: &str, v: f64) -> JsResult<usize> {
    core(logpond_js::to_usize(name, v))
}

/// A core count or offset as a JS number.
pub fn from_u64(v: u64) -> JsResult<f64> {
    core(logpond_js::from_u64(v))
}

/// Records packed for the JS layer (the layout is `logpond_js::Packed`'s),
/// as `[data: Uint8Array, numbers: Float64Array]`.
pub fn packed_js(p: logpond::Result<logpond_js::Packed>) -> JsResult<Array> {
    let p = core(p)?;
    Ok(Array::of2(&Uint8Array::from(&p.data[..]), &Float64Array::from(&p.numbers[..])))
}

/// Records of a read, packed (no prefix).
pub fn pack_records(records: &[Record]) -> JsResult<Array> {
    packed_js(logpond_js::pack(records, |r| r, |_| []))
}

/// `{ topic?, partition, fromOffset, toOffset }`: offsets skipped past damage.
pub fn skipped_range(topic: Option<&str>, partition: u32, from: u64, to: u64) -> JsResult<JsValue> {
    let o = js_sys::Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = js_sys::Reflect::set(&o, &JsValue::from_str(k), &v);
    };
    if let Some(t) = topic {
        set("topic", t.into());
    }
    set("partition", partition.into());
    set("fromOffset", from_u64(from)?.into());
    set("toOffset", from_u64(to)?.into());
    Ok(o.into())
}
