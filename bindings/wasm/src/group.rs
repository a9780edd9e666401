//! A consumer-group member.

use js_sys::{Array, Uint32Array};
use logpond::{Consumer, Record};
use wasm_bindgen::prelude::*;

use crate::convert::{core, from_u64, invalid, packed_js, to_i64, to_u32, to_u64, to_usize, JsResult};

#[wasm_bindgen]
#[derive(Debug)]
pub struct WasmConsumer {
    inner: Consumer,
    /// The subscribed topics: a polled record carries its topic's index.
    topics: Vec<String>,
}

impl WasmConsumer {
    pub(crate) fn new(inner: Consumer, topics: Vec<String>) -> WasmConsumer {
        WasmConsumer { inner, topics }
    }

    /// Records packed with their topic's index before each (-1 would be a
    /// bug: a record's topic is always subscribed).
    fn pack(&self, records: &[Record]) -> JsResult<Array> {
        let index =
            |r: &Record| [self.topics.iter().position(|t| **t == *r.topic).map_or(-1.0, |i| i as f64)];
        packed_js(logpond_js::pack(records, |r| r, index))
    }
}

/// `[topics: string[], partitions: Uint32Array, values: Float64Array?]`.
fn pack_partitions(parts: impl Iterator<Item = (String, u32, Option<f64>)>) -> Array {
    let (topics, partitions, values): (Array, Vec<u32>, Vec<f64>) =
        parts.fold((Array::new(), Vec::new(), Vec::new()), |(topics, mut ps, mut vs), (t, p, v)| {
            topics.push(&JsValue::from_str(&t));
            ps.push(p);
            if let Some(v) = v {
                vs.push(v);
            }
            (topics, ps, vs)
        });
    let out = Array::new();
    out.push(&topics);
    out.push(&Uint32Array::from(&partitions[..]));
    out.push(&js_sys::Float64Array::from(&values[..]));
    out
}

#[wasm_bindgen]
impl WasmConsumer {
    /// Up to `max_records` packed records (a topic index first), without waiting.
    pub fn poll(&self, max_records: f64) -> JsResult<Array> {
        self.pack(&core(self.inner.poll(to_usize("maxRecords", max_records)?))?)
    }

    /// The next record, packed (none: empty), without waiting. Positions
    /// count only the records handed out, so iteration that stops between
    /// two calls (or a rebalance between them) loses or repeats nothing.
    #[wasm_bindgen(js_name = nextRecord)]
    pub fn next_record(&self) -> JsResult<Array> {
        self.pack(core(self.inner.next_record())?.as_slice())
    }

    /// The next record this member has fetched already, packed (none:
    /// empty): no storage touched, so callable between write transactions.
    #[wasm_bindgen(js_name = nextBuffered)]
    pub fn next_buffered(&self) -> JsResult<Array> {
        self.pack(core(self.inner.next_buffered())?.as_slice())
    }

    pub fn commit(&self) -> JsResult<()> {
        core(self.inner.commit())
    }

    /// Commits next-offsets-to-read: `topics[i]`, `partitions[i]`, `offsets[i]`.
    #[wasm_bindgen(js_name = commitOffsets)]
    pub fn commit_offsets(&self, topics: Vec<String>, partitions: &[f64], offsets: &[f64]) -> JsResult<()> {
        if topics.len() != partitions.len() || topics.len() != offsets.len() {
            return Err(invalid("commit offsets: mismatched lists"));
        }
        let mut list = Vec::with_capacity(topics.len());
        for (i, t) in topics.iter().enumerate() {
            list.push((t.as_str(), to_u32("partition", partitions[i])?, to_u64("offset", offsets[i])?));
        }
        core(self.inner.commit_offsets(&list))
    }

    pub fn committed(&self, topic: &str, partition: f64) -> JsResult<Option<f64>> {
        core(self.inner.committed(topic, to_u32("partition", partition)?))?.map(from_u64).transpose()
    }

    pub fn position(&self, topic: &str, partition: f64) -> JsResult<f64> {
        from_u64(core(self.inner.position(topic, to_u32("partition", partition)?))?)
    }

    pub fn seek(&self, topic: &str, partition: f64, offset: f64) -> JsResult<()> {
        core(self.inner.seek(topic, to_u32("partition", partition)?, to_u64("offset", offset)?))
    }

    #[wasm_bindgen(js_name = seekToBeginning)]
    pub fn seek_to_beginning(&self) -> JsResult<()> {
        core(self.inner.seek_to_beginning())
    }

    #[wasm_bindgen(js_name = seekToEnd)]
    pub fn seek_to_end(&self) -> JsResult<()> {
        core(self.inner.seek_to_end())
    }

    #[wasm_bindgen(js_name = seekToTime)]
    pub fn seek_to_time(&self, timestamp_ms: f64) -> JsResult<()> {
        core(self.inner.seek_to_time(to_i64("timestampMs", timestamp_ms)?))
    }

    /// `[topics, partitions]`, sorted.
    pub fn assignment(&self) -> JsResult<Array> {
        let parts = core(self.inner.assignment())?;
        Ok(pack_partitions(parts.into_iter().map(|(t, p)| (t, p, None))))
    }

    /// `[topics, partitions, lags]`, sorted.
    pub fn lag(&self) -> JsResult<Array> {
        let lags = core(self.inner.lag())?;
        let mut out = Vec::with_capacity(lags.len());
        for ((t, p), l) in lags {
            out.push((t, p, Some(from_u64(l)?)));
        }
        Ok(pack_partitions(out.into_iter()))
    }

    /// `[{ topic, partition, fromOffset, toOffset }]` skipped past damage.
    #[wasm_bindgen(js_name = skipDamaged)]
    pub fn skip_damaged(&self) -> JsResult<Array> {
        let out = Array::new();
        for (topic, partition, from, to) in core(self.inner.skip_damaged())? {
            out.push(&crate::convert::skipped_range(Some(&topic), partition, from, to)?);
        }
        Ok(out)
    }

    /// How often a waiting consumer must poll to stay in its group (ms):
    /// the core's rule.
    #[wasm_bindgen(js_name = heartbeatIntervalMs)]
    pub fn heartbeat_interval_ms(&self) -> f64 {
        self.inner.heartbeat_interval_ms() as f64
    }

    #[wasm_bindgen(js_name = memberId)]
    pub fn member_id(&self) -> JsResult<f64> {
        from_u64(core(self.inner.member_id())?)
    }

    pub fn generation(&self) -> JsResult<f64> {
        from_u64(core(self.inner.generation())?)
    }

    pub fn close(&self) -> JsResult<()> {
        core(self.inner.close())
    }
}
