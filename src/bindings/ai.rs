//! The raw `AI` binding, called the same way whether it is Workers AI or our stand-in.
//!
//! `env.ai("AI")` refuses anything whose class is not named `Ai`, which rules out the stand-in's
//! service binding; reading the binding off `env` and calling its `run` method works for both.

use js_sys::Promise;
use sdxl_core::upstream::UpstreamError;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::bindings::binding;
use crate::js_error::read_error;

#[wasm_bindgen]
extern "C" {
    /// Anything with `run(model, inputs, options)`: the Workers AI binding or an RPC stub.
    pub type AiBinding;

    #[wasm_bindgen(method, catch, js_name = run)]
    fn run_raw(
        this: &AiBinding,
        model: &str,
        inputs: &JsValue,
        options: &JsValue,
    ) -> Result<JsValue, JsValue>;
}

impl AiBinding {
    /// Reads binding `name` off the Worker's `env`.
    ///
    /// # Errors
    /// When the binding is not configured.
    pub fn from_env(env: &worker::Env, name: &str) -> Result<AiBinding, String> {
        binding(env, name)
            .map(JsCast::unchecked_into)
            .ok_or_else(|| format!("the {name} binding is not configured"))
    }

    /// `await AI.run(model, inputs, options)`; `options` may be `undefined`.
    ///
    /// # Errors
    /// The binding's failure, read into a code and a reason.
    pub async fn run(
        &self,
        model: &str,
        inputs: &JsValue,
        options: &JsValue,
    ) -> Result<JsValue, UpstreamError> {
        let returned = self
            .run_raw(model, inputs, options)
            .map_err(|e| read_error(&e))?;
        // RPC stubs return thenables that are not `Promise` instances; resolve adopts them.
        JsFuture::from(Promise::resolve(&returned))
            .await
            .map_err(|e| read_error(&e))
    }
}

/// The options argument of `run`: `{gateway: {id, skipCache: true, metadata: {cache_key}}}` when
/// an AI Gateway is configured, so runs appear in its logs and analytics while this Worker's own
/// cache stays the cache of record (the gateway would cache by the whole body, seed included,
/// which is what our key already does); `undefined` otherwise.
///
/// Built by `serde_wasm_bindgen` with the JSON-compatible serializer: plain objects, not `Map`s
/// (which the AI runtime reads as `{}`, workers-rs #1050), from the same serde types a test can
/// read back.
pub fn run_options(gateway_id: Option<&str>, cache_key: &str) -> JsValue {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct AiGateway<'a> {
        id: &'a str,
        skip_cache: bool,
        metadata: Metadata<'a>,
    }
    #[derive(serde::Serialize)]
    struct Metadata<'a> {
        cache_key: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Options<'a> {
        gateway: AiGateway<'a>,
    }
    let Some(id) = gateway_id else {
        return JsValue::UNDEFINED;
    };
    let options = Options {
        gateway: AiGateway {
            id,
            skip_cache: true,
            metadata: Metadata { cache_key },
        },
    };
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    // Strings and a bool always serialize; `undefined` (no gateway) is the fallback all the same.
    serde::Serialize::serialize(&options, &serializer).unwrap_or(JsValue::UNDEFINED)
}

#[cfg(test)]
mod tests;
