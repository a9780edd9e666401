//! The binding's own tests, in wasm (`wasm-bindgen-test`, run in Node by
//! `make test-web`): conversions, error codes, and the mirror's side of
//! sharing a pond between tabs (take changes, apply another's, write only
//! in a write transaction).
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Float64Array, Reflect, Uint8Array};
use logpond_wasm::{WasmClock, WasmLoader, WasmPond};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

fn code(e: JsValue) -> String {
    assert!(e.is_instance_of::<js_sys::Error>(), "errors are Error objects");
    Reflect::get(&e, &"code".into()).ok().and_then(|c| c.as_string()).unwrap_or_default()
}

/// Packs `values` (no key, no headers) as the JS layer does.
fn packed(values: &[&str]) -> (Vec<f64>, Vec<u8>) {
    let (mut meta, mut data) = (Vec::new(), Vec::new());
    for v in values {
        meta.extend_from_slice(&[v.len() as f64, -1.0, 0.0, f64::NAN, f64::NAN]);
        data.extend_from_slice(v.as_bytes());
    }
    (meta, data)
}

/// `sendPacked` as the JS layer calls it: the send header (`slots,
/// topicLength, count, delayMs, ttlMs`) before the records' numbers, the
/// topic before their bytes.
fn send_packed(
    pond: &WasmPond,
    topic: &str,
    meta: &[f64],
    data: &[u8],
    count: u32,
) -> Result<Vec<f64>, JsValue> {
    let numbers = [&[0.0, topic.len() as f64, f64::from(count), f64::NAN, f64::NAN], meta].concat();
    pond.send_packed(&numbers, &[topic.as_bytes(), data].concat())
}

fn send(pond: &WasmPond, topic: &str, values: &[&str]) -> Vec<f64> {
    let (meta, data) = packed(values);
    send_packed(pond, topic, &meta, &data, values.len() as u32).unwrap()
}

fn create(pond: &WasmPond, topic: &str, partitions: f64) {
    pond.create_topic(topic, &[partitions]).unwrap();
}

/// The values of packed records (a read's: no prefix numbers).
fn values(packed: &Array) -> Vec<String> {
    values_after(packed, 0)
}

/// The values of packed records with `prefix` numbers of the caller's before each.
fn values_after(packed: &Array, prefix: usize) -> Vec<String> {
    let data = Uint8Array::from(packed.get(0)).to_vec();
    let meta = Float64Array::from(packed.get(1)).to_vec();
    let (mut m, mut d, mut out) = (0, 0usize, Vec::new());
    while m < meta.len() {
        m += prefix;
        let (key_len, value_len, headers) = (meta[m + 3], meta[m + 4], meta[m + 5] as usize);
        if key_len >= 0.0 {
            d += key_len as usize;
        }
        out.push(String::from_utf8(data[d..d + value_len as usize].to_vec()).unwrap());
        d += value_len as usize;
        m += 6 + 2 * headers;
    }
    out
}

#[wasm_bindgen_test]
fn sends_and_reads_in_memory_with_a_manual_clock() {
    let clock = WasmClock::new(1000.0).unwrap();
    let pond = WasmPond::memory(None, Some(clock.share())).unwrap();
    create(&pond, "t", 2.0);
    let meta = send(&pond, "t", &["a", "b"]);
    assert_eq!(meta, vec![0.0, 0.0, 1000.0, 0.0, 1.0, 1000.0]);
    clock.advance(5.0).unwrap();
    assert_eq!(send(&pond, "t", &["c"])[2], 1005.0);
    let read = pond.read("t", 0.0, None, 10.0, 1e9).unwrap();
    assert_eq!(values(&read), ["a", "b"]);
}

