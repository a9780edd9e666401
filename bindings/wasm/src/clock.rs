//! Clocks: the wall clock of the JS host, and a shared manual clock.

use std::sync::Arc;

use logpond::{Clock, ManualClock};
use wasm_bindgen::prelude::*;

use crate::convert::{to_i64, JsResult};

/// `Date.now()`: wasm32-unknown-unknown has no system clock of its own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateClock;

impl Clock for DateClock {
    fn now_ms(&self) -> i64 {
        js_sys::Date::now() as i64
    }
}

/// A manual clock. Handles made by `share` read and move one time.
#[wasm_bindgen]
#[derive(Debug, Clone)]
pub struct WasmClock(ManualClock);

#[wasm_bindgen]
impl WasmClock {
    #[wasm_bindgen(constructor)]
    pub fn new(start_ms: f64) -> JsResult<WasmClock> {
        Ok(WasmClock(ManualClock::new(to_i64("startMs", start_ms)?)))
    }

    pub fn advance(&self, ms: f64) -> JsResult<()> {
        self.0.advance(to_i64("ms", ms)?);
        Ok(())
    }

    pub fn set(&self, ms: f64) -> JsResult<()> {
        self.0.set(to_i64("ms", ms)?);
        Ok(())
    }

    #[wasm_bindgen(js_name = nowMs)]
    pub fn now_ms(&self) -> f64 {
        self.0.now_ms() as f64
    }

    /// Another handle on the same time (a pond constructor takes one).
    pub fn share(&self) -> WasmClock {
        self.clone()
    }
}

/// The clock a pond reads: the manual one given, else the wall clock.
pub(crate) fn pond_clock(clock: Option<WasmClock>) -> Arc<dyn Clock> {
    match clock {
        Some(c) => Arc::new(c.0),
        None => Arc::new(DateClock),
    }
}
