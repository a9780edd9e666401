//! The native `Pond`: each method converts its arguments, runs one core
//! call with the interpreter released, and converts the result. The public
//! `logpond.Pond` is a Python subclass that adds the Pythonic rest.

use std::path::PathBuf;
use std::sync::Arc;

use logpond::{Cleanup, Durability, FileMode, PondOptions, ReadLimits, TopicConfig};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString, PyTuple};

use crate::clock::ManualClock;
use crate::convert::{self, Parts};
use crate::errors::{detached, invalid};
use crate::record::{Record, RecordMetadata};
use crate::wait::{self, Timeout};

/// One pond. Safe to share between threads: every call takes the core's
/// lock with the interpreter released.
#[pyclass(frozen, subclass, module = "logpond._native", name = "Pond")]
pub struct Pond {
    pub(crate) inner: Arc<logpond::Pond>,
    path: Option<PathBuf>,
}

fn options(
    py: Python<'_>,
    durability: &str,
    clock: Option<&Bound<'_, PyAny>>,
    group_access: bool,
    read_only: bool,
) -> PyResult<PondOptions> {
    let durability = match durability {
        "os" => Durability::Os,
        "fsync" => Durability::Fsync,
        other => return Err(invalid(py, format!("durability must be \"os\" or \"fsync\", got {other:?}"))),
    };
    let file_mode = if group_access { FileMode::Group } else { FileMode::Private };
    let mut options = PondOptions { durability, file_mode, read_only, ..PondOptions::default() };
    if let Some(clock) = clock.filter(|c| !c.is_none()) {
        let manual = clock.cast::<ManualClock>().map_err(|_| {
            PyTypeError::new_err("clock must be a logpond.ManualClock or None (the system clock)")
        })?;
        options.clock = Arc::new(manual.get().inner.clone());
    }
    Ok(options)
}

fn opt_u64(what: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<u64>> {
    obj.filter(|o| !o.is_none()).map(|o| convert::non_negative(what, o)).transpose()
}

fn opt_ms(what: &str, obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<i64>> {
    obj.filter(|o| !o.is_none()).map(|o| convert::seconds_to_ms(what, o)).transpose()
}

/// An optional argument that was given (not `None`).
fn given<'py>(o: Option<&Bound<'py, PyAny>>) -> Option<Bound<'py, PyAny>> {
    o.filter(|o| !o.is_none()).cloned()
}

/// A subscription's settings as Python sees them: `(ack_timeout,
/// max_deliveries, dead_letter_topic, retry_backoff)`, durations in seconds.
type SettingsTuple = (f64, Option<u32>, Option<String>, Option<(f64, f64)>);

/// What `_describe_subscription` returns.
type SubscriptionTuple = (String, String, u64, u64, u64, u64, u64, Option<f64>, SettingsTuple);

fn settings_tuple(s: &logpond::SubscriptionSettings) -> SettingsTuple {
    let backoff = s.retry_backoff_ms.map(|(i, m)| (seconds(i), seconds(m)));
    (seconds(s.ack_timeout_ms), s.max_deliveries, s.dead_letter_topic.clone(), backoff)
}

fn seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

#[pymethods]
impl Pond {
    /// `Pond(path)` opens (creating) a pond directory; `Pond()` makes one in
    /// memory. `logpond.open` and `logpond.memory` are the usual spellings.
    #[new]
    #[pyo3(signature = (path=None, *, durability="os", clock=None, group_access=false, read_only=false))]
    fn new(
        py: Python<'_>,
        path: Option<PathBuf>,
        durability: &str,
        clock: Option<&Bound<'_, PyAny>>,
        group_access: bool,
        read_only: bool,
    ) -> PyResult<Pond> {
        let options = options(py, durability, clock, group_access, read_only)?;
        let inner = match &path {
            Some(p) => detached(py, || logpond::Pond::open_with(p, options))?,
            None => logpond::Pond::memory_with(options),
        };
        Ok(Pond { inner: Arc::new(inner), path })
    }

    /// The pond's directory, or `None` in memory.
    #[getter]
    fn path(&self) -> Option<PathBuf> {
        self.path.clone()
    }

