//! Conversions between JS values and the core's types, record packing, and
//! the mapping of core errors to JS `Error`s carrying a `code`.

use std::sync::Arc;

use js_sys::{Array, Float64Array, Reflect, Uint8Array};
use logpond::{ErrorCode, NewRecord, Record};
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

/// Unpacks the records the JS layer packed (the format is
/// `logpond_js::unpack_new_records`'s).
pub fn unpack_new_records<'a>(meta: &[f64], data: &'a [u8], count: usize) -> JsResult<Vec<NewRecord<'a>>> {
    core(logpond_js::unpack_new_records(|i| meta.get(i).copied(), data, count))
}

/// Records packed for the JS layer, which turns them into objects with
/// keys and values as views of one `Uint8Array`.
///
/// `meta` holds per record `topicIndex, partition, offset, timestampMs,
/// keyLength, valueLength, headerCount` (a length of -1 is null), then per
/// header `nameLength, valueLength`; `data` holds the key, the value, then
/// each header's name and value; `topics` the distinct topic names.
#[derive(Default)]
pub struct Packed {
    meta: Vec<f64>,
    data: Vec<u8>,
    topics: Vec<Arc<str>>,
}

impl Packed {
    pub fn with_capacity(records: usize) -> Packed {
        Packed { meta: Vec::with_capacity(records * 7), data: Vec::new(), topics: Vec::new() }
    }

    pub fn push(&mut self, r: &Record) -> JsResult<()> {
        let topic = match self.topics.iter().position(|t| Arc::ptr_eq(t, &r.topic) || **t == *r.topic) {
            Some(i) => i,
            None => {
                self.topics.push(r.topic.clone());
                self.topics.len() - 1
            }
        };
        let len = |b: Option<&[u8]>| b.map_or(-1.0, |b| b.len() as f64);
        self.meta.extend_from_slice(&[
            topic as f64,
            f64::from(r.partition),
            from_u64(r.offset)?,
            r.timestamp_ms as f64,
            len(r.key.as_deref()),
            len(r.value.as_deref()),
            r.headers.len() as f64,
        ]);
        if let Some(k) = &r.key {
            self.data.extend_from_slice(k);
        }
        if let Some(v) = &r.value {
            self.data.extend_from_slice(v);
        }
        for (name, value) in &r.headers {
            self.meta.push(name.len() as f64);
            self.meta.push(value.len() as f64);
            self.data.extend_from_slice(name.as_bytes());
            self.data.extend_from_slice(value);
        }
        Ok(())
    }

    /// `[meta: Float64Array, data: Uint8Array, topics: string[]]`, plus `extra`.
    pub fn into_js(self, extra: &[JsValue]) -> Array {
        let out = Array::new();
        out.push(&Float64Array::from(&self.meta[..]));
        out.push(&Uint8Array::from(&self.data[..]));
        out.push(&self.topics.iter().map(|t| JsValue::from_str(t)).collect::<Array>());
        for e in extra {
            out.push(e);
        }
        out
    }
}

pub fn pack_records(records: &[Record]) -> JsResult<Array> {
    let mut packed = Packed::with_capacity(records.len());
    for r in records {
        packed.push(r)?;
    }
    Ok(packed.into_js(&[]))
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