#[wasm_bindgen_test]
fn errors_carry_the_core_codes() {
    let pond = WasmPond::memory(None, None).unwrap();
    create(&pond, "t", 1.0);
    let dup = pond.create_topic("t", &[]);
    assert_eq!(code(dup.unwrap_err()), "TOPIC_EXISTS");
    let (meta, data) = packed(&["x"]);
    assert_eq!(code(send_packed(&pond, "nope", &meta, &data, 1).unwrap_err()), "TOPIC_NOT_FOUND");
    assert_eq!(code(pond.read("t", 0.0, Some(5.0), 10.0, 10.0).unwrap_err()), "OFFSET_OUT_OF_RANGE");
    assert_eq!(code(pond.read("t", -1.0, None, 10.0, 10.0).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code(pond.read("t", 0.5, None, 10.0, 10.0).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code(pond.read("t", 0.0, Some(2f64.powi(60)), 10.0, 10.0).unwrap_err()), "INVALID_ARGUMENT");
    assert_eq!(code(WasmClock::new(f64::NAN).unwrap_err()), "INVALID_ARGUMENT");
    pond.close().unwrap();
    assert_eq!(code(pond.topics().unwrap_err()), "CLOSED");
}

#[wasm_bindgen_test]
fn malformed_packed_records_are_refused_not_a_trap() {
    let pond = WasmPond::memory(None, None).unwrap();
    create(&pond, "t", 1.0);
    let cases: Vec<(Vec<f64>, Vec<u8>, u32)> = vec![
        (vec![5.0, -1.0, 0.0, f64::NAN, f64::NAN], b"ab".to_vec(), 1), // value past the data
        (vec![1.0, -1.0], b"a".to_vec(), 1),                           // meta cut short
        (vec![1.0, -1.0, 0.0, f64::NAN, f64::NAN], b"a".to_vec(), 2),  // more records than meta
        (vec![-2.0, -1.0, 0.0, f64::NAN, f64::NAN], vec![], 1),        // a negative length
        (vec![0.0, -1.0, 1e300, f64::NAN, f64::NAN], vec![], 1),       // absurd header count
        (vec![0.0, -1.0, 1.0, f64::NAN, f64::NAN, 2.0, 0.0], vec![0xff, 0xfe], 1), // header name not utf-8
        (vec![0.0, -1.0, 0.0, 1e12, f64::NAN], vec![], 1),             // partition beyond u32
    ];
    for (meta, data, count) in cases {
        assert_eq!(code(send_packed(&pond, "t", &meta, &data, count).unwrap_err()), "INVALID_ARGUMENT");
    }
    assert_eq!(send(&pond, "t", &["still fine"])[1], 0.0);
}

fn changed_names(changes: &JsValue) -> Vec<String> {
    let files = Array::from(&Reflect::get(changes, &"files".into()).unwrap());
    files.iter().map(|f| Reflect::get(&f, &"name".into()).unwrap().as_string().unwrap()).collect()
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &key.into()).unwrap()
}

/// Applies changes taken from one pond to another's mirror (as IndexedDB
/// would hand them over).
fn apply(to: &WasmPond, changes: &JsValue) {
    for name in Array::from(&get(changes, "removed")).iter() {
        to.apply_removed(&name.as_string().unwrap()).unwrap();
    }
    for f in Array::from(&get(changes, "files")).iter() {
        let name = get(&f, "name").as_string().unwrap();
        to.apply_file(&name, get(&f, "len").as_f64().unwrap(), get(&f, "gen").as_f64().unwrap()).unwrap();
        let (pages, data) = (Array::from(&get(&f, "pages")), Array::from(&get(&f, "data")));
        for i in 0..pages.length() {
            to.apply_page(&name, pages.get(i).as_f64().unwrap(), &Uint8Array::from(data.get(i)).to_vec())
                .unwrap();
        }
    }
}

#[wasm_bindgen_test]
fn a_shared_pond_writes_only_in_a_transaction_and_takes_in_another_tabs_changes() {
    let a = WasmPond::mirrored(WasmLoader::new(), None, true, None).unwrap();
    // Opening wrote the format marker; the changes carry generations.
    let first = a.take_changes(1.0).unwrap();
    assert!(changed_names(&first).contains(&"pond.meta".to_string()));
    assert!(a.take_changes(2.0).unwrap().is_null(), "nothing changed since");
    assert_eq!(code(a.create_topic("t", &[1.0]).unwrap_err()), "IO", "outside a transaction");
    a.set_writable(true).unwrap();
    create(&a, "t", 1.0);
    send(&a, "t", &["one"]);
    a.set_writable(false).unwrap();
    let second = a.take_changes(2.0).unwrap();

    // b opens on what IndexedDB holds after a's first change, and takes
    // in the second later.
    let mut loader = WasmLoader::new();
    for f in Array::from(&get(&first, "files")).iter() {
        let name = get(&f, "name").as_string().unwrap();
        loader.file(&name, get(&f, "len").as_f64().unwrap(), get(&f, "gen").as_f64()).unwrap();
        let (pages, data) = (Array::from(&get(&f, "pages")), Array::from(&get(&f, "data")));
        for i in 0..pages.length() {
            loader
                .page(&name, pages.get(i).as_f64().unwrap(), &Uint8Array::from(data.get(i)).to_vec())
                .unwrap();
        }
    }
    let b = WasmPond::mirrored(loader, None, true, Some(7.0)).unwrap();
    assert!(b.take_changes(3.0).unwrap().is_null(), "the pond was there: opening wrote nothing");
    assert!(b.topics().unwrap().is_empty());
    apply(&b, &second);
    b.set_writable(true).unwrap();
    b.catch_up().unwrap();
    b.set_writable(false).unwrap();
    assert_eq!(values(&b.read("t", 0.0, None, 10.0, 1e9).unwrap()), ["one"]);

    a.set_writable(true).unwrap();
    send(&a, "t", &["two"]);
    a.set_writable(false).unwrap();
    apply(&b, &a.take_changes(4.0).unwrap());
    b.set_writable(true).unwrap();
    b.catch_up().unwrap();
    let sent = send(&b, "t", &["three"]);
    b.set_writable(false).unwrap();
    assert_eq!(sent[1], 2.0, "b appends after a's record");
    assert_eq!(values(&b.read("t", 0.0, None, 10.0, 1e9).unwrap()), ["one", "two", "three"]);
    assert!(b.file_names().unwrap().iter().any(|n| n.starts_with("topics/t/")));
    assert_eq!(
        code(WasmPond::memory(None, None).unwrap().set_writable(true).unwrap_err()),
        "INVALID_ARGUMENT"
    );
}

#[wasm_bindgen_test]
fn a_pond_loads_back_from_its_pages_and_from_its_export() {
    let pond = WasmPond::mirrored(WasmLoader::new(), None, false, None).unwrap();
    create(&pond, "t", 1.0);
    send(&pond, "t", &["one", "two", "three"]);
    let exported = pond.export_files();
    // As IndexedDB holds them: lengths, then pages (here one per file).
    let mut pages = WasmLoader::new();
    let mut whole = WasmLoader::new();
    for i in (0..exported.length()).step_by(2) {
        let name = exported.get(i).as_string().unwrap();
        let bytes = Uint8Array::from(exported.get(i + 1)).to_vec();
        pages.file(&name, bytes.len() as f64, None).unwrap();
        pages.page(&name, 0.0, &bytes).unwrap();
        // A stale page past the end (left from before a truncation) is ignored.
        pages.page(&name, 3.0, &bytes).unwrap();
        whole.whole(&name, bytes);
    }
    assert_eq!(code(pages.page("undeclared", 0.0, b"x").unwrap_err()), "INVALID_ARGUMENT");
    for loader in [pages, whole] {
        let back = WasmPond::mirrored(loader, None, false, None).unwrap();
        assert_eq!(values(&back.read("t", 0.0, None, 10.0, 1e9).unwrap()), ["one", "two", "three"]);
    }
}

#[wasm_bindgen_test]
fn next_record_hands_out_one_record_and_moves_the_position_by_one() {
    let pond = WasmPond::memory(None, None).unwrap();
    create(&pond, "t", 1.0);
    send(&pond, "t", &["a", "b", "c"]);
    let c = pond
        .consumer(
            "g".into(),
            vec!["t".into()],
            Some("earliest".into()),
            Some(false),
            Some(5000.0),
            Some(10_000.0),
            Some("cooperative-sticky".into()),
        )
        .unwrap();
    assert_eq!(values_after(&c.next_record().unwrap(), 1), ["a"]);
    assert_eq!(c.position("t", 0.0).unwrap(), 1.0);
    assert_eq!(values_after(&c.next_record().unwrap(), 1), ["b"]);
    c.commit().unwrap();
    assert_eq!(c.committed("t", 0.0).unwrap(), Some(2.0));
    assert_eq!(values_after(&c.next_record().unwrap(), 1), ["c"]);
    assert!(values_after(&c.next_record().unwrap(), 1).is_empty(), "nothing more: empty");
    c.close().unwrap();
}
