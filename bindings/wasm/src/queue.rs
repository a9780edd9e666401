//! A queue consumer: receive, ack, nack.

use js_sys::{Array, Object, Reflect};
use logpond::{DeliveryToken, Queue};
use wasm_bindgen::prelude::*;

use crate::convert::{core, from_u64, invalid, packed_js, to_i64, to_u32, to_u64, to_usize, JsResult};

/// A delivery's token from its numbers (`partition, offset, leaseId`, as a
/// receive hands them out): a stale or made-up one is refused by the core
/// (`LeaseExpired`), never harmful.
fn token(partition: f64, offset: f64, lease: f64) -> JsResult<DeliveryToken> {
    Ok(DeliveryToken::from_parts(
        to_u32("partition", partition)?,
        to_u64("offset", offset)?,
        to_u64("leaseId", lease)?,
    ))
}

#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmQueue {
    inner: Queue,
}

impl WasmQueue {
    pub(crate) fn new(inner: Queue) -> WasmQueue {
        WasmQueue { inner }
    }
}

#[wasm_bindgen]
impl WasmQueue {
    /// Up to `max_messages` deliveries, without waiting, packed (see
    /// `logpond_js::Packed`) with `deliveryCount, leaseId` before each record.
    pub fn receive(&self, max_messages: f64) -> JsResult<Array> {
        let got = core(self.inner.receive(to_usize("maxMessages", max_messages)?))?;
        // Lease ids count up from 1 per pond: far below 2^53.
        packed_js(logpond_js::pack(
            &got,
            |d| &d.record,
            |d| [f64::from(d.delivery_count), d.token.lease_id() as f64],
        ))
    }

    /// Settles deliveries given as `partition, offset, leaseId` triples in
    /// one write: all, or none (`LeaseExpired`).
    pub fn ack(&self, tokens: &[f64]) -> JsResult<()> {
        if !tokens.len().is_multiple_of(3) {
            return Err(invalid("malformed delivery tokens"));
        }
        let tokens = tokens.chunks_exact(3).map(|t| token(t[0], t[1], t[2])).collect::<JsResult<Vec<_>>>()?;
        core(self.inner.ack_many(&tokens))
    }

    pub fn nack(
        &self,
        partition: f64,
        offset: f64,
        lease: f64,
        delay_ms: Option<f64>,
        reason: Option<String>,
    ) -> JsResult<()> {
        let token = token(partition, offset, lease)?;
        let delay = delay_ms.map(|ms| to_i64("delayMs", ms)).transpose()?;
        match reason {
            Some(r) => core(self.inner.nack_with_reason(token, delay, &r)),
            None => core(self.inner.nack(token, delay)),
        }
    }

    /// Pushes a delivery's lease deadline to now + `ms`; returns the new
    /// deadline (epoch ms). `LeaseExpired` when the lease already ended.
    pub fn extend(&self, partition: f64, offset: f64, lease: f64, ms: f64) -> JsResult<f64> {
        let deadline =
            core(self.inner.extend(token(partition, offset, lease)?, to_i64("ackTimeoutMs", ms)?))?;
        Ok(deadline as f64)
    }

    /// Returns a delivery whose handler failed, after the subscription's
    /// retry backoff (or the core's failure backoff).
    #[wasm_bindgen(js_name = nackFailed)]
    pub fn nack_failed(&self, partition: f64, offset: f64, lease: f64, reason: String) -> JsResult<()> {
        core(self.inner.nack_failed(token(partition, offset, lease)?, &reason))
    }

    /// When (the clock's epoch ms) a record of the subscription comes due
    /// (a lease expiring, a nack delay or backoff ending), if ever: the
    /// page sets its wake-up timer from it (the core owns that rule).
    #[wasm_bindgen(js_name = nextDueMs)]
    pub fn next_due_ms(&self) -> JsResult<Option<f64>> {
        Ok(core(self.inner.next_due_ms())?.map(|ms| ms as f64))
    }

    pub fn backlog(&self) -> JsResult<f64> {
        from_u64(core(self.inner.backlog())?)
    }

    #[wasm_bindgen(js_name = inFlight)]
    pub fn in_flight(&self) -> JsResult<f64> {
        from_u64(core(self.inner.in_flight())?)
    }

    /// `[{ partition, fromOffset, toOffset }]` skipped past damage.
    #[wasm_bindgen(js_name = skipDamaged)]
    pub fn skip_damaged(&self) -> JsResult<Array> {
        let out = Array::new();
        for (partition, from, to) in core(self.inner.skip_damaged())? {
            out.push(&crate::convert::skipped_range(None, partition, from, to)?);
        }
        Ok(out)
    }

    /// `[{ partition, offset, deliveryCount, reason }]`.
    pub fn parked(&self) -> JsResult<Array> {
        let out = Array::new();
        for p in core(self.inner.parked())? {
            let o = Object::new();
            let set = |k: &str, v: JsValue| {
                let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
            };
            set("partition", p.partition.into());
            set("offset", from_u64(p.offset)?.into());
            set("deliveryCount", p.delivery_count.into());
            set("reason", p.reason.as_str().into());
            out.push(&o);
        }
        Ok(out)
    }

    pub fn close(&self) -> JsResult<()> {
        core(self.inner.close())
    }
}
