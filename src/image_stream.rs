//! The model's image stream, passed through without collecting it in Wasm memory, after its
//! first bytes have told us what it is.

use futures_util::stream::{self, StreamExt};
use js_sys::Uint8Array;
use sdxl_core::image::{sniff, SNIFF_LEN};
use sdxl_core::{ApiError, ImageFormat};
use wasm_bindgen::{JsCast, JsValue};
use wasm_streams::ReadableStream;

use crate::ai_binding::read_error;

/// An image stream whose format is known.
pub struct SniffedImage {
    pub format: ImageFormat,
    pub body: web_sys::ReadableStream,
}

/// Reads chunks until [`SNIFF_LEN`] bytes (or the end) are seen, recognises the format from
/// them, and returns a stream that yields those chunks again followed by the rest.
///
/// # Errors
/// [`ApiError::NotAnImage`] when the output is not a stream or its bytes are no image we know;
/// [`ApiError::Upstream`] when the stream fails before its first bytes.
pub async fn sniff_stream(output: JsValue) -> Result<SniffedImage, ApiError> {
    let raw: web_sys::ReadableStream = output.dyn_into().map_err(|_| ApiError::NotAnImage)?;
    let mut rest = ReadableStream::from_raw(raw).into_stream();
    let mut held: Vec<JsValue> = Vec::new();
    let mut head: Vec<u8> = Vec::with_capacity(SNIFF_LEN);
    while head.len() < SNIFF_LEN {
        let Some(chunk) = rest.next().await else {
            break;
        };
        let chunk = chunk.map_err(|e| ApiError::Upstream(read_error(&e)))?;
        let bytes: &Uint8Array = chunk.dyn_ref().ok_or(ApiError::NotAnImage)?;
        let wanted = (SNIFF_LEN - head.len()).min(bytes.length() as usize);
        // Copy only the few bytes sniffing needs; the chunk itself stays in JS.
        head.extend(bytes.subarray(0, wanted as u32).to_vec());
        held.push(chunk);
    }
    let format = sniff(&head).ok_or(ApiError::NotAnImage)?;
    let replay = stream::iter(held.into_iter().map(Ok));
    let body = ReadableStream::from_stream(replay.chain(rest)).into_raw();
    Ok(SniffedImage { format, body })
}
