//! The inputs of a model that takes a form (`Input::Multipart`, the FLUX.2 family):
//! `{multipart: {body: ReadableStream, contentType}}`, the body made by the runtime from the
//! pieces `sdxl_core::multipart` builds, so the body tested natively is the body sent.
//!
//! Not the runtime's `FormData` serialized by `new Response(form)`, as Cloudflare's examples do:
//! its boundary and its layout would be the runtime's, untested here. The pieces go into one
//! `Blob`, whose constructor copies each image once, straight from Wasm memory; the body is read
//! from the `Blob` as a stream, a fresh one for each attempt (a stream is read once).

use js_sys::{Array, Object, Reflect, Uint8Array};
use sdxl_core::multipart::{form_body, Piece};
use sdxl_core::Normalized;
use wasm_bindgen::JsValue;
use web_sys::Blob;

/// A form body in the JS heap and the inputs object that carries it.
pub struct FormInputs {
    blob: Blob,
    /// `{body, contentType}`: `body` is replaced by a fresh stream for each attempt.
    multipart: Object,
    inputs: Object,
}

impl FormInputs {
    /// The form of `normalized`, whose cache key is `key` (its boundary is made of it).
    ///
    /// # Errors
    /// Only if the runtime refuses to make the `Blob` or to write a property of a fresh object.
    pub fn new(normalized: &Normalized, key: &str) -> Result<FormInputs, JsValue> {
        let body = form_body(normalized, key);
        #[allow(clippy::cast_possible_truncation)] // at most a few pieces per input
        let parts = Array::new_with_length(body.pieces.len() as u32);
        // The texts first, so that nothing is allocated in Wasm memory once the views exist.
        for (at, piece) in (0u32..).zip(&body.pieces) {
            if let Piece::Text(text) = piece {
                parts.set(at, JsValue::from_str(text));
            }
        }
        for (at, piece) in (0u32..).zip(&body.pieces) {
            if let Piece::Image(bytes) = piece {
                // SAFETY: a view of Wasm memory is valid until that memory grows. Nothing from
                // here to the `Blob` constructor, which copies every view synchronously,
                // allocates in Wasm memory.
                parts.set(at, unsafe { Uint8Array::view(bytes) }.into());
            }
        }
        // The JS constructor takes strings and byte views alike, whatever web-sys's name says.
        let blob = Blob::new_with_u8_array_sequence(&parts)?;
        let multipart = Object::new();
        Reflect::set(
            &multipart,
            &JsValue::from_str("contentType"),
            &JsValue::from_str(&body.content_type),
        )?;
        let inputs = Object::new();
        Reflect::set(&inputs, &JsValue::from_str("multipart"), &multipart)?;
        Ok(FormInputs {
            blob,
            multipart,
            inputs,
        })
    }

    /// The inputs for one attempt of `AI.run`, with a stream of the body of its own.
    ///
    /// # Errors
    /// Only if the runtime refuses to write a property of an object of ours.
    pub fn for_attempt(&self) -> Result<JsValue, JsValue> {
        Reflect::set(
            &self.multipart,
            &JsValue::from_str("body"),
            &self.blob.stream(),
        )?;
        Ok(self.inputs.clone().into())
    }

    /// The body, for tests: the `Blob` the streams are read from.
    #[cfg(test)]
    pub(crate) fn blob(&self) -> &Blob {
        &self.blob
    }
}

#[cfg(test)]
mod tests;
