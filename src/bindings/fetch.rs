//! Outbound requests (webhooks): the runtime's global `fetch`, called as `worker::Fetch` calls
//! it (with no abort signal), raw: `Fetch` converts its answer to a `worker::Response`, glue the
//! bundle need not carry.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_name = fetch)]
    fn global_fetch(request: &web_sys::Request) -> Result<js_sys::Promise, JsValue>;
}

/// `request` sent out; its answer.
///
/// # Errors
/// What the runtime threw (no connection, a refused URL), or an answer that is no `Response`.
pub async fn fetch(request: &web_sys::Request) -> Result<web_sys::Response, JsValue> {
    let answer = JsFuture::from(global_fetch(request)?).await?;
    answer.dyn_into()
}