    /// `"os"` or `"fsync"`.
    #[getter]
    fn durability(&self) -> &'static str {
        match self.inner.durability() {
            Durability::Os => "os",
            Durability::Fsync => "fsync",
        }
    }

    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        let pond = &*self.inner;
        py.detach(|| pond.is_closed())
    }

    #[pyo3(signature = (
        name, partitions=None, *, retention=None, retention_bytes=None, retention_records=None,
        compact=false, max_record_bytes=None, max_backlog=None, segment_bytes=None,
        segment_age=None, delete_retention=None, retain_until_acked=false
    ))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn create_topic(
        &self,
        py: Python<'_>,
        name: &Bound<'_, PyString>,
        partitions: Option<&Bound<'_, PyAny>>,
        retention: Option<&Bound<'_, PyAny>>,
        retention_bytes: Option<&Bound<'_, PyAny>>,
        retention_records: Option<&Bound<'_, PyAny>>,
        compact: bool,
        max_record_bytes: Option<&Bound<'_, PyAny>>,
        max_backlog: Option<&Bound<'_, PyAny>>,
        segment_bytes: Option<&Bound<'_, PyAny>>,
        segment_age: Option<&Bound<'_, PyAny>>,
        delete_retention: Option<&Bound<'_, PyAny>>,
        retain_until_acked: bool,
    ) -> PyResult<()> {
        let name = name.to_cow()?;
        let mut config = TopicConfig::default();
        if let Some(p) = partitions.filter(|p| !p.is_none()) {
            config.partitions = convert::small("partitions", p)?;
        }
        config.retention_ms = opt_ms("retention", retention)?;
        config.retention_bytes = opt_u64("retention_bytes", retention_bytes)?;
        config.retention_records = opt_u64("retention_records", retention_records)?;
        if compact {
            config.cleanup = Cleanup::Compact;
        }
        if let Some(m) = max_record_bytes.filter(|m| !m.is_none()) {
            config.max_record_bytes = convert::small("max_record_bytes", m)?;
        }
        config.max_backlog = opt_u64("max_backlog", max_backlog)?;
        if let Some(s) = opt_u64("segment_bytes", segment_bytes)? {
            config.segment_bytes = s;
        }
        if let Some(ms) = opt_ms("segment_age", segment_age)? {
            config.segment_ms = ms;
        }
        if let Some(ms) = opt_ms("delete_retention", delete_retention)? {
            config.delete_retention_ms = ms;
        }
        config.retain_until_acked = retain_until_acked;
        let pond = &*self.inner;
        detached(py, || pond.create_topic(&name, config))
    }

    /// User topic names, sorted.
    fn topics(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let pond = &*self.inner;
        detached(py, || pond.topics())
    }

    /// The consumer groups the pond knows; joins none.
    fn groups(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        let pond = &*self.inner;
        detached(py, || pond.groups())
    }

    /// `(group, generation, [(member_id, [(topic, partition)])],
    /// [(topic, partition, committed, end, lag, consumer)])`; the Python
    /// layer wraps it in `GroupInfo`. Joins nothing.
    #[allow(clippy::type_complexity)]
    fn _describe_group(
        &self,
        py: Python<'_>,
        group: String,
    ) -> PyResult<(
        String,
        u64,
        Vec<(u64, Vec<(String, u32)>)>,
        Vec<(String, u32, Option<u64>, u64, u64, Option<u64>)>,
    )> {
        let pond = &*self.inner;
        let info = detached(py, || pond.describe_group(&group))?;
        let members = info.members.into_iter().map(|m| (m.member_id, m.assignment)).collect();
        let offsets = info
            .offsets
            .into_iter()
            .map(|((topic, partition), o)| (topic, partition, o.committed, o.end, o.lag, o.consumer))
            .collect();
        Ok((info.group, info.generation, members, offsets))
    }

    /// `(topic, subscription, backlog, in_flight, dead_lettered, parked,
    /// expired, oldest_unacked_age (seconds or None), settings)`; the Python
    /// layer wraps it in `SubscriptionInfo`.
    fn _describe_subscription(
        &self,
        py: Python<'_>,
        topic: String,
        subscription: String,
    ) -> PyResult<SubscriptionTuple> {
        let pond = &*self.inner;
        let i = detached(py, || pond.describe_subscription(&topic, &subscription))?;
        let age = i.oldest_unacked_age_ms.map(seconds);
        let settings = settings_tuple(&i.settings);
        Ok((
            i.topic,
            i.subscription,
            i.backlog,
            i.in_flight,
            i.dead_lettered,
            i.parked,
            i.expired,
            age,
            settings,
        ))
    }

    /// Changes a subscription's stored settings (`None`: unchanged;
    /// `max_deliveries=0`, `dead_letter_topic=""` and `retry_backoff=(0,
    /// 0)` remove one); returns the settings now in force, as for
    /// `_describe_subscription`.
    #[pyo3(signature = (topic, subscription, ack_timeout, max_deliveries, dead_letter_topic, retry_backoff))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn _update_subscription(
        &self,
        py: Python<'_>,
        topic: String,
        subscription: String,
        ack_timeout: Option<&Bound<'_, PyAny>>,
        max_deliveries: Option<&Bound<'_, PyAny>>,
        dead_letter_topic: Option<&Bound<'_, PyAny>>,
        retry_backoff: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<SettingsTuple> {
        let update = logpond::SettingsUpdate::from_options(
            given(ack_timeout).map(|t| convert::seconds_to_ms("ack_timeout", &t)).transpose()?,
            given(max_deliveries).map(|m| convert::small("max_deliveries", &m)).transpose()?,
            given(dead_letter_topic).map(|d| convert::string("dead_letter_topic", &d)).transpose()?,
            given(retry_backoff).map(|b| convert::backoff(&b)).transpose()?,
        );
        let pond = &*self.inner;
        let settings = detached(py, || pond.update_subscription(&topic, &subscription, &update))?;
        Ok(settings_tuple(&settings))
    }

    /// `(name, [(partition, start, end, bytes)], config dict)`; the Python
    /// layer wraps it in `TopicInfo`.
    fn _describe<'py>(&self, py: Python<'py>, name: &Bound<'py, PyString>) -> PyResult<Bound<'py, PyTuple>> {
        let topic = name.to_cow()?;
        let pond = &*self.inner;
        let info = detached(py, || pond.describe(&topic))?;
        let parts = PyList::new(
            py,
            info.partitions.iter().map(|p| (p.partition, p.start_offset, p.end_offset, p.bytes)),
        )?;
        let c = &info.config;
        let config = PyDict::new(py);
        config.set_item("partitions", c.partitions)?;
        config.set_item("retention", c.retention_ms.map(seconds))?;
        config.set_item("retention_bytes", c.retention_bytes)?;
        config.set_item("retention_records", c.retention_records)?;
        config.set_item("compact", c.cleanup == Cleanup::Compact)?;
        config.set_item("max_record_bytes", c.max_record_bytes)?;
        config.set_item("max_backlog", c.max_backlog)?;
        config.set_item("segment_bytes", c.segment_bytes)?;
        config.set_item("segment_age", seconds(c.segment_ms))?;
        config.set_item("delete_retention", seconds(c.delete_retention_ms))?;
        config.set_item("retain_until_acked", c.retain_until_acked)?;
        (info.name, parts, config).into_pyobject(py)
    }

    /// Deletes a topic and all its records.
    fn delete_topic(&self, py: Python<'_>, name: &Bound<'_, PyString>) -> PyResult<()> {
        let name = name.to_cow()?;
        let pond = &*self.inner;
        detached(py, || pond.delete_topic(&name))
    }

    /// Appends one record; returns where it landed. A `timeout` (seconds;
    /// `None`: no limit) waits out `Backpressure`, GIL released, until acks
    /// make room; by default `Backpressure` is raised at once. Queues
    /// deliver it no earlier than `delay` and no later than `ttl` seconds
    /// after it is appended.
    #[pyo3(signature = (
        topic, value, *, key=None, headers=None, partition=None, timestamp_ms=None, timeout=Timeout::NONE,
        delay=None, ttl=None
    ))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn send(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        value: Option<&Bound<'_, PyAny>>,
        key: Option<&Bound<'_, PyAny>>,
        headers: Option<&Bound<'_, PyAny>>,
        partition: Option<&Bound<'_, PyAny>>,
        timestamp_ms: Option<&Bound<'_, PyAny>>,
        timeout: Timeout,
        delay: Option<&Bound<'_, PyAny>>,
        ttl: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<RecordMetadata> {
        let name = topic.to_cow()?;
        let input = convert::input(value, Parts { key, headers, partition, timestamp_ms })?;
        let schedule = convert::Schedule::from(delay, ttl)?;
        let record = schedule.apply(input.record());
        let pond = &*self.inner;
        let md = wait::through_backpressure(py, timeout, |slice| {
            pond.send_many_wait(&name, std::slice::from_ref(&record), slice)?
                .pop()
                .ok_or_else(|| logpond::Error::InvalidArgument("no record was appended".into()))
        })?;
        Ok(RecordMetadata::from_core(py, &topic.clone().unbind(), &md))
    }

    /// Appends records (values, or dicts with key/value/headers/partition/
    /// timestamp_ms); each partition's share is one atomic batch. `timeout`,
    /// `delay` and `ttl` as for `send` (for every record).
    #[pyo3(signature = (topic, records, *, timeout=Timeout::NONE, delay=None, ttl=None))]
    fn send_many<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyString>,
        records: &Bound<'py, PyAny>,
        timeout: Timeout,
        delay: Option<&Bound<'py, PyAny>>,
        ttl: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let name = topic.to_cow()?;
        let schedule = convert::Schedule::from(delay, ttl)?;
        let inputs: Vec<convert::Input<'py>> = if let Ok(list) = records.cast::<PyList>() {
            list.iter().map(|item| convert::item(&item)).collect::<PyResult<_>>()?
        } else if records.is_instance_of::<PyString>() || records.is_instance_of::<pyo3::types::PyBytes>() {
            return Err(PyTypeError::new_err("send_many takes an iterable of records, not one value"));
        } else {
            let iter = records
                .try_iter()
                .map_err(|_| PyTypeError::new_err("send_many takes an iterable of records"))?;
            iter.map(|item| convert::item(&item?)).collect::<PyResult<_>>()?
        };
        let batch: Vec<logpond::NewRecord<'_>> = inputs.iter().map(|i| schedule.apply(i.record())).collect();
        let pond = &*self.inner;
        let metas =
            wait::through_backpressure(py, timeout, |slice| pond.send_many_wait(&name, &batch, slice))?;
        let topic = topic.clone().unbind();
        PyList::new(py, metas.iter().map(|m| RecordMetadata::from_core(py, &topic, m)))
    }

    /// Up to `max_records` records of one partition from `offset` on.
    #[pyo3(signature = (topic, partition=None, offset=None, *, max_records=None, max_bytes=None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        topic: &Bound<'py, PyString>,
        partition: Option<&Bound<'py, PyAny>>,
        offset: Option<&Bound<'py, PyAny>>,
        max_records: Option<&Bound<'py, PyAny>>,
        max_bytes: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyList>> {
        let name = topic.to_cow()?;
        let partition =
            partition.filter(|p| !p.is_none()).map(|p| convert::small("partition", p)).transpose()?;
        let offset = opt_u64("offset", offset)?.unwrap_or(0);
        let mut limits = ReadLimits::default();
        if let Some(n) = opt_u64("max_records", max_records)? {
            limits.max_records = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = opt_u64("max_bytes", max_bytes)? {
            limits.max_bytes = usize::try_from(n).unwrap_or(usize::MAX);
        }
        let pond = &*self.inner;
        let records = detached(py, || pond.read(&name, partition.unwrap_or(0), offset, limits))?;
        let topic = topic.clone().unbind();
        let converted =
            records.iter().map(|r| Record::from_core(py, &topic, r)).collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, converted)
    }

    /// The first offset whose timestamp is >= `timestamp_ms`, or `None`.
    fn offset_for_time(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        partition: &Bound<'_, PyAny>,
        timestamp_ms: &Bound<'_, PyAny>,
    ) -> PyResult<Option<u64>> {
        let name = topic.to_cow()?;
        let partition = convert::small("partition", partition)?;
        let ts = convert::int("timestamp_ms", timestamp_ms)?;
        let pond = &*self.inner;
        detached(py, || pond.offset_for_time(&name, partition, ts))
    }

    /// `(start_offset, end_offset)` of a partition (Kafka's watermarks).
    #[pyo3(signature = (topic, partition=None))]
    fn offsets(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        partition: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<(u64, u64)> {
        let name = topic.to_cow()?;
        let partition =
            partition.filter(|p| !p.is_none()).map(|p| convert::small("partition", p)).transpose()?;
        let pond = &*self.inner;
        detached(py, || pond.offsets(&name, partition.unwrap_or(0)))
    }

    /// Makes every offset below `before_offset` unreadable.
    fn delete_records(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        partition: &Bound<'_, PyAny>,
        before_offset: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let name = topic.to_cow()?;
        let partition = convert::small("partition", partition)?;
        let before = convert::non_negative("before_offset", before_offset)?;
        let pond = &*self.inner;
        detached(py, || pond.delete_records(&name, partition, before))
    }

    /// The queue subscriptions of a topic, sorted.
    fn subscriptions(&self, py: Python<'_>, topic: &Bound<'_, PyString>) -> PyResult<Vec<String>> {
        let name = topic.to_cow()?;
        let pond = &*self.inner;
        detached(py, || pond.subscriptions(&name))
    }

    /// Deletes a queue subscription and its delivery state.
    fn delete_subscription(
        &self,
        py: Python<'_>,
        topic: &Bound<'_, PyString>,
        name: &Bound<'_, PyString>,
    ) -> PyResult<()> {
        let topic = topic.to_cow()?;
        let subscription = name.to_cow()?;
        let pond = &*self.inner;
        detached(py, || pond.delete_subscription(&topic, &subscription))
    }

    /// Runs retention and compaction on every topic now.
    fn maintain(&self, py: Python<'_>) -> PyResult<()> {
        let pond = &*self.inner;
        detached(py, || pond.maintain())
    }

    /// Makes every append so far durable (fsync).
    fn flush(&self, py: Python<'_>) -> PyResult<()> {
        let pond = &*self.inner;
        detached(py, || pond.flush())
    }

    /// Closes the pond (releasing its directory); closing twice is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        let pond = &*self.inner;
        detached(py, || pond.close())
    }
}
