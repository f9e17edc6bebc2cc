//! Reading what JS threw: a binding's failure, a stream's error, a parser's refusal.

use js_sys::Reflect;
use sdxl_core::upstream::UpstreamError;
use wasm_bindgen::JsValue;

/// The message of a thrown value (an `Error` or anything else), read into the code and reason
/// Workers AI puts in its messages (`"<code>: <reason>"`).
pub fn read_error(error: &JsValue) -> UpstreamError {
    let message = Reflect::get(error, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| error.as_string())
        .unwrap_or_else(|| String::from("the AI binding failed without a message"));
    UpstreamError::parse(&message)
}
