//! `configureScheduler(options)` and `schedulerStats()`: the page's replication scheduler
//! (`replicate::scheduler`), for `Settee.configureScheduler` and tests.

use super::convert::{from_js, to_js};
use super::error::to_js as err_to_js;
use crate::replicate::scheduler;
use serde_json::{json, Value};
use wasm_bindgen::prelude::*;

fn settings_json() -> Value {
    let s = scheduler::settings();
    json!({"max_connections": s.max_connections, "poll_interval": s.poll_interval_ms, "db_updates": s.db_updates})
}

/// Applies `options` (any subset of `{max_connections, poll_interval, db_updates}`; `undefined`
/// changes nothing) and answers the settings now in force. A bad value is a 400 and changes
/// nothing.
#[wasm_bindgen(js_name = configureScheduler)]
pub fn configure_scheduler(options: JsValue) -> Result<JsValue, JsValue> {
    let options = from_js(&options).map_err(err_to_js)?;
    if !options.is_null() {
        let next = scheduler::settings().with_options(&options).map_err(err_to_js)?;
        scheduler::configure(next);
    }
    to_js(&settings_json().to_string()).map_err(err_to_js)
}

/// Per server root: `{server, in_flight, peak, queued, waiting, polling}`; `reset: true` starts
/// the peaks over after reading them.
#[wasm_bindgen(js_name = schedulerStats)]
pub fn scheduler_stats(reset: bool) -> Result<JsValue, JsValue> {
    let rows: Vec<Value> = scheduler::stats()
        .into_iter()
        .map(|(server, [in_flight, peak, queued, waiting, polling])| {
            json!({"server": server, "in_flight": in_flight, "peak": peak, "queued": queued,
                   "waiting": waiting, "polling": polling})
        })
        .collect();
    if reset {
        scheduler::reset_peaks();
    }
    to_js(&Value::Array(rows).to_string()).map_err(err_to_js)
}
