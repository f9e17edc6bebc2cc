//! The Workers Rate Limiting binding (`RATE_LIMITER`), called raw: `worker::RateLimiter` reads
//! its outcome with serde_wasm_bindgen's deserializer, which nothing else in the Worker links.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::binding;

/// The binding's name; without it nothing is rate limited.
pub const RATE_LIMITER_BINDING: &str = "RATE_LIMITER";

#[wasm_bindgen]
extern "C" {
    /// The Rate Limiting binding's JS object.
    type RateLimiter;

    #[wasm_bindgen(method, catch)]
    fn limit(this: &RateLimiter, options: &Object) -> Result<Promise, JsValue>;
}

/// Counts one request for `key`: `Some(true)` within the limit, `Some(false)` over it, `None`
/// when nothing is bound under the name.
///
/// The binding is known by its `limit` method, not its constructor's name: in local runs the
/// jobs Worker's limiter (the gateway's namespace, reached from a second Worker) is a stub of
/// another class, and checked by name it was taken for no limiter at all, silently.
///
/// # Errors
/// A binding under the name that has no `limit` method, what the binding threw, or an outcome
/// without `success`.
pub async fn count(env: &Env, key: String) -> Result<Option<bool>, JsValue> {
    let Some(limiter) = binding(env, RATE_LIMITER_BINDING) else {
        return Ok(None);
    };
    if !Reflect::get(&limiter, &JsValue::from_str("limit"))?.is_function() {
        return Err(JsValue::from_str(&format!(
            "the {RATE_LIMITER_BINDING} binding is not a Rate Limiting binding (no limit method)"
        )));
    }
    let limiter: RateLimiter = limiter.unchecked_into();
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from(key))?;
    let outcome = JsFuture::from(limiter.limit(&options)?).await?;
    let success = Reflect::get(&outcome, &JsValue::from_str("success"))?
        .as_bool()
        .ok_or_else(|| JsValue::from_str("the rate limiter's outcome has no success"))?;
    Ok(Some(success))
}
