//! The pond: topics, sends, reads, and the storage behind it — a
//! `MirrorStorage` whose changed pages the JS layer writes to IndexedDB
//! (`takeChanges` / `endFlush`), or a `MemoryStorage`.

use std::sync::Arc;

use js_sys::{Array, Object, Reflect, Uint8Array};
use logpond::{MemoryStorage, MirrorStorage, Pond, PondOptions, ReadLimits, Storage};
use wasm_bindgen::prelude::*;

use crate::clock::{pond_clock, WasmClock};
use crate::convert::{core, from_u64, invalid, pack_records, to_i64, to_u32, to_u64, to_usize, JsResult};
use crate::group::WasmConsumer;
use crate::queue::WasmQueue;

/// Files gathered from IndexedDB (or an import) before a pond opens on
/// them: a mirror, filled as the store holds them.
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct WasmLoader {
    mirror: MirrorStorage,
}

#[wasm_bindgen]
impl WasmLoader {
    #[wasm_bindgen(constructor)]
    pub fn new() -> WasmLoader {
        WasmLoader::default()
    }

    /// Declares a file of `len` bytes, generation `gen` (zero-filled until
    /// its pages come).
    pub fn file(&mut self, name: &str, len: f64, gen: Option<f64>) -> JsResult<()> {
        let gen = to_u64("generation", gen.unwrap_or(0.0))?;
        self.mirror.apply_file(name, to_u64("len", len)?, gen).map_err(|e| invalid(e.to_string()))
    }

    /// Copies page `index` of a declared file in (bytes past the file's
    /// length are ignored: they are left over from before a truncation).
    pub fn page(&mut self, name: &str, index: f64, bytes: &[u8]) -> JsResult<()> {
        let index = to_u64("page index", index)?;
        self.mirror
            .apply_page(name, index, bytes)
            .map_err(|_| invalid(format!("page of an undeclared file {name:?}")))
    }

    /// A whole file (an import).
    pub fn whole(&mut self, name: &str, bytes: Vec<u8>) {
        self.mirror.put(name, bytes, 0);
    }
}

/// The claim (and so the Web Lock name's tail) of holder `id`, as the
/// core names it.
#[wasm_bindgen(js_name = holderClaim)]
pub fn holder_claim(id: f64) -> JsResult<String> {
    Ok(logpond::storage::holder_claim(to_u64("holder", id)?))
}

enum Backing {
    Mirror(MirrorStorage),
    Memory(MemoryStorage),
}

/// One pond and its storage.
#[wasm_bindgen]
pub struct WasmPond {
    pond: Arc<Pond>,
    backing: Backing,
}

fn open(storage: Arc<dyn Storage>, clock: Option<WasmClock>) -> JsResult<Arc<Pond>> {
    Ok(Arc::new(core(Pond::with_storage(storage, PondOptions::with_clock(pond_clock(clock))))?))
}

fn set(obj: &Object, key: &str, value: impl Into<JsValue>) {
    // Setting a property on a plain new object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), &value.into());
}

#[wasm_bindgen]
impl WasmPond {
    /// A pond in memory (loaded with `loader`'s files, if any).
    pub fn memory(loader: Option<WasmLoader>, clock: Option<WasmClock>) -> JsResult<WasmPond> {
        let storage = MemoryStorage::new();
        for (name, data) in loader.map(|l| l.mirror.export()).unwrap_or_default() {
            storage.put(&name, data);
        }
        let pond = open(Arc::new(storage.clone()), clock)?;
        Ok(WasmPond { pond, backing: Backing::Memory(storage) })
    }

    /// A pond on a mirror of `loader`'s files (what IndexedDB holds),
    /// `shared` with other tabs (then it takes writes only between
    /// `setWritable(true)` and `setWritable(false)`: opening is one).
    /// `holder`: the holder id whose claim (a Web Lock) this tab holds.
    pub fn mirrored(
        loader: WasmLoader,
        clock: Option<WasmClock>,
        shared: bool,
        holder: Option<f64>,
    ) -> JsResult<WasmPond> {
        let mirror = loader.mirror;
        if shared {
            mirror.share();
            mirror.set_writable(true);
        }
        if let Some(id) = holder {
            mirror.set_holder(to_u64("holder", id)?);
        }
        let opened = open(Arc::new(mirror.clone()), clock);
        mirror.set_writable(false);
        Ok(WasmPond { pond: opened?, backing: Backing::Mirror(mirror) })
    }

