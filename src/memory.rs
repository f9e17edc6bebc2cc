//! The isolate's memory budget (`sdxl_core::budget`), one per isolate, and what the local admin
//! route reports of memory.

use std::cell::OnceCell;
use std::rc::Rc;

use sdxl_core::budget::MemoryBudget;
use wasm_bindgen::JsCast;

use crate::config::Config;

thread_local! {
    /// Requests in one isolate share it; settings are fixed for an isolate's life.
    static BUDGET: OnceCell<Rc<MemoryBudget>> = const { OnceCell::new() };
}

/// This isolate's budget.
pub fn budget(config: &Config) -> Rc<MemoryBudget> {
    BUDGET.with(|b| {
        b.get_or_init(|| MemoryBudget::new(config.memory_budget_bytes))
            .clone()
    })
}

/// The size of this Worker's Wasm linear memory: it only ever grows, so this is its high-water
/// mark.
pub fn wasm_memory_bytes() -> f64 {
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length()
        .into()
}

/// `GET /__admin/memory` (local runs only): the Wasm memory and the budget, for the benchmark's
/// memory section and the tests.
pub fn report(config: &Config) -> serde_json::Value {
    let budget = budget(config);
    serde_json::json!({
        "wasm_memory_bytes": wasm_memory_bytes(),
        "budget": {
            "limit_bytes": budget.limit(),
            "held_bytes": budget.held(),
            "peak_bytes": budget.peak(),
            "refused": budget.refused(),
        },
        "max_body_bytes": config.max_body_bytes,
        "memory_cache_bytes": config.memory_cache_bytes,
        // Its two shares: the memory tier's and the entry module's replay cache's.
        "memory_tier_bytes": config.memory_tier_bytes(),
        "replay_cache_bytes": config.replay_cache_bytes(),
    })
}
