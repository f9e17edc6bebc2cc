//! The jobs' queue binding (`JOB_QUEUE`), called raw, as `worker::Queue::send_batch` calls it
//! (`{body}` per message): its generic glue serialized each body with serde_wasm_bindgen.

use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Env;

use super::typed_binding;

#[wasm_bindgen]
extern "C" {
    /// The queue binding's JS object.
    type Queue;

    #[wasm_bindgen(method, catch, js_name = sendBatch)]
    fn send_batch(this: &Queue, messages: &js_sys::Array) -> Result<js_sys::Promise, JsValue>;
}

/// Why a batch was not sent.
pub enum SendError {
    /// The binding is missing or of another type: the operator's to fix.
    Unbound(String),
    /// The runtime threw (a message or the batch over Queues' limits, among others).
    Thrown(JsValue),
}

/// Sends `messages` (JSON texts) as one batch on the queue bound as `name`.
///
/// # Errors
/// [`SendError`].
pub async fn send_batch(env: &Env, name: &str, messages: Vec<String>) -> Result<(), SendError> {
    let queue: Queue = typed_binding(env, name, "WorkerQueue")
        .map_err(SendError::Unbound)?
        .unchecked_into();
    let batch = js_sys::Array::new();
    for text in messages {
        let message = js_sys::Object::new();
        js_sys::Reflect::set(&message, &JsValue::from_str("body"), &JsValue::from(text))
            .map_err(SendError::Thrown)?;
        batch.push(&message);
    }
    let sent = queue.send_batch(&batch).map_err(SendError::Thrown)?;
    JsFuture::from(sent).await.map_err(SendError::Thrown)?;
    Ok(())
}