    /// The mirror, for the calls that only a mirrored pond takes.
    fn mirror(&self) -> JsResult<&MirrorStorage> {
        match &self.backing {
            Backing::Mirror(m) => Ok(m),
            Backing::Memory(_) => Err(invalid("not an IndexedDB pond")),
        }
    }

    /// Opens or closes a shared mirror to writes: a write transaction on
    /// IndexedDB begins or ends.
    #[wasm_bindgen(js_name = setWritable)]
    pub fn set_writable(&self, writable: bool) -> JsResult<()> {
        self.mirror()?.set_writable(writable);
        Ok(())
    }

    /// Another tab removed file `name` (see `MirrorStorage::apply_removed`).
    #[wasm_bindgen(js_name = applyRemoved)]
    pub fn apply_removed(&self, name: &str) -> JsResult<()> {
        self.mirror()?.apply_removed(name);
        Ok(())
    }

    /// IndexedDB holds `name` at `len` bytes, generation `gen`.
    #[wasm_bindgen(js_name = applyFile)]
    pub fn apply_file(&self, name: &str, len: f64, gen: f64) -> JsResult<()> {
        core(self.mirror()?.apply_file(name, to_u64("len", len)?, to_u64("generation", gen)?))
    }

    /// Page `index` of `name` as IndexedDB holds it.
    #[wasm_bindgen(js_name = applyPage)]
    pub fn apply_page(&self, name: &str, index: f64, bytes: &[u8]) -> JsResult<()> {
        core(self.mirror()?.apply_page(name, to_u64("page index", index)?, bytes))
    }

    /// The claims of other holders the pond asked about since the last
    /// call (to check with their Web Locks).
    #[wasm_bindgen(js_name = takeAskedClaims)]
    pub fn take_asked_claims(&self) -> JsResult<Vec<String>> {
        Ok(self.mirror()?.take_asked_claims())
    }

    /// The holder of claim `what` is gone (its Web Lock was free).
    #[wasm_bindgen(js_name = markDead)]
    pub fn mark_dead(&self, what: &str) -> JsResult<()> {
        self.mirror()?.mark_dead(what);
        Ok(())
    }

    /// The names of the mirror's files.
    #[wasm_bindgen(js_name = fileNames)]
    pub fn file_names(&self) -> JsResult<Vec<String>> {
        core(self.mirror()?.list(""))
    }

    /// Takes in what other tabs changed (applied to the mirror just
    /// before), so that later reads find nothing to catch up on.
    #[wasm_bindgen(js_name = catchUp)]
    pub fn catch_up(&self) -> JsResult<()> {
        core(self.pond.catch_up())
    }

    /// The changes to write back since the last call, as `{ files: [{ name,
    /// len, gen, pages: number[], data: Uint8Array[] }], removed: string[] }`
    /// (files created or replaced since get generation `gen`), or null
    /// when nothing changed.
    #[wasm_bindgen(js_name = takeChanges)]
    pub fn take_changes(&self, gen: f64) -> JsResult<JsValue> {
        let Backing::Mirror(mirror) = &self.backing else {
            return Ok(JsValue::NULL);
        };
        let changes = mirror.take_changes(to_u64("generation", gen)?);
        if changes.is_empty() {
            return Ok(JsValue::NULL);
        }
        let files = Array::new();
        for f in &changes.files {
            let obj = Object::new();
            set(&obj, "name", f.name.as_str());
            set(&obj, "len", from_u64(f.len)?);
            set(&obj, "gen", from_u64(f.gen)?);
            let pages = Array::new();
            let data = Array::new();
            for (index, bytes) in &f.pages {
                pages.push(&JsValue::from_f64(from_u64(*index)?));
                data.push(&Uint8Array::from(&bytes[..]));
            }
            set(&obj, "pages", pages);
            set(&obj, "data", data);
            files.push(&obj);
        }
        let removed: Array = changes.removed.iter().map(|n| JsValue::from_str(n)).collect();
        let out = Object::new();
        set(&out, "files", files);
        set(&out, "removed", removed);
        Ok(out.into())
    }

    /// Bytes the pond holds in memory.
    #[wasm_bindgen(js_name = memoryBytes)]
    pub fn memory_bytes(&self) -> JsResult<f64> {
        let n = match &self.backing {
            Backing::Mirror(m) => m.bytes(),
            Backing::Memory(m) => m.snapshot().iter().map(|(_, d)| d.len() as u64).sum(),
        };
        from_u64(n)
    }

