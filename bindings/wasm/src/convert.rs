//! Conversions between JS values and the core's types, record packing, and
//! the mapping of core errors to JS `Error`s carrying a `code`.

use std::sync::Arc;

use js_sys::{Array, Float64Array, Reflect, Uint8Array};
use logpond::{ErrorCode, NewRecord, Record};
use wasm_bindgen::prelude::*;

pub type JsResult<T> = Result<T, JsValue>;

/// The largest integer a JS number holds exactly (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE: u64 = (1 << 53) - 1;

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

fn integer(name: &str, v: f64) -> JsResult<()> {
    if !v.is_finite() || v.fract() != 0.0 {
        return Err(invalid(format!("{name} must be an integer, got {v}")));
    }
    if v.abs() > MAX_SAFE as f64 {
        return Err(invalid(format!("{name} {v} is beyond Number.MAX_SAFE_INTEGER (2^53 - 1)")));
    }
    Ok(())
}

/// A non-negative safe integer.
pub fn to_u64(name: &str, v: f64) -> JsResult<u64> {
    integer(name, v)?;
    if v < 0.0 {
        return Err(invalid(format!("{name} must be >= 0, got {v}")));
    }
    Ok(v as u64)
}

/// A safe integer (may be negative).
pub fn to_i64(name: &str, v: f64) -> JsResult<i64> {
    integer(name, v)?;
    Ok(v as i64)
}

pub fn to_u32(name: &str, v: f64) -> JsResult<u32> {
    let n = to_u64(name, v)?;
    u32::try_from(n).map_err(|_| invalid(format!("{name} must be <= {}, got {v}", u32::MAX)))
}

pub fn to_usize(name: &str, v: f64) -> JsResult<usize> {
    let n = to_u64(name, v)?;
    usize::try_from(n).map_err(|_| invalid(format!("{name} is too large: {v}")))
}

/// A core count or offset as a JS number.
pub fn from_u64(v: u64) -> JsResult<f64> {
    if v > MAX_SAFE {
        return Err(invalid(format!("{v} is beyond Number.MAX_SAFE_INTEGER: a JS number cannot hold it")));
    }
    Ok(v as f64)
}

/// Numbers per record in a packed send, before its headers:
/// `valueLength, keyLength, headerCount, partition, timestampMs`.
const META_PER_RECORD: usize = 5;

/// Unpacks the records the JS layer packed: per record, `meta` holds
/// `valueLength, keyLength, headerCount, partition, timestampMs` (a length
/// of -1 is null; a partition or timestamp of NaN is absent), then per
/// header `nameLength, valueLength`; `data` holds the value, the key, then
/// each header's name (utf-8) and value, in that order.
pub fn unpack_new_records<'a>(meta: &[f64], data: &'a [u8], count: usize) -> JsResult<Vec<NewRecord<'a>>> {
    let malformed = || invalid("malformed packed records");
    let number = |i: usize| meta.get(i).copied().ok_or_else(malformed);
    let mut records = Vec::with_capacity(count.min(meta.len() / META_PER_RECORD));
    let (mut m, mut d) = (0usize, 0usize);
    let mut take = |len: f64| -> JsResult<Option<&'a [u8]>> {
        if len == -1.0 {
            return Ok(None);
        }
        let len = to_usize("length", len)?;
        let end = d.checked_add(len).ok_or_else(malformed)?;
        let bytes = data.get(d..end).ok_or_else(malformed)?;
        d = end;
        Ok(Some(bytes))
    };
    for _ in 0..count {
        let (value_len, key_len, header_count) = (number(m)?, number(m + 1)?, number(m + 2)?);
        let (partition, ts) = (number(m + 3)?, number(m + 4)?);
        m += META_PER_RECORD;
        let value = take(value_len)?;
        let key = take(key_len)?;
        let header_count = to_usize("headerCount", header_count)?;
        let mut headers = Vec::with_capacity(header_count.min(1024));
        for _ in 0..header_count {
            let (name_len, value_len) = (number(m)?, number(m + 1)?);
            m += 2;
            let name = take(name_len)?.ok_or_else(malformed)?;
            let name = std::str::from_utf8(name).map_err(|_| invalid("a header name is not valid utf-8"))?;
            let value = take(value_len)?.ok_or_else(malformed)?;
            headers.push((name, value));
        }
        records.push(NewRecord {
            key,
            value,
            headers,
            partition: if partition.is_nan() { None } else { Some(to_u32("partition", partition)?) },
            timestamp_ms: if ts.is_nan() { None } else { Some(to_i64("timestampMs", ts)?) },
        });
    }
    Ok(records)
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
