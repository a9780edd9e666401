//! The native `Consumer`: one member of a consumer group. The public
//! `logpond.Consumer` is a Python subclass (context manager, repr).
//!
//! Iteration (`for record in consumer`) takes one record at a time from the
//! core (`next_record_wait`): the core fetches in batches, but positions
//! (and so commits, auto-commits and hand-overs in a rebalance) count only
//! the records handed out, so a loop left with `break` commits exactly
//! what it handed out.

use logpond::{Assignor, ConsumerConfig, OffsetReset};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyString, PyTuple};

use crate::convert;
use crate::errors::{detached, invalid, is_code};
use crate::pond::Pond;
use crate::record::Record;
use crate::wait::{self, Timeout};

#[pyclass(frozen, subclass, module = "logpond._native", name = "Consumer")]
pub struct Consumer {
    inner: logpond::Consumer,
    group: Py<PyString>,
    /// The subscribed topics' names, shared by the records of every poll.
    topics: Vec<(String, Py<PyString>)>,
}

fn topic_list(topics: &Bound<'_, PyAny>) -> PyResult<Vec<String>> {
    if topics.is_instance_of::<PyString>() {
        return Ok(vec![convert::string("topics", topics)?]);
    }
    if topics.is_instance_of::<PyBytes>() {
        return Err(PyTypeError::new_err("topics must be a str or an iterable of str, not bytes"));
    }
    let items =
        topics.try_iter().map_err(|_| PyTypeError::new_err("topics must be a str or an iterable of str"))?;
    items.map(|t| convert::string("each topic", &t?)).collect()
}

fn max_count(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    let n = convert::non_negative(what, obj)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

impl Consumer {
    /// A core call, GIL released.
    fn run<T, F>(&self, py: Python<'_>, f: F) -> PyResult<T>
    where
        F: FnOnce() -> logpond::Result<T> + Send,
        T: Send,
    {
        detached(py, f)
    }

    fn topic(&self, py: Python<'_>, name: &str) -> Py<PyString> {
        match self.topics.iter().find(|(n, _)| n == name) {
            Some((_, s)) => s.clone_ref(py),
            None => PyString::new(py, name).unbind(),
        }
    }

    fn convert<'py>(&self, py: Python<'py>, records: &[logpond::Record]) -> PyResult<Bound<'py, PyList>> {
        let mut last: Option<(&str, Py<PyString>)> = None;
        let mut out = Vec::with_capacity(records.len());
        for r in records {
            let topic = match &last {
                Some((name, t)) if *name == &*r.topic => t.clone_ref(py),
                _ => {
                    let t = self.topic(py, &r.topic);
                    last = Some((&r.topic, t.clone_ref(py)));
                    t
                }
            };
            out.push(Record::from_core(py, &topic, r)?);
        }
        PyList::new(py, out)
    }
}

