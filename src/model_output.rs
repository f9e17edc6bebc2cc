//! The model's answer, checked before a byte of it reaches the client.
//!
//! The image is gathered in the JS heap (one `arrayBuffer()` call), never copied into Wasm memory:
//! only its first and last few bytes cross over, to tell its format and that it ended whole. A
//! response body that errors after the headers are sent cannot be relied on to reach the client
//! as a failure (local workerd ends such responses cleanly), so a cut-short image must be caught
//! here, not passed on as a smaller "whole" one. Models send the image when it is finished, so
//! holding it costs no time to first byte worth keeping.

use js_sys::{ArrayBuffer, Reflect, Uint8Array};
use sdxl_core::base64_image::decode;
use sdxl_core::image::{ends_whole, sniff, SNIFF_LEN, TAIL_LEN};
use sdxl_core::{ApiError, ImageFormat};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::js_error::read_error;

/// A whole image, still in JS memory.
#[derive(Clone)]
pub struct ModelImage {
    pub format: ImageFormat,
    pub bytes: Uint8Array,
}

/// Reads the model's output to its end and checks it is a whole PNG, JPEG or WebP. The output is
/// a stream of bytes (Stable Diffusion, Phoenix) or, for models that answer JSON (FLUX, Lucid
/// Origin), an object whose `image` is the base64 of the bytes; which one is decided by what
/// arrives, as the binding decides by the content type it receives.
///
/// # Errors
/// [`ApiError::NotAnImage`] when the output is neither or not an image we know;
/// [`ApiError::Incomplete`] when the stream fails or ends before the image does.
pub async fn read_image(output: JsValue) -> Result<ModelImage, ApiError> {
    let stream: web_sys::ReadableStream = match output.dyn_into() {
        Ok(stream) => stream,
        Err(output) => return decode_json_image(&output),
    };
    let js_error = |e: JsValue| ApiError::Incomplete(read_error(&e).reason);
    let buffer = web_sys::Response::new_with_opt_readable_stream(Some(&stream))
        .and_then(|r| r.array_buffer())
        .map_err(js_error)?;
    let buffer: ArrayBuffer = JsFuture::from(buffer)
        .await
        .map_err(js_error)?
        .unchecked_into();
    let bytes = Uint8Array::new(&buffer);
    let format = verify(&bytes)?;
    Ok(ModelImage { format, bytes })
}

/// `{image: "<base64>"}`, the answer of JSON models, as verified image bytes in JS memory.
fn decode_json_image(output: &JsValue) -> Result<ModelImage, ApiError> {
    let encoded = Reflect::get(output, &JsValue::from_str("image"))
        .ok()
        .and_then(|v| v.as_string())
        .ok_or(ApiError::NotAnImage)?;
    let decoded = decode(&encoded).map_err(|_| ApiError::NotAnImage)?;
    let bytes = Uint8Array::from(decoded.as_slice());
    let format = verify(&bytes)?;
    Ok(ModelImage { format, bytes })
}

/// The format of `bytes` if they are a whole PNG, JPEG or WebP image. Copies only the first
/// [`SNIFF_LEN`] and last [`TAIL_LEN`] bytes into Wasm.
///
/// # Errors
/// [`ApiError::NotAnImage`] or [`ApiError::Incomplete`].
pub fn verify(bytes: &Uint8Array) -> Result<ImageFormat, ApiError> {
    let len = bytes.length();
    let head = bytes.subarray(0, len.min(SNIFF_LEN as u32)).to_vec();
    let tail = bytes
        .subarray(len.saturating_sub(TAIL_LEN as u32), len)
        .to_vec();
    let format = sniff(&head).ok_or(ApiError::NotAnImage)?;
    if ends_whole(format, &head, &tail, len as usize) {
        Ok(format)
    } else {
        Err(ApiError::Incomplete(format!(
            "the {} stream ended after {len} bytes, before the image did",
            format.content_type()
        )))
    }
}

#[cfg(test)]
mod tests;
