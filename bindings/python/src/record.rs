//! `Record` (a stored record) and `RecordMetadata` (where a send landed).
//! Both are immutable; their Python objects are built once, when a read or
//! send returns, so attribute access costs nothing more.

use pyo3::basic::CompareOp;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList, PyString, PyTuple};

use crate::convert;

/// A stored record: `.topic .partition .offset .timestamp_ms .key .value
/// .headers`. Key and value are `bytes` or `None`.
#[pyclass(frozen, freelist = 1024, module = "logpond", name = "Record")]
pub struct Record {
    #[pyo3(get)]
    topic: Py<PyString>,
    #[pyo3(get)]
    pub(crate) partition: u32,
    #[pyo3(get)]
    pub(crate) offset: u64,
    #[pyo3(get)]
    timestamp_ms: i64,
    #[pyo3(get)]
    key: Option<Py<PyBytes>>,
    #[pyo3(get)]
    value: Option<Py<PyBytes>>,
    /// A tuple of `(str, bytes)` tuples; `None` when there are none.
    header_tuple: Option<Py<PyTuple>>,
}

fn bytes_eq(py: Python<'_>, a: &Option<Py<PyBytes>>, b: &Option<Py<PyBytes>>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.bind(py).as_bytes() == b.bind(py).as_bytes(),
        _ => false,
    }
}

/// Repr of a bytes value, cut after 64 bytes.
fn short_repr(py: Python<'_>, b: &Option<Py<PyBytes>>) -> PyResult<String> {
    const SHOWN: usize = 64;
    let Some(b) = b else { return Ok("None".to_string()) };
    let data = b.bind(py).as_bytes();
    if data.len() <= SHOWN {
        return Ok(b.bind(py).repr()?.to_string());
    }
    let head = PyBytes::new(py, &data[..SHOWN]).repr()?.to_string();
    Ok(format!("{head}...({} bytes)", data.len()))
}

static JSON_LOADS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn decode(
    py: Python<'_>,
    b: &Option<Py<PyBytes>>,
    encoding: &str,
    errors: &str,
) -> PyResult<Option<Py<PyAny>>> {
    match b {
        Some(b) => Ok(Some(b.bind(py).call_method1("decode", (encoding, errors))?.unbind())),
        None => Ok(None),
    }
}

impl Record {
    /// Converts a core record; `topic` is shared by every record of a read.
    pub fn from_core(py: Python<'_>, topic: &Py<PyString>, r: &logpond::Record) -> PyResult<Record> {
        let header_tuple = if r.headers.is_empty() {
            None
        } else {
            let pairs = r.headers.iter().map(|(n, v)| (n.as_str(), PyBytes::new(py, v)));
            Some(PyTuple::new(py, pairs)?.unbind())
        };
        Ok(Record {
            topic: topic.clone_ref(py),
            partition: r.partition,
            offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            key: r.key.as_ref().map(|k| PyBytes::new(py, k).unbind()),
            value: r.value.as_ref().map(|v| PyBytes::new(py, v).unbind()),
            header_tuple,
        })
    }

    fn header_list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        match &self.header_tuple {
            Some(t) => Ok(t.bind(py).to_list()),
            None => Ok(PyList::empty(py)),
        }
    }
}