#[pymethods]
impl Consumer {
    /// Joins `group` for `topics` (a name or a list of names). Usually made
    /// with `pond.consumer(...)`.
    #[new]
    #[pyo3(signature = (
        pond, group, topics, *, auto_offset_reset="latest", auto_commit=true, session_timeout=None,
        assignor="cooperative-sticky", auto_commit_interval=None
    ))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn new(
        py: Python<'_>,
        pond: &Bound<'_, Pond>,
        group: &Bound<'_, PyAny>,
        topics: &Bound<'_, PyAny>,
        auto_offset_reset: &str,
        auto_commit: bool,
        session_timeout: Option<&Bound<'_, PyAny>>,
        assignor: &str,
        auto_commit_interval: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Consumer> {
        let group_name = convert::string("group", group)?;
        let names = topic_list(topics)?;
        let mut config = ConsumerConfig::new(group_name, &[]);
        config.topics = names.clone();
        config.auto_offset_reset = OffsetReset::parse(auto_offset_reset).ok_or_else(|| {
            invalid(
                py,
                format!(
                    "auto_offset_reset must be \"latest\", \"earliest\" or \"none\", got {auto_offset_reset:?}"
                ),
            )
        })?;
        config.auto_commit = auto_commit;
        if let Some(s) = session_timeout.filter(|s| !s.is_none()) {
            config.session_timeout_ms = convert::seconds_to_ms("session_timeout", s)?;
        }
        if let Some(s) = auto_commit_interval.filter(|s| !s.is_none()) {
            config.auto_commit_interval_ms = convert::seconds_to_ms("auto_commit_interval", s)?;
        }
        config.assignor = Assignor::parse(assignor).ok_or_else(|| {
            invalid(
                py,
                format!(
                    "assignor must be \"cooperative-sticky\", \"range\" or \"round-robin\", got {assignor:?}"
                ),
            )
        })?;
        let pond = pond.get().inner.clone();
        let inner = detached(py, || pond.consumer(config))?;
        Ok(Consumer {
            group: PyString::new(py, inner.group()).unbind(),
            inner,
            topics: names.into_iter().map(|n| (n.clone(), PyString::new(py, &n).unbind())).collect(),
        })
    }

    /// The group id.
    #[getter]
    fn group(&self, py: Python<'_>) -> Py<PyString> {
        self.group.clone_ref(py)
    }

    /// The subscribed topics, as given.
    #[getter]
    fn topics(&self, py: Python<'_>) -> Vec<Py<PyString>> {
        self.topics.iter().map(|(_, t)| t.clone_ref(py)).collect()
    }

    /// This consumer's id in its group (it changes when the member timed
    /// out and rejoined). Raises `Closed` once closed.
    #[getter]
    fn member_id(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        self.run(py, || inner.member_id())
    }

    /// The group's generation: it grows with every rebalance.
    #[getter]
    fn generation(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        self.run(py, || inner.generation())
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        let inner = &self.inner;
        py.detach(|| inner.member_id().is_err())
    }

    /// Up to `max_records` records from the assigned partitions. With a
    /// `timeout` (seconds; `None`: no limit) it waits, GIL released, until
    /// records arrive; by default it returns at once.
    #[pyo3(signature = (max_records=None, timeout=Timeout::NONE))]
    fn poll<'py>(
        &self,
        py: Python<'py>,
        max_records: Option<&Bound<'py, PyAny>>,
        timeout: Timeout,
    ) -> PyResult<Bound<'py, PyList>> {
        let max = match max_records.filter(|m| !m.is_none()) {
            Some(m) => max_count("max_records", m)?,
            None => 500,
        };
        let inner = &self.inner;
        let records = wait::until_some(py, timeout, |slice| inner.poll_wait(max, slice))?;
        self.convert(py, &records)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Blocks (GIL released, in short slices so Ctrl-C interrupts) for the
    /// next record; stops once the consumer or its pond is closed.
    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Record>> {
        let inner = &self.inner;
        match wait::until_some(py, Timeout::Forever, |slice| inner.next_record_wait(slice)) {
            Ok(Some(r)) => {
                let topic = self.topic(py, &r.topic);
                Record::from_core(py, &topic, &r).map(Some)
            }
            Ok(None) => Ok(None), // a wait without limit returns a record or an error
            Err(e) if is_code(py, &e, "CLOSED") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Commits the current positions (no argument), or the given
    /// next-offsets-to-read: `{(topic, partition): offset}` or an iterable
    /// of `(topic, partition, offset)`. Raises `CommitFailed` (committing
    /// nothing) when a partition is not this consumer's any more.
    #[pyo3(signature = (offsets=None))]
    fn commit(&self, py: Python<'_>, offsets: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let inner = &self.inner;
        let Some(offsets) = offsets.filter(|o| !o.is_none()) else {
            return self.run(py, || inner.commit());
        };
        let entries = offset_entries(offsets)?;
        let refs: Vec<(&str, u32, u64)> = entries.iter().map(|(t, p, o)| (t.as_str(), *p, *o)).collect();
        self.run(py, || inner.commit_offsets(&refs))
    }

    /// The group's committed offset for a partition, or `None`.
    fn committed(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<Option<u64>> {
        let topic = convert::string("topic", topic)?;
        let partition = convert::small("partition", partition)?;
        let inner = &self.inner;
        self.run(py, || inner.committed(&topic, partition))
    }

    /// The next offset this consumer reads from an assigned partition.
    fn position(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
    ) -> PyResult<u64> {
        let topic = convert::string("topic", topic)?;
        let partition = convert::small("partition", partition)?;
        let inner = &self.inner;
        self.run(py, || inner.position(&topic, partition))
    }

    /// Moves an assigned partition's position.
    fn seek(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyAny>,
        partition: &Bound<'_, PyAny>,
        offset: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let topic = convert::string("topic", topic)?;
        let partition = convert::small("partition", partition)?;
        let offset = convert::non_negative("offset", offset)?;
        let inner = &self.inner;
        self.run(py, || inner.seek(&topic, partition, offset))
    }

    /// Every assigned partition to its start offset.
    fn seek_to_beginning(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        self.run(py, || inner.seek_to_beginning())
    }

    /// Every assigned partition to its end offset (only new records).
    fn seek_to_end(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        self.run(py, || inner.seek_to_end())
    }

    /// Every assigned partition to its first record with a timestamp >=
    /// `timestamp_ms` (or its end when there is none).
    fn seek_to_time(&self, py: Python<'_>, timestamp_ms: &Bound<'_, PyAny>) -> PyResult<()> {
        let ts = convert::int("timestamp_ms", timestamp_ms)?;
        let inner = &self.inner;
        self.run(py, || inner.seek_to_time(ts))
    }

    /// The assigned partitions, sorted: a list of `(topic, partition)`.
    fn assignment<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let inner = &self.inner;
        let parts = self.run(py, || inner.assignment())?;
        PyList::new(py, parts.iter().map(|(t, p)| (self.topic(py, t), *p)))
    }

    /// `{(topic, partition): end offset - position}` per assigned partition.
    fn lag<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let inner = &self.inner;
        let lag = self.run(py, || inner.lag())?;
        let out = PyDict::new(py);
        for ((t, p), l) in lag {
            out.set_item((self.topic(py, &t), p), l)?;
        }
        Ok(out)
    }

    /// Moves past damaged batches (after a `Corruption` from `poll`): returns
    /// the skipped ranges as `(topic, partition, from_offset, to_offset)`,
    /// `to_offset` exclusive; their records are not delivered.
    fn skip_damaged(&self, py: Python<'_>) -> PyResult<Vec<(String, u32, u64, u64)>> {
        let inner = &self.inner;
        self.run(py, || inner.skip_damaged())
    }

    /// Leaves the group (committing positions first with auto-commit).
    /// Closing twice is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let inner = &self.inner;
        self.run(py, || inner.close())
    }
}

