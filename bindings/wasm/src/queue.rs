//! A queue consumer: receive, ack, nack.

use js_sys::{Array, Object, Reflect, Uint32Array};
use logpond::{DeliveryToken, Queue};
use wasm_bindgen::prelude::*;

use crate::convert::{core, from_u64, to_i64, to_usize, JsResult, Packed};

/// One delivery's lease, for `ack` and `nack`.
#[wasm_bindgen]
#[derive(Debug, Clone, Copy)]
pub struct WasmToken(DeliveryToken);

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
    /// Up to `max_messages` deliveries, without waiting: the packed records
    /// (see `Packed`), then `deliveryCounts: Uint32Array`, then `tokens`.
    pub fn receive(&self, max_messages: f64) -> JsResult<Array> {
        let got = core(self.inner.receive(to_usize("maxMessages", max_messages)?))?;
        let mut packed = Packed::with_capacity(got.len());
        let mut counts = Vec::with_capacity(got.len());
        let tokens = Array::new();
        for d in &got {
            packed.push(&d.record)?;
            counts.push(d.delivery_count);
            tokens.push(&JsValue::from(WasmToken(d.token)));
        }
        Ok(packed.into_js(&[Uint32Array::from(&counts[..]).into(), tokens.into()]))
    }

    pub fn ack(&self, token: &WasmToken) -> JsResult<()> {
        core(self.inner.ack(token.0))
    }

    /// Settles several deliveries in one write: all or none.
    #[wasm_bindgen(js_name = ackMany)]
    pub fn ack_many(&self, tokens: Vec<WasmToken>) -> JsResult<()> {
        let tokens: Vec<DeliveryToken> = tokens.iter().map(|t| t.0).collect();
        core(self.inner.ack_many(&tokens))
    }

    pub fn nack(&self, token: &WasmToken, delay_ms: f64, reason: Option<String>) -> JsResult<()> {
        let delay = to_i64("delayMs", delay_ms)?;
        match reason {
            Some(r) => core(self.inner.nack_with_reason(token.0, delay, &r)),
            None => core(self.inner.nack(token.0, delay)),
        }
    }

    /// Returns a delivery whose handler failed, after the core's failure
    /// backoff.
    #[wasm_bindgen(js_name = nackFailed)]
    pub fn nack_failed(&self, token: &WasmToken, reason: String) -> JsResult<()> {
        core(self.inner.nack_failed(token.0, &reason))
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