#[pymethods]
impl Record {
    /// Builds a record by hand (for tests and fakes); the pond builds them
    /// when it reads.
    #[new]
    #[pyo3(signature = (topic, partition, offset, timestamp_ms, key=None, value=None, headers=None))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn new(
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
        offset: &Bound<'_, PyAny>,
        timestamp_ms: &Bound<'_, PyAny>,
        key: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Record> {
        let topic =
            topic.cast::<PyString>().map_err(|_| PyTypeError::new_err("topic must be str"))?.clone().unbind();
        let to_bytes = |what: &str, v: Option<&Bound<'_, PyAny>>| -> PyResult<Option<Py<PyBytes>>> {
            Ok(convert::opt_data(what, v)?.map(|d| PyBytes::new(py, d.as_slice()).unbind()))
        };
        let input =
            convert::input(None, convert::Parts { key: None, headers, partition: None, timestamp_ms: None })?;
        let rec = input.record();
        let header_tuple = if rec.headers.is_empty() {
            None
        } else {
            let pairs = rec.headers.iter().map(|(n, v)| (*n, PyBytes::new(py, v)));
            Some(PyTuple::new(py, pairs)?.unbind())
        };
        Ok(Record {
            topic,
            partition: convert::small("partition", partition)?,
            offset: convert::non_negative("offset", offset)?,
            timestamp_ms: convert::int("timestamp_ms", timestamp_ms)?,
            key: to_bytes("key", key)?,
            value: to_bytes("value", value)?,
            header_tuple,
        })
    }

    /// Headers in order, as a new list of `(name, value)` tuples.
    #[getter]
    fn headers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.header_list(py)
    }

    /// The value decoded as text (utf-8 by default), or `None`.
    #[pyo3(signature = (encoding="utf-8", errors="strict"))]
    fn value_str(&self, py: Python<'_>, encoding: &str, errors: &str) -> PyResult<Option<Py<PyAny>>> {
        decode(py, &self.value, encoding, errors)
    }

    /// The key decoded as text (utf-8 by default), or `None`.
    #[pyo3(signature = (encoding="utf-8", errors="strict"))]
    fn key_str(&self, py: Python<'_>, encoding: &str, errors: &str) -> PyResult<Option<Py<PyAny>>> {
        decode(py, &self.key, encoding, errors)
    }

    /// The value parsed as JSON (`json.loads`), or `None` when there is no value.
    fn json(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let Some(value) = &self.value else { return Ok(None) };
        let loads = JSON_LOADS.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
            Ok(py.import("json")?.getattr("loads")?.unbind())
        })?;
        Ok(Some(loads.bind(py).call1((value.bind(py),))?.unbind()))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let headers = self.header_list(py)?.repr()?.to_string();
        Ok(format!(
            "Record(topic={}, partition={}, offset={}, timestamp_ms={}, key={}, value={}, headers={headers})",
            self.topic.bind(py).repr()?,
            self.partition,
            self.offset,
            self.timestamp_ms,
            short_repr(py, &self.key)?,
            short_repr(py, &self.value)?,
        ))
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<Record>() else { return Ok(py.NotImplemented()) };
        let o = other.get();
        let eq = || -> PyResult<bool> {
            let headers_eq = match (&self.header_tuple, &o.header_tuple) {
                (None, None) => true,
                (Some(a), Some(b)) => PyAnyMethods::eq(a.bind(py).as_any(), b.bind(py))?,
                _ => false,
            };
            Ok(self.partition == o.partition
                && self.offset == o.offset
                && self.timestamp_ms == o.timestamp_ms
                && PyAnyMethods::eq(self.topic.bind(py).as_any(), o.topic.bind(py))?
                && bytes_eq(py, &self.key, &o.key)
                && bytes_eq(py, &self.value, &o.value)
                && headers_eq)
        };
        match op {
            CompareOp::Eq => Ok(eq()?.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!eq()?).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        (self.topic.bind(py), self.partition, self.offset).into_pyobject(py)?.hash()
    }

    /// Pickles as the constructor call.
    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let r = slf.get();
        let args = (
            r.topic.clone_ref(py),
            r.partition,
            r.offset,
            r.timestamp_ms,
            r.key.as_ref().map(|k| k.clone_ref(py)),
            r.value.as_ref().map(|v| v.clone_ref(py)),
            r.header_list(py)?,
        );
        (slf.get_type(), args).into_pyobject(py)
    }
}

/// Where a sent record landed: `.topic .partition .offset .timestamp_ms`.
#[pyclass(frozen, freelist = 1024, module = "logpond", name = "RecordMetadata")]
pub struct RecordMetadata {
    #[pyo3(get)]
    topic: Py<PyString>,
    #[pyo3(get)]
    partition: u32,
    #[pyo3(get)]
    offset: u64,
    #[pyo3(get)]
    timestamp_ms: i64,
}

impl RecordMetadata {
    pub fn from_core(py: Python<'_>, topic: &Py<PyString>, m: &logpond::RecordMetadata) -> RecordMetadata {
        RecordMetadata {
            topic: topic.clone_ref(py),
            partition: m.partition,
            offset: m.offset,
            timestamp_ms: m.timestamp_ms,
        }
    }
}

#[pymethods]
impl RecordMetadata {
    #[new]
    fn new(
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
        offset: &Bound<'_, PyAny>,
        timestamp_ms: &Bound<'_, PyAny>,
    ) -> PyResult<RecordMetadata> {
        Ok(RecordMetadata {
            topic: topic
                .cast::<PyString>()
                .map_err(|_| PyTypeError::new_err("topic must be str"))?
                .clone()
                .unbind(),
            partition: convert::small("partition", partition)?,
            offset: convert::non_negative("offset", offset)?,
            timestamp_ms: convert::int("timestamp_ms", timestamp_ms)?,
        })
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "RecordMetadata(topic={}, partition={}, offset={}, timestamp_ms={})",
            self.topic.bind(py).repr()?,
            self.partition,
            self.offset,
            self.timestamp_ms
        ))
    }

    fn __richcmp__(&self, other: &Bound<'_, PyAny>, op: CompareOp) -> PyResult<Py<PyAny>> {
        let py = other.py();
        let Ok(other) = other.cast::<RecordMetadata>() else { return Ok(py.NotImplemented()) };
        let o = other.get();
        let eq = self.partition == o.partition
            && self.offset == o.offset
            && self.timestamp_ms == o.timestamp_ms
            && PyAnyMethods::eq(self.topic.bind(py).as_any(), o.topic.bind(py))?;
        match op {
            CompareOp::Eq => Ok(eq.into_pyobject(py)?.to_owned().into_any().unbind()),
            CompareOp::Ne => Ok((!eq).into_pyobject(py)?.to_owned().into_any().unbind()),
            _ => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        (self.topic.bind(py), self.partition, self.offset, self.timestamp_ms).into_pyobject(py)?.hash()
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyTuple>> {
        let py = slf.py();
        let m = slf.get();
        let args = (m.topic.clone_ref(py), m.partition, m.offset, m.timestamp_ms);
        (slf.get_type(), args).into_pyobject(py)
    }
}
