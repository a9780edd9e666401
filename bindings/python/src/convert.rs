//! Python values to the core's types: bytes-likes, records, integers that
//! must not be negative, and durations in seconds.

use logpond::NewRecord;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple};

use crate::errors::invalid;

/// Bytes handed in by Python. `bytes` (and `str`, encoded once) are
/// borrowed: they are immutable, so the core may read them with the
/// interpreter released. Mutable buffers are copied first.
pub enum Data<'py> {
    Shared(Bound<'py, PyBytes>),
    Owned(Vec<u8>),
}

impl Data<'_> {
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Data::Shared(b) => b.as_bytes(),
            Data::Owned(v) => v,
        }
    }
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type().name().map_or_else(|_| "?".to_string(), |n| n.to_string())
}

/// bytes, bytearray, memoryview or str (utf-8).
pub fn data<'py>(what: &str, obj: &Bound<'py, PyAny>) -> PyResult<Data<'py>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        Ok(Data::Shared(b.clone()))
    } else if let Ok(s) = obj.cast::<PyString>() {
        Ok(Data::Shared(s.encode_utf8()?))
    } else if let Ok(b) = obj.cast::<PyByteArray>() {
        Ok(Data::Owned(b.to_vec()))
    } else if let Ok(m) = obj.cast::<PyMemoryView>() {
        Ok(Data::Shared(m.call_method0("tobytes")?.cast_into::<PyBytes>()?))
    } else {
        Err(PyTypeError::new_err(format!(
            "{what} must be bytes, bytearray, memoryview, str or None, not {}",
            type_name(obj)
        )))
    }
}

/// Like [`data`], with `None` for no value.
pub fn opt_data<'py>(what: &str, obj: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Data<'py>>> {
    match obj {
        Some(o) if !o.is_none() => data(what, o).map(Some),
        _ => Ok(None),
    }
}

/// A Python string as Rust (one copy under the stable ABI).
pub fn string(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<String> {
    match obj.cast::<PyString>() {
        Ok(s) => Ok(s.to_cow()?.into_owned()),
        Err(_) => Err(PyTypeError::new_err(format!("{what} must be str, not {}", type_name(obj)))),
    }
}

/// An `int` >= 0 (negative or too large: `InvalidArgument`).
pub fn non_negative(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<u64> {
    let py = obj.py();
    match obj.extract::<i64>() {
        Ok(v) if v >= 0 => Ok(v as u64),
        Ok(v) => Err(invalid(py, format!("{what} must be >= 0, got {v}"))),
        Err(e) if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) => {
            Err(invalid(py, format!("{what} is out of range")))
        }
        Err(_) => Err(PyTypeError::new_err(format!("{what} must be int, not {}", type_name(obj)))),
    }
}

/// An `int` that fits a u32 (partition numbers, sizes the core keeps as u32).
pub fn small(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<u32> {
    let v = non_negative(what, obj)?;
    u32::try_from(v).map_err(|_| invalid(obj.py(), format!("{what} is out of range, got {v}")))
}

/// Any `int` that fits an i64 (timestamps to search for).
pub fn int(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    let py = obj.py();
    obj.extract::<i64>().map_err(|e| {
        if e.is_instance_of::<pyo3::exceptions::PyOverflowError>(py) {
            invalid(py, format!("{what} is out of range"))
        } else {
            PyTypeError::new_err(format!("{what} must be int, not {}", type_name(obj)))
        }
    })
}

/// A `retry_backoff`: `(initial, max)` seconds, to milliseconds.
pub fn backoff(obj: &Bound<'_, PyAny>) -> PyResult<(i64, i64)> {
    let pair: Vec<Bound<'_, PyAny>> = obj
        .try_iter()
        .and_then(|items| items.collect::<PyResult<_>>())
        .ok()
        .filter(|items: &Vec<_>| items.len() == 2)
        .ok_or_else(|| PyTypeError::new_err("retry_backoff must be a pair (initial, max) of seconds"))?;
    Ok((seconds_to_ms("retry_backoff", &pair[0])?, seconds_to_ms("retry_backoff", &pair[1])?))
}

/// Seconds (int, float or `datetime.timedelta`) to whole milliseconds, rounded.
pub fn seconds_to_ms(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<i64> {
    let py = obj.py();
    let not_seconds = || {
        PyTypeError::new_err(format!(
            "{what} must be seconds (int, float or timedelta), not {}",
            type_name(obj)
        ))
    };
    let secs: f64 = if obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>() {
        obj.extract().map_err(|_| not_seconds())?
    } else if obj.hasattr("total_seconds")? {
        obj.call_method0("total_seconds")?.extract().map_err(|_| not_seconds())?
    } else {
        obj.extract().map_err(|_| not_seconds())?
    };
    let ms = (secs * 1000.0).round();
    if !ms.is_finite() || ms.abs() >= 9.0e15 {
        return Err(invalid(py, format!("{what} is not a usable number of seconds: {secs}")));
    }
    Ok(ms as i64)
}

/// One record as the caller gave it, owning (or borrowing from Python)
/// everything the core's [`NewRecord`] will point into.
pub struct Input<'py> {
    key: Option<Data<'py>>,
    value: Option<Data<'py>>,
    headers: Vec<(String, Data<'py>)>,
    partition: Option<u32>,
    timestamp_ms: Option<i64>,
}

impl Input<'_> {
    pub fn record(&self) -> NewRecord<'_> {
        NewRecord {
            key: self.key.as_ref().map(Data::as_slice),
            value: self.value.as_ref().map(Data::as_slice),
            headers: self.headers.iter().map(|(n, v)| (n.as_str(), v.as_slice())).collect(),
            timestamp_ms: self.timestamp_ms,
            partition: self.partition,
            delay_ms: None,
            ttl_ms: None,
        }
    }
}

/// A send's `delay` and `ttl` (seconds), for every record it sends.
#[derive(Clone, Copy)]
pub struct Schedule {
    delay_ms: Option<i64>,
    ttl_ms: Option<i64>,
}

impl Schedule {
    pub fn from(delay: Option<&Bound<'_, PyAny>>, ttl: Option<&Bound<'_, PyAny>>) -> PyResult<Schedule> {
        Ok(Schedule {
            delay_ms: present(delay).map(|d| seconds_to_ms("delay", d)).transpose()?,
            ttl_ms: present(ttl).map(|t| seconds_to_ms("ttl", t)).transpose()?,
        })
    }

    pub fn apply<'a>(&self, record: NewRecord<'a>) -> NewRecord<'a> {
        NewRecord { delay_ms: self.delay_ms, ttl_ms: self.ttl_ms, ..record }
    }
}