    /// Every file as `[name, bytes, name, bytes, ...]`: what a file pond holds.
    #[wasm_bindgen(js_name = exportFiles)]
    pub fn export_files(&self) -> Array {
        let files = match &self.backing {
            Backing::Mirror(m) => m.export(),
            Backing::Memory(m) => m.snapshot(),
        };
        let out = Array::new();
        for (name, data) in files {
            out.push(&JsValue::from_str(&name));
            out.push(&Uint8Array::from(&data[..]));
        }
        out
    }

    /// Creates a topic; `options` are numbers in the order of
    /// `logpond_js::topic_options` (`topicOptions()`).
    #[wasm_bindgen(js_name = createTopic)]
    pub fn create_topic(&self, name: &str, options: &[f64]) -> JsResult<()> {
        core(self.pond.create_topic(name, core(logpond_js::topic_config(options))?))
    }

    pub fn topics(&self) -> JsResult<Vec<String>> {
        core(self.pond.topics())
    }

    #[wasm_bindgen(js_name = hasTopic)]
    pub fn has_topic(&self, name: &str) -> JsResult<bool> {
        core(self.pond.has_topic(name))
    }

    /// A topic's configuration and partitions, as numbers (see
    /// `logpond_js::topic_numbers`).
    pub fn describe(&self, name: &str) -> JsResult<Vec<f64>> {
        core(logpond_js::topic_numbers(&core(self.pond.describe(name))?))
    }

    /// The consumer groups the pond knows; joins none.
    pub fn groups(&self) -> JsResult<Vec<String>> {
        core(self.pond.groups())
    }

    /// A consumer group described without joining it, as JSON (see
    /// `logpond_js::group_json`).
    #[wasm_bindgen(js_name = describeGroup)]
    pub fn describe_group(&self, group: &str) -> JsResult<String> {
        core(logpond_js::group_json(&core(self.pond.describe_group(group))?))
    }

    #[wasm_bindgen(js_name = deleteTopic)]
    pub fn delete_topic(&self, name: &str) -> JsResult<()> {
        core(self.pond.delete_topic(name))
    }

    /// Appends packed records: the numbers and the bytes of
    /// `logpond_js::unpack_send`'s layout (the JS layer's views of its
    /// packer). Returns `partition, offset, timestampMs` per record.
    #[wasm_bindgen(js_name = sendPacked)]
    pub fn send_packed(&self, numbers: &[f64], bytes: &[u8]) -> JsResult<Vec<f64>> {
        let (topic, records) = core(logpond_js::unpack_send(|i| numbers.get(i).copied(), bytes))?;
        let sent = core(self.pond.send_many(topic, &records))?;
        let mut out = Vec::with_capacity(sent.len() * logpond_js::NUMBERS_PER_SENT);
        core(logpond_js::sent_numbers(&sent, |v| out.push(v)))?;
        Ok(out)
    }

    /// Packed records (see `logpond_js::Packed`); `offset` absent: the partition's start.
    pub fn read(
        &self,
        topic: &str,
        partition: f64,
        offset: Option<f64>,
        max_records: f64,
        max_bytes: f64,
    ) -> JsResult<Array> {
        let partition = to_u32("partition", partition)?;
        let offset = match offset {
            Some(o) => to_u64("offset", o)?,
            None => core(self.pond.offsets(topic, partition))?.0,
        };
        let limits = ReadLimits {
            max_records: to_usize("maxRecords", max_records)?,
            max_bytes: to_usize("maxBytes", max_bytes)?,
        };
        pack_records(&core(self.pond.read(topic, partition, offset, limits))?)
    }

    /// `[startOffset, endOffset]`.
    pub fn offsets(&self, topic: &str, partition: f64) -> JsResult<Vec<f64>> {
        let (start, end) = core(self.pond.offsets(topic, to_u32("partition", partition)?))?;
        Ok(vec![from_u64(start)?, from_u64(end)?])
    }

    #[wasm_bindgen(js_name = offsetForTime)]
    pub fn offset_for_time(&self, topic: &str, partition: f64, timestamp_ms: f64) -> JsResult<Option<f64>> {
        let p = to_u32("partition", partition)?;
        let found = core(self.pond.offset_for_time(topic, p, to_i64("timestampMs", timestamp_ms)?))?;
        found.map(from_u64).transpose()
    }

