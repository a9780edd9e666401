//! The native `Queue` (a consumer of a queue subscription) and `Delivery`
//! (a record leased to it). The public `logpond.Queue` is a Python subclass
//! that adds `subscribe` (handlers on threads), a context manager and repr.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use logpond::{DeliveryToken, QueueConfig};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::convert;
use crate::errors::{detached, invalid, is_code};
use crate::pond::Pond;
use crate::record::Record;
use crate::wait::{self, Timeout};

#[pyclass(frozen, subclass, module = "logpond._native", name = "Queue")]
pub struct Queue {
    inner: logpond::Queue,
    pond: Arc<logpond::Pond>,
    topic: Py<PyString>,
    subscription: Py<PyString>,
    closed: AtomicBool,
}

/// A record leased to a queue consumer: `.record .delivery_count`, settled
/// with `.ack()` or returned with `.nack(delay, reason)`.
#[pyclass(frozen, module = "logpond", name = "Delivery")]
pub struct Delivery {
    queue: Py<Queue>,
    record: Py<Record>,
    delivery_count: u32,
    token: DeliveryToken,
    done: AtomicBool,
}

fn count(what: &str, obj: &Bound<'_, PyAny>) -> PyResult<usize> {
    let n = convert::non_negative(what, obj)?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

impl Queue {
    fn deliveries<'py>(slf: &Bound<'py, Self>, got: Vec<logpond::Delivery>) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let q = slf.get();
        let out = got
            .into_iter()
            .map(|d| {
                Ok(Delivery {
                    queue: slf.clone().unbind(),
                    record: Py::new(py, Record::from_core(py, &q.topic, &d.record)?)?,
                    delivery_count: d.delivery_count,
                    token: d.token,
                    done: AtomicBool::new(false),
                })
            })
            .collect::<PyResult<Vec<Delivery>>>()?;
        PyList::new(py, out)
    }

    fn receive_for<'py>(
        slf: &Bound<'py, Self>,
        max: usize,
        timeout: Timeout,
    ) -> PyResult<Bound<'py, PyList>> {
        let py = slf.py();
        let q = slf.get();
        let inner = &q.inner;
        let got = wait::until_some(py, timeout, |slice| inner.receive_wait(max, slice))?;
        Queue::deliveries(slf, got)
    }
}