/// `{(topic, partition): offset}` or an iterable of `(topic, partition, offset)`.
fn offset_entries(obj: &Bound<'_, PyAny>) -> PyResult<Vec<(String, u32, u64)>> {
    let entry = |tp: &Bound<'_, PyAny>, offset: &Bound<'_, PyAny>| -> PyResult<(String, u32, u64)> {
        let t =
            tp.cast::<PyTuple>().ok().filter(|t| t.len() == 2).ok_or_else(|| {
                PyTypeError::new_err("commit offsets are keyed by (topic, partition) tuples")
            })?;
        Ok((
            convert::string("topic", &t.get_item(0)?)?,
            convert::small("partition", &t.get_item(1)?)?,
            convert::non_negative("offset", offset)?,
        ))
    };
    if let Ok(d) = obj.cast::<PyDict>() {
        return d.iter().map(|(k, v)| entry(&k, &v)).collect();
    }
    let bad = || {
        PyTypeError::new_err(
            "offsets must be a dict {(topic, partition): offset} or an iterable of (topic, partition, offset)",
        )
    };
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>() {
        return Err(bad());
    }
    let mut out = Vec::new();
    for item in obj.try_iter().map_err(|_| bad())? {
        let item = item?;
        let t = item.cast::<PyTuple>().ok().filter(|t| t.len() == 3).ok_or_else(bad)?;
        out.push((
            convert::string("topic", &t.get_item(0)?)?,
            convert::small("partition", &t.get_item(1)?)?,
            convert::non_negative("offset", &t.get_item(2)?)?,
        ));
    }
    Ok(out)
}