    #[wasm_bindgen(js_name = deleteRecords)]
    pub fn delete_records(&self, topic: &str, partition: f64, before_offset: f64) -> JsResult<()> {
        let p = to_u32("partition", partition)?;
        core(self.pond.delete_records(topic, p, to_u64("beforeOffset", before_offset)?))
    }

    pub fn maintain(&self) -> JsResult<()> {
        core(self.pond.maintain())
    }

    /// The core's flush (a no-op on memory and mirror storage, kept for
    /// the `Closed` check); the JS layer then writes the mirror back.
    pub fn flush(&self) -> JsResult<()> {
        core(self.pond.flush())
    }

    pub fn close(&self) -> JsResult<()> {
        core(self.pond.close())
    }

    #[wasm_bindgen(js_name = isClosed)]
    pub fn is_closed(&self) -> bool {
        self.pond.is_closed()
    }

    /// The clock's time (ms since the epoch).
    #[wasm_bindgen(js_name = nowMs)]
    pub fn now_ms(&self) -> f64 {
        self.pond.clock().now_ms() as f64
    }

    #[allow(clippy::too_many_arguments)]
    pub fn consumer(
        &self,
        group: String,
        topics: Vec<String>,
        auto_offset_reset: Option<String>,
        auto_commit: Option<bool>,
        auto_commit_interval_ms: Option<f64>,
        session_timeout_ms: Option<f64>,
        assignor: Option<String>,
    ) -> JsResult<WasmConsumer> {
        let (reset, assignor) = (auto_offset_reset.as_deref(), assignor.as_deref());
        let (interval, session) = (auto_commit_interval_ms, session_timeout_ms);
        let config = core(logpond_js::consumer_config(
            group,
            topics,
            reset,
            auto_commit,
            interval,
            session,
            assignor,
        ))?;
        let topics = config.topics.clone();
        Ok(WasmConsumer::new(core(self.pond.consumer(config))?, topics))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn queue(
        &self,
        topic: &str,
        subscription: String,
        ack_timeout_ms: Option<f64>,
        max_deliveries: Option<f64>,
        dead_letter_topic: Option<String>,
        retry_backoff_ms: Option<Vec<f64>>,
        max_in_flight: Option<f64>,
        start_at_end: Option<bool>,
    ) -> JsResult<WasmQueue> {
        let config = core(logpond_js::queue_config(
            subscription,
            ack_timeout_ms,
            max_deliveries,
            dead_letter_topic,
            retry_backoff_ms.as_deref(),
            max_in_flight,
            start_at_end,
        ))?;
        Ok(WasmQueue::new(core(self.pond.queue(topic, config))?))
    }

    /// A queue subscription described without attaching to it, as JSON
    /// (`logpond_js::subscription_json`).
    #[wasm_bindgen(js_name = describeSubscription)]
    pub fn describe_subscription(&self, topic: &str, subscription: &str) -> JsResult<String> {
        core(logpond_js::subscription_json(&core(self.pond.describe_subscription(topic, subscription))?))
    }

    /// Changes a subscription's stored settings (see
    /// `logpond_js::settings_update`); the settings now stored, as JSON.
    #[wasm_bindgen(js_name = updateSubscription)]
    pub fn update_subscription(
        &self,
        topic: &str,
        subscription: &str,
        ack_timeout_ms: Option<f64>,
        max_deliveries: Option<f64>,
        dead_letter_topic: Option<String>,
        retry_backoff_ms: Option<Vec<f64>>,
    ) -> JsResult<String> {
        let update = core(logpond_js::settings_update(
            ack_timeout_ms,
            max_deliveries,
            dead_letter_topic,
            retry_backoff_ms.as_deref(),
        ))?;
        let settings = core(self.pond.update_subscription(topic, subscription, &update))?;
        Ok(logpond_js::settings_json(&settings).to_string())
    }

    pub fn subscriptions(&self, topic: &str) -> JsResult<Vec<String>> {
        core(self.pond.subscriptions(topic))
    }

    #[wasm_bindgen(js_name = deleteSubscription)]
    pub fn delete_subscription(&self, topic: &str, subscription: &str) -> JsResult<()> {
        core(self.pond.delete_subscription(topic, subscription))
    }
}
