//! Keeping abuse down: the per-caller rate limit, over the Workers Rate Limiting binding. (Who
//! the caller is, and CORS, are decided in `sdxl_core`.)
//!
//! The binding is called raw, as `AI` and `IMAGES` are: `worker::RateLimiter` reads its outcome
//! with serde_wasm_bindgen's deserializer, which nothing else in the Worker links.

use js_sys::{Object, Promise, Reflect};
use sdxl_core::ApiError;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::bindings::typed_binding;
use crate::failure::{Failure, Handled};
use crate::gateway::Gateway;

/// The binding name of the Workers Rate Limiting binding; without it nothing is rate limited.
pub const RATE_LIMITER_BINDING: &str = "RATE_LIMITER";

#[wasm_bindgen]
extern "C" {
    /// The Rate Limiting binding's JS object.
    type RateLimiter;

    #[wasm_bindgen(method, catch)]
    fn limit(this: &RateLimiter, options: &Object) -> Result<Promise, JsValue>;
}

/// Counts one request for `caller`; over the limit is a 429 with `Retry-After`.
pub async fn rate_limit(gateway: &Gateway<'_>, caller: String) -> Handled<()> {
    // As `env.rate_limiter(name)` took it: a binding of another type limits nothing.
    let Ok(limiter) = typed_binding(gateway.env, RATE_LIMITER_BINDING, "Ratelimit") else {
        return Ok(());
    };
    let limiter: RateLimiter = limiter.unchecked_into();
    let options = Object::new();
    Reflect::set(&options, &JsValue::from_str("key"), &JsValue::from(caller))?;
    let outcome = JsFuture::from(limiter.limit(&options)?).await?;
    let success = Reflect::get(&outcome, &JsValue::from_str("success"))?
        .as_bool()
        .ok_or_else(|| Failure::Internal("the rate limiter's outcome has no success".into()))?;
    if success {
        Ok(())
    } else {
        Err(ApiError::RateLimited {
            retry_after_s: gateway.config.rate_limit_period_s,
        }
        .into())
    }
}