/// The optional parts of a record, as `send`'s keywords or a dict's items.
pub struct Parts<'a, 'py> {
    pub key: Option<&'a Bound<'py, PyAny>>,
    pub headers: Option<&'a Bound<'py, PyAny>>,
    pub partition: Option<&'a Bound<'py, PyAny>>,
    pub timestamp_ms: Option<&'a Bound<'py, PyAny>>,
}

fn present<'a, 'py>(obj: Option<&'a Bound<'py, PyAny>>) -> Option<&'a Bound<'py, PyAny>> {
    obj.filter(|o| !o.is_none())
}

pub fn input<'py>(value: Option<&Bound<'py, PyAny>>, parts: Parts<'_, 'py>) -> PyResult<Input<'py>> {
    Ok(Input {
        value: opt_data("value", value)?,
        key: opt_data("key", parts.key)?,
        headers: match present(parts.headers) {
            Some(h) => headers(h)?,
            None => Vec::new(),
        },
        partition: present(parts.partition).map(|p| small("partition", p)).transpose()?,
        timestamp_ms: match present(parts.timestamp_ms) {
            // The core refuses negative timestamps with its own message.
            Some(t) => Some(int("timestamp_ms", t)?),
            None => None,
        },
    })
}

/// A list of (str, bytes-like) pairs, or a dict of them.
fn headers<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Vec<(String, Data<'py>)>> {
    let pair = |name: &Bound<'py, PyAny>, value: &Bound<'py, PyAny>| -> PyResult<(String, Data<'py>)> {
        Ok((string("header name", name)?, data("header value", value)?))
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        return d.iter().map(|(k, v)| pair(&k, &v)).collect();
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err("headers must be a list of (name, value) pairs"));
    }
    let items =
        obj.try_iter().map_err(|_| PyTypeError::new_err("headers must be a list of (name, value) pairs"))?;
    let mut out = Vec::new();
    for item in items {
        let item = item?;
        let t = match item.cast::<PyTuple>() {
            Ok(t) if t.len() == 2 => t.clone(),
            _ => match item.cast::<PyList>() {
                Ok(l) if l.len() == 2 => l.to_tuple(),
                _ => return Err(PyTypeError::new_err("each header must be a (name, value) pair")),
            },
        };
        out.push(pair(&t.get_item(0)?, &t.get_item(1)?)?);
    }
    Ok(out)
}

const ITEM_KEYS: [&str; 5] = ["key", "value", "headers", "partition", "timestamp_ms"];

/// One item of `send_many`: a bytes-like/str value, `None`, or a dict with
/// `key`, `value`, `headers`, `partition`, `timestamp_ms`.
pub fn item<'py>(obj: &Bound<'py, PyAny>) -> PyResult<Input<'py>> {
    let Ok(d) = obj.cast::<PyDict>() else {
        if obj.is_none() {
            return input(None, Parts { key: None, headers: None, partition: None, timestamp_ms: None });
        }
        let value = data("each item", obj)?;
        return Ok(Input {
            key: None,
            value: Some(value),
            headers: Vec::new(),
            partition: None,
            timestamp_ms: None,
        });
    };
    let mut found = [None, None, None, None, None];
    let mut matched = 0;
    for (slot, name) in found.iter_mut().zip(ITEM_KEYS) {
        *slot = d.get_item(name)?;
        matched += usize::from(slot.is_some());
    }
    if matched != d.len() {
        let unknown: Vec<String> = d
            .keys()
            .iter()
            .filter(|k| k.extract::<String>().map_or(true, |k| !ITEM_KEYS.contains(&k.as_str())))
            .map(|k| k.repr().map_or_else(|_| "?".to_string(), |r| r.to_string()))
            .collect();
        return Err(PyTypeError::new_err(format!(
            "unknown record field(s) {}: a record dict takes key, value, headers, partition, timestamp_ms",
            unknown.join(", ")
        )));
    }
    let [key, value, headers, partition, timestamp_ms] = found;
    input(
        value.as_ref(),
        Parts {
            key: key.as_ref(),
            headers: headers.as_ref(),
            partition: partition.as_ref(),
            timestamp_ms: timestamp_ms.as_ref(),
        },
    )
}
