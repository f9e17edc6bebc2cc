//! The Workers Rate Limiting binding (`RATE_LIMITER`), called raw: `worker::RateLimiter` reads
//! its outcome with serde_wasm_bindgen's deserializer, which nothing else in the Worker links.

use js_sys::{Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::typed_binding;

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
/// when no limiter is bound (as `env.rate_limiter(name)` took it: a binding of another type
/// limits nothing).
///
/// # Errors
/// What the binding threw, or an outcome without `success`.
pub async fn count(env: &Env, key: String) -> Result<Option<bool>, JsValue> {
    let Ok(limiter) = typed_binding(env, RATE_LIMITER_BINDING, "Ratelimit") else {
        return Ok(None);
    };
    let limiter: RateLimiter = limiter.unchecked_into();
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from(key))?;
    let outcome = JsFuture::from(limiter.limit(&options)?).await?;
    let success = Reflect::get(&outcome, &JsValue::from_str("success"))?
        .as_bool()
        .ok_or_else(|| JsValue::from_str("the rate limiter's outcome has no success"))?;
    Ok(Some(success))
}
