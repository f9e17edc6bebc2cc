//! A multipart run as the runtime hands it over: the stream found in `inputs` where workerd's
//! binding looks for one, and its form split into parts by the runtime's own parser
//! (`Response.formData()`), never by hand. What is refused, and why, is `multipart`'s.

use js_sys::{Array, Object, Reflect, Uint8Array};
use sdxl_core::FormPart;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Blob, FormData, Headers, ReadableStream, Response, ResponseInit};

use crate::multipart::Refusal;

/// The streams in a call's `inputs`.
#[derive(Default)]
pub struct Streams {
    /// Keys whose value is a stream or an object whose `body` is one, in order.
    pub keys: Vec<String>,
    /// Every other key.
    pub others: Vec<String>,
    /// The first such stream, and its key's `contentType` (`undefined` for a bare stream).
    pub first: Option<(ReadableStream, JsValue)>,
}

/// Finds the streams of `inputs` as workerd's binding does (`findReadableStreamKeys`): by a
/// `getReader` method, whatever the key is called.
#[must_use]
pub fn find(inputs: &JsValue) -> Streams {
    let mut streams = Streams::default();
    if !inputs.is_object() {
        return streams;
    }
    for entry in Object::entries(inputs.unchecked_ref()).iter() {
        let entry: Array = entry.unchecked_into();
        let key = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let body = get(&value, "body");
        let (stream, content_type) = if is_stream(&value) {
            (value, JsValue::UNDEFINED)
        } else if is_stream(&body) {
            (body, get(&value, "contentType"))
        } else {
            streams.others.push(key);
            continue;
        };
        streams.keys.push(key);
        if streams.first.is_none() {
            streams.first = Some((stream.unchecked_into(), content_type));
        }
    }
    streams
}

fn is_stream(value: &JsValue) -> bool {
    get(value, "getReader").is_function()
}

fn get(value: &JsValue, name: &str) -> JsValue {
    if !value.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(value, &JsValue::from_str(name)).unwrap_or(JsValue::UNDEFINED)
}

/// `contentType` as the binding reads it: a falsy one is none; anything else is sent as a
/// header, so as its string.
#[must_use]
pub fn content_type(value: &JsValue) -> Option<String> {
    if !value.is_truthy() {
        return None;
    }
    value
        .as_string()
        .or_else(|| value.unchecked_ref::<Object>().to_string().as_string())
}

/// Whether `options.gateway.id` is set: the run would go through AI Gateway.
#[must_use]
pub fn through_ai_gateway(options: &JsValue) -> bool {
    get(&get(options, "gateway"), "id").is_truthy()
}

/// The parts of the form in `body`, split by the runtime under `content_type`.
///
/// # Errors
/// [`Refusal::Unparsable`] with the runtime's reason when the body is not such a form.
pub async fn form_parts(
    body: &ReadableStream,
    content_type: &str,
) -> Result<Vec<(String, FormPart)>, Refusal> {
    let unparsable = |e: JsValue| Refusal::Unparsable(reason(&e));
    let headers = Headers::new().map_err(unparsable)?;
    headers
        .set("content-type", content_type)
        .map_err(unparsable)?;
    let init = ResponseInit::new();
    init.set_headers(&headers);
    let promise = Response::new_with_opt_readable_stream_and_init(Some(body), &init)
        .and_then(|response| response.form_data())
        .map_err(unparsable)?;
    let form: FormData = JsFuture::from(promise)
        .await
        .map_err(unparsable)?
        .unchecked_into();
    let entries = js_sys::try_iter(&form)
        .map_err(unparsable)?
        .ok_or_else(|| Refusal::Unparsable("the form has no entries".into()))?;
    let mut parts = Vec::new();
    for entry in entries {
        let entry: Array = entry.map_err(unparsable)?.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let part = match value.as_string() {
            Some(text) => FormPart::Text(text),
            None => {
                let file: Blob = value.unchecked_into();
                let buffer = JsFuture::from(file.array_buffer())
                    .await
                    .map_err(unparsable)?;
                FormPart::File(Uint8Array::new(&buffer).to_vec())
            }
        };
        parts.push((name, part));
    }
    Ok(parts)
}

/// Reads `body` to its end and lets it go: the precomputed answer does not look at the form,
/// but the caller's work of sending it is part of what a benchmark measures.
pub async fn drain(body: &ReadableStream) {
    if let Ok(promise) =
        Response::new_with_opt_readable_stream(Some(body)).and_then(|r| r.array_buffer())
    {
        // An unreadable body changes nothing about the precomputed answer.
        let _ = JsFuture::from(promise).await;
    }
}

/// The message of what JS threw, or its text.
fn reason(thrown: &JsValue) -> String {
    get(thrown, "message")
        .as_string()
        .or_else(|| thrown.as_string())
        .unwrap_or_else(|| "unreadable".into())
}