#[pymethods]
impl Queue {
    /// Attaches a consumer to the subscription `subscription` of `topic`,
    /// creating it if needed. Usually made with `pond.queue(...)`.
    #[new]
    #[pyo3(signature = (
        pond, topic, subscription, *, ack_timeout=None, max_deliveries=None, dead_letter_topic=None,
        retry_backoff=None, max_in_flight=None, start_at_end=false
    ))]
    #[allow(clippy::too_many_arguments)] // the Python signature
    fn new(
        py: Python<'_>,
        pond: &Bound<'_, Pond>,
        topic: &Bound<'_, PyAny>,
        subscription: &Bound<'_, PyAny>,
        ack_timeout: Option<&Bound<'_, PyAny>>,
        max_deliveries: Option<&Bound<'_, PyAny>>,
        dead_letter_topic: Option<&Bound<'_, PyAny>>,
        retry_backoff: Option<&Bound<'_, PyAny>>,
        max_in_flight: Option<&Bound<'_, PyAny>>,
        start_at_end: bool,
    ) -> PyResult<Queue> {
        let topic_name = convert::string("topic", topic)?;
        let mut config = QueueConfig::new(convert::string("subscription", subscription)?);
        if let Some(t) = ack_timeout.filter(|t| !t.is_none()) {
            config.ack_timeout_ms = Some(convert::seconds_to_ms("ack_timeout", t)?);
        }
        if let Some(b) = retry_backoff.filter(|b| !b.is_none()) {
            config.retry_backoff_ms = Some(convert::backoff(b)?);
        }
        if let Some(m) = max_deliveries.filter(|m| !m.is_none()) {
            config.max_deliveries = Some(convert::small("max_deliveries", m)?);
        }
        if let Some(d) = dead_letter_topic.filter(|d| !d.is_none()) {
            config.dead_letter_topic = Some(convert::string("dead_letter_topic", d)?);
        }
        if let Some(m) = max_in_flight.filter(|m| !m.is_none()) {
            config.max_in_flight = count("max_in_flight", m)?;
        }
        config.start_at_end = start_at_end;
        let pond = pond.get().inner.clone();
        let inner = detached(py, || pond.queue(&topic_name, config))?;
        Ok(Queue {
            topic: PyString::new(py, inner.topic()).unbind(),
            subscription: PyString::new(py, inner.subscription()).unbind(),
            inner,
            pond,
            closed: AtomicBool::new(false),
        })
    }

    #[getter]
    fn topic(&self, py: Python<'_>) -> Py<PyString> {
        self.topic.clone_ref(py)
    }

    #[getter]
    fn subscription(&self, py: Python<'_>) -> Py<PyString> {
        self.subscription.clone_ref(py)
    }

    /// True once this queue consumer (or its pond) is closed.
    #[getter]
    fn closed(&self, py: Python<'_>) -> bool {
        let pond = &*self.pond;
        self.closed.load(Ordering::SeqCst) || py.detach(|| pond.is_closed())
    }

    /// Up to `max_messages` deliveries, each leased for the ack timeout.
    /// With a `timeout` (seconds; `None`: no limit) it waits, GIL released,
    /// for one; by default it returns at once.
    #[pyo3(signature = (max_messages=None, timeout=Timeout::NONE))]
    fn receive<'py>(
        slf: &Bound<'py, Self>,
        max_messages: Option<&Bound<'py, PyAny>>,
        timeout: Timeout,
    ) -> PyResult<Bound<'py, PyList>> {
        let max = match max_messages.filter(|m| !m.is_none()) {
            Some(m) => count("max_messages", m)?,
            None => 1,
        };
        Queue::receive_for(slf, max, timeout)
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    /// Blocks (GIL released) for the next delivery; stops once the queue or
    /// its pond is closed.
    fn __next__(slf: &Bound<'_, Self>) -> PyResult<Option<Py<Delivery>>> {
        let py = slf.py();
        match Queue::receive_for(slf, 1, Timeout::Forever) {
            Ok(list) => match list.iter().next() {
                Some(d) => Ok(Some(d.cast_into::<Delivery>()?.unbind())),
                None => Ok(None),
            },
            Err(e) if is_code(py, &e, "CLOSED") => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Acknowledges several deliveries in one write: all of them, or none
    /// (`LeaseExpired` when one was delivered again or settled since).
    fn ack_many(&self, py: Python<'_>, deliveries: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut chosen: Vec<Bound<'_, Delivery>> = Vec::new();
        let items = deliveries
            .try_iter()
            .map_err(|_| PyTypeError::new_err("ack_many takes an iterable of Delivery"))?;
        for item in items {
            let item = item?;
            let d = item
                .cast_into::<Delivery>()
                .map_err(|_| PyTypeError::new_err("ack_many takes an iterable of Delivery"))?;
            let theirs = d.get().queue.get();
            if theirs.inner.topic() != self.inner.topic()
                || theirs.inner.subscription() != self.inner.subscription()
            {
                return Err(invalid(
                    py,
                    format!(
                        "a delivery of subscription {:?} of topic {:?} cannot be acked through {:?} of {:?}",
                        theirs.inner.subscription(),
                        theirs.inner.topic(),
                        self.inner.subscription(),
                        self.inner.topic()
                    ),
                ));
            }
            chosen.push(d);
        }
        let tokens: Vec<DeliveryToken> = chosen.iter().map(|d| d.get().token).collect();
        let inner = &self.inner;
        detached(py, || inner.ack_many(&tokens))?;
        for d in &chosen {
            d.get().done.store(true, Ordering::SeqCst);
        }
        Ok(())
    }

    /// Unsettled records of the subscription (in flight and parked included).
    fn backlog(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        detached(py, || inner.backlog())
    }

    /// Records of the subscription leased to any of its consumers now.
    fn in_flight(&self, py: Python<'_>) -> PyResult<u64> {
        let inner = &self.inner;
        detached(py, || inner.in_flight())
    }

    /// Moves the subscription past damaged batches (after a `Corruption`
    /// from `receive`): their records are settled undelivered. Returns the
    /// skipped ranges as `(partition, from_offset, to_offset)`, exclusive.
    fn skip_damaged(&self, py: Python<'_>) -> PyResult<Vec<(u32, u64, u64)>> {
        let inner = &self.inner;
        detached(py, || inner.skip_damaged())
    }

    /// Parked records as `(partition, offset, delivery_count, reason)`; the
    /// Python layer wraps them in `ParkedRecord`.
    fn _parked(&self, py: Python<'_>) -> PyResult<Vec<(u32, u64, u32, String)>> {
        let inner = &self.inner;
        let parked = detached(py, || inner.parked())?;
        Ok(parked.into_iter().map(|p| (p.partition, p.offset, p.delivery_count, p.reason)).collect())
    }

    /// Detaches this consumer: its leases become deliverable again at once.
    /// Closing twice is harmless.
    fn close(&self, py: Python<'_>) -> PyResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        let inner = &self.inner;
        detached(py, || inner.close())
    }
}

impl Delivery {
    fn settle<F>(&self, py: Python<'_>, f: F) -> PyResult<()>
    where
        F: FnOnce(&logpond::Queue) -> logpond::Result<()> + Send,
    {
        let queue = self.queue.get();
        let inner = &queue.inner;
        detached(py, || f(inner))?;
        self.done.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[pymethods]
impl Delivery {
    #[getter]
    fn record(&self, py: Python<'_>) -> Py<Record> {
        self.record.clone_ref(py)
    }

    /// 1 on the first delivery; every redelivery counts up.
    #[getter]
    fn delivery_count(&self) -> u32 {
        self.delivery_count
    }

    /// The queue consumer that received it.
    #[getter]
    fn queue(&self, py: Python<'_>) -> Py<Queue> {
        self.queue.clone_ref(py)
    }

    /// True once `ack()` or `nack()` (or `ack_many`) succeeded on this object.
    #[getter]
    fn done(&self) -> bool {
        self.done.load(Ordering::SeqCst)
    }

    /// Settles it: it is never delivered again. Raises `LeaseExpired` when it
    /// was delivered again (or settled) since.
    fn ack(&self, py: Python<'_>) -> PyResult<()> {
        let token = self.token;
        self.settle(py, |q| q.ack(token))
    }

    /// Returns it, deliverable again after `delay` seconds (with none,
    /// after the subscription's `retry_backoff`, or at once behind the
    /// records already waiting); `reason` is kept for a dead letter's
    /// `logpond.dlq.reason` header.
    #[pyo3(signature = (delay=None, reason=None))]
    fn nack(
        &self,
        py: Python<'_>,
        delay: Option<&Bound<'_, PyAny>>,
        reason: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        let delay_ms =
            delay.filter(|d| !d.is_none()).map(|d| convert::seconds_to_ms("delay", d)).transpose()?;
        let reason = match reason.filter(|r| !r.is_none()) {
            Some(r) => convert::string("reason", r)?,
            None => "nacked".to_string(),
        };
        let token = self.token;
        self.settle(py, |q| q.nack_with_reason(token, delay_ms, &reason))
    }

    /// Keeps it leased for `seconds` more from now (a long job): raises
    /// `LeaseExpired` when the lease already ended.
    fn extend(&self, py: Python<'_>, seconds: &Bound<'_, PyAny>) -> PyResult<()> {
        let ms = convert::seconds_to_ms("seconds", seconds)?;
        let token = self.token;
        let inner = &self.queue.get().inner;
        detached(py, || inner.extend(token, ms)).map(drop)
    }

    /// Returns it after a handler failed: redelivered after the failure
    /// backoff for its delivery count (for `Subscription`).
    fn _nack_failed(&self, py: Python<'_>, reason: &Bound<'_, PyAny>) -> PyResult<()> {
        let reason = convert::string("reason", reason)?;
        let token = self.token;
        self.settle(py, |q| q.nack_failed(token, &reason))
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        let r = self.record.bind(py).get();
        Ok(format!(
            "Delivery(topic={}, partition={}, offset={}, delivery_count={}{})",
            self.queue.get().topic.bind(py).repr()?,
            r.partition,
            r.offset,
            self.delivery_count,
            if self.done() { ", done" } else { "" }
        ))
    }
}
