//! The inputs object handed to `AI.run`: a plain JS object in the documented shape.
//!
//! Not `serde_wasm_bindgen::to_value`: it turns maps into JS `Map`s, which the AI runtime reads
//! as `{}` (workers-rs #1050), and it builds byte arrays element by element across the boundary.

use js_sys::{Array, Object, Reflect, Uint8Array};
pub use sdxl_core::config::ImageEncoding;
use sdxl_core::model::Input;
use sdxl_core::{InputValue, Inputs, Normalized};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::ai_form::FormInputs;
use crate::base64_js::base64_into_js;

/// The inputs of one model run, made once and handed to each attempt of it.
pub enum RunInputs {
    /// A plain object of the fields (`to_js`).
    Object(JsValue),
    /// A form (`Input::Multipart`), streamed afresh for each attempt.
    Form(FormInputs),
}

impl RunInputs {
    /// The inputs of `normalized`, keyed `key`, as its model takes them.
    ///
    /// # Errors
    /// Only if the runtime refuses to make them (see `to_js`, `FormInputs::new`).
    pub fn of(
        normalized: &Normalized,
        key: &str,
        encoding: ImageEncoding,
    ) -> Result<RunInputs, JsValue> {
        Ok(match normalized.model.input {
            Input::Multipart => RunInputs::Form(FormInputs::new(normalized, key)?),
            Input::Json => RunInputs::Object(to_js(&normalized.inputs, encoding)?.into()),
        })
    }

    /// What one attempt of `AI.run` is handed.
    ///
    /// # Errors
    /// As `FormInputs::for_attempt`.
    pub fn for_attempt(&self) -> Result<JsValue, JsValue> {
        match self {
            RunInputs::Object(inputs) => Ok(inputs.clone()),
            RunInputs::Form(form) => form.for_attempt(),
        }
    }
}

// Measured on a 1.5 MB image in V8 (build the array, then structured-clone it for the RPC):
// `Array.from(u8)` 70 ms + 10 ms; `new Array(n)` filled by index 9 ms + 64 ms, because the
// result is "holey" and serializes in the slow sparse format at 2.5x the size; `push` in a loop
// 36 ms + 10 ms. Hence `push`.
#[wasm_bindgen(inline_js = "export function numberArray(bytes) { \
    const out = []; \
    for (let i = 0; i < bytes.length; i++) out.push(bytes[i]); \
    return out; }")]
extern "C" {
    #[wasm_bindgen(js_name = numberArray)]
    fn number_array_js(bytes: &Uint8Array) -> Array;
}

/// Builds `{prompt, ..., image_b64: ".." (or image: [..]), mask: [..]}` from normalized inputs.
/// `mask` has no base64 form in the schema, so it is always an array.
///
/// # Errors
/// Only if the JS engine refuses a property write, which a fresh plain object never does.
pub fn to_js(inputs: &Inputs, encoding: ImageEncoding) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in inputs.iter() {
        if let (InputValue::Image(image), "image", ImageEncoding::Base64) = (value, name, encoding)
        {
            // The client's own text when it is exactly what encoding the bytes would give.
            let kept = image
                .text
                .as_ref()
                .and_then(|t| t.0.downcast_ref::<JsValue>());
            let text = match kept {
                Some(text) if text.is_string() => text.clone(),
                _ => base64_into_js(&image.bytes),
            };
            Reflect::set(&object, &JsValue::from_str("image_b64"), &text)?;
            continue;
        }
        let value = match value {
            InputValue::Text(s) => JsValue::from_str(s),
            // Seeds are at most 2^53 - 1, which an f64 holds exactly.
            #[allow(clippy::cast_precision_loss)]
            InputValue::Integer(i) => JsValue::from_f64(*i as f64),
            InputValue::Number(n) => JsValue::from_f64(*n),
            InputValue::Image(image) => number_array(&image.bytes).into(),
        };
        Reflect::set(&object, &JsValue::from_str(name), &value)?;
    }
    Ok(object)
}

/// Workers AI documents `image` and `mask` as arrays of numbers. One copy into a `Uint8Array`,
/// then a loop inside the JS engine, instead of one boundary crossing per byte.
fn number_array(bytes: &[u8]) -> Array {
    number_array_js(&Uint8Array::from(bytes))
}

#[cfg(test)]
mod tests;
