//! Reading a request body into the fields of a request, whatever its shape: JSON, a multipart
//! form or a url-encoded form (both parsed by the runtime).
//!
//! The body stays in the JS heap, where the runtime gathered it: JSON is parsed a window at a
//! time (`sdxl_core::parse::parse_json_from`), forms by the runtime's own parser, so only what
//! the request is made of (its images' bytes, its small fields) is copied into Wasm memory, which
//! never shrinks. Each phase is held in the isolate's memory budget before it allocates.

use std::rc::Rc;

use futures_util::StreamExt;
use js_sys::Uint8Array;
use sdxl_core::budget::{Hold, MemoryBudget, Phase};
use sdxl_core::inputs::SourceText;
use sdxl_core::parse::windowed::{SourceDecoded, WINDOW};
use sdxl_core::parse::{parse_json_fast, parse_json_whole, BodyEncoding, ByteSource};
use sdxl_core::request_head::RequestHead;
use sdxl_core::{parse_form, ApiError, BodyError, FormPart, ModelSpec, RawRequest};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use worker::Request;

/// The body of `req`, read within `limit` bytes and parsed for `spec` by its media type, with
/// the budget hold it was read under.
///
/// # Errors
/// 415 for other media types, 413 over the limit, 400 for unreadable bodies, 503 when the
/// isolate's memory budget cannot take the body.
pub async fn read(
    req: &Request,
    head: &RequestHead,
    spec: &'static ModelSpec,
    limit: u64,
    budget: &std::rc::Rc<MemoryBudget>,
) -> Result<(RawRequest, Hold), ApiError> {
    let content_type = head.content_type.as_deref().unwrap_or_default();
    let shape = BodyEncoding::of(content_type)?;
    let (body, mut hold) = read_body(req, head.content_length, limit, budget, &|body| {
        shape.reading(body)
    })
    .await?;
    let len = body.len() as u64;
    if !shape.parses_as_json(first_byte(&body)) {
        return Ok((
            parse_form(spec, form_parts(&body, content_type).await?),
            hold,
        ));
    }
    let raw = match parse_json_fast(spec, &body, WINDOW) {
        Some(parsed) => parsed?,
        None => {
            // Left the fast path: serde_json holds more while it reads (see `Phase`).
            hold.resize(Phase::JsonWhole { body: len })?;
            parse_json_whole(spec, &body)?
        }
    };
    Ok((raw, hold))
}

/// The body's first byte other than whitespace, if it has one.
fn first_byte(body: &JsBody) -> Option<u8> {
    let mut head = [0u8; 64];
    let mut at = 0;
    while at < body.len() {
        let n = head.len().min(body.len() - at);
        body.copy_to(at, &mut head[..n]);
        if let Some(b) = head[..n].iter().find(|b| !b.is_ascii_whitespace()) {
            return Some(*b);
        }
        at += n;
    }
    None
}

/// The parts of a `multipart/form-data` or url-encoded body, split by the runtime's own parser
/// straight from the JS heap; only the parts cross into Wasm memory.
pub(crate) async fn form_parts(
    body: &JsBody,
    content_type: &str,
) -> Result<Vec<(String, FormPart)>, ApiError> {
    let unreadable = |what: &str| ApiError::Body(BodyError::Unreadable(what.to_owned()));
    let headers = web_sys::Headers::new().map_err(|_| unreadable("headers"))?;
    headers
        .set("content-type", content_type)
        .map_err(|_| unreadable("content-type"))?;
    let init = web_sys::ResponseInit::new();
    init.set_headers(&headers);
    let chunks: js_sys::Array = body.chunks.iter().collect();
    let blob = web_sys::Blob::new_with_u8_array_sequence(&chunks)
        .map_err(|_| unreadable("the form body"))?;
    let form = web_sys::Response::new_with_opt_blob_and_init(Some(&blob), &init)
        .and_then(|r| r.form_data())
        .map_err(|_| unreadable("the form body"))?;
    let form: web_sys::FormData = JsFuture::from(form)
        .await
        .map_err(|e| {
            unreadable(&format!(
                "the form body is malformed: {}",
                crate::js_error::read_error(&e).reason
            ))
        })?
        .unchecked_into();
    let mut parts = Vec::new();
    let entries = js_sys::try_iter(&form)
        .ok()
        .flatten()
        .ok_or_else(|| unreadable("the form body"))?;
    for entry in entries {
        let entry: js_sys::Array = entry.map_err(|_| unreadable("a part"))?.unchecked_into();
        let name = entry.get(0).as_string().unwrap_or_default();
        let value = entry.get(1);
        let part = if let Some(text) = value.as_string() {
            FormPart::Text(text)
        } else {
            let file: web_sys::File = value.unchecked_into();
            let buffer = JsFuture::from(file.array_buffer())
                .await
                .map_err(|_| unreadable("a file part"))?;
            FormPart::File(Uint8Array::new(&buffer).to_vec())
        };
        parts.push((name, part));
    }
    Ok(parts)
}

/// A request body as the runtime gave it, in the JS heap: one buffer (a declared length) or the
/// chunks of a stream. The parser copies windows out of it.
pub struct JsBody {
    chunks: Vec<Uint8Array>,
    /// Offset of each chunk in the body.
    starts: Vec<usize>,
    len: usize,
}

impl JsBody {
    fn new() -> JsBody {
        JsBody {
            chunks: Vec::new(),
            starts: Vec::new(),
            len: 0,
        }
    }

    fn push(&mut self, chunk: Uint8Array) {
        let n = chunk.length() as usize;
        if n == 0 {
            return;
        }
        self.starts.push(self.len);
        self.len += n;
        self.chunks.push(chunk);
    }
}

// `image_b64` decoded by the engine, from the body's bytes in the JS heap straight into Wasm
// memory: the text is neither copied into Wasm memory nor decoded there (in Wasm the decoder was
// the largest cost of an `image_b64` request), and the bytes are written once, where they stay.
// Only the strict form is taken (see `ByteSource::decode_base64_string`): whole groups of four
// (no whitespace then, which `setFromBase64` would skip: it would write fewer bytes than the
// size the text's length and padding give, and is refused), `lastChunkHandling: 'strict'`
// (refuses missing padding and non-zero trailing bits), each alphabet on its own (so mixed ones
// fail both), a BOM kept (`ignoreBOM`) so that it is not dropped silently. Everything else is
// left to the Wasm decoder and today's rules and messages.
// The rest of the body is read as text once and searched as a string: `Uint8Array.indexOf` for
// the quote and for a backslash took as long as decoding (~0.6 ms each for 2 MB in workerd),
// a string search next to nothing. Offsets in the text are offsets in the body when the text
// decodes, since every character before the quote is then an ASCII symbol.
// A text the standard alphabet decoded in the strict form is the one standard, padded base64 of
// its bytes: it is kept (`takeKeptText`) and sent to the model as it came, instead of encoding
// the bytes again (`toBase64` was ~6% of an `image_b64` request). It is a slice of the rest of
// the body, which it keeps alive, so only when little follows it (a body padded with whitespace
// after the image would otherwise hold the padding until the request ends), and only up to 4 MiB
// (an image of 3 MiB, more than SDXL's inputs need): held from the parse to the end of the request,
// not only for the model call, a 16 MB text raised workerd's RSS peak for a max-size request by
// 10-17 MiB (`bench/memory.mjs --shape b64`); larger texts are encoded again, as before.
#[wasm_bindgen(
    inline_js = "const utf8 = new TextDecoder('utf-8', { ignoreBOM: true }); \
const KEPT_TEXT_MAX = 4 * 1024 * 1024; \
let found; \
let kept; \
export function findBase64String(body, start) { \
    found = undefined; \
    if (typeof Uint8Array.prototype.setFromBase64 !== 'function') return -1; \
    const rest = utf8.decode(body.subarray(start)); \
    const end = rest.indexOf('\"'); \
    if (end < 4 || end % 4 !== 0) return -1; \
    const text = rest.slice(0, end); \
    if (text.indexOf('\\\\') >= 0) return -1; \
    const keepable = end <= KEPT_TEXT_MAX && rest.length - end <= 65536; \
    found = { text, end: start + end, keepable }; \
    const padding = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0; \
    return end / 4 * 3 - padding; } \
export function decodeFoundInto(out) { \
    const at = found; \
    found = undefined; \
    kept = undefined; \
    if (at === undefined) return -1; \
    for (const alphabet of ['base64', 'base64url']) { \
        let done; \
        try { done = out.setFromBase64(at.text, { alphabet, lastChunkHandling: 'strict' }); } \
        catch { continue; } \
        if (done.read !== at.text.length || done.written !== out.length) return -1; \
        if (alphabet === 'base64' && at.keepable) kept = at.text; \
        return at.end; \
    } \
    return -1; } \
export function takeKeptText() { const text = kept; kept = undefined; return text; }"
)]
extern "C" {
    /// The size the string at `start` decodes to if it is in the strict form, or -1; the text is
    /// kept for [`decode_found_into`], the next call.
    #[wasm_bindgen(js_name = findBase64String)]
    fn find_base64_string(body: &Uint8Array, start: u32) -> f64;
    /// Decodes the text [`find_base64_string`] found into `out` (exactly its size): the offset
    /// of its closing quote in the body, or -1 if it is not in the strict form after all.
    #[wasm_bindgen(js_name = decodeFoundInto)]
    fn decode_found_into(out: &mut [u8]) -> f64;
    /// The text [`decode_found_into`] just decoded, if it kept it (see above), or `undefined`.
    #[wasm_bindgen(js_name = takeKeptText)]
    fn take_kept_text() -> JsValue;
}

impl ByteSource for JsBody {
    fn len(&self) -> usize {
        self.len
    }

    fn decode_base64_string(&self, start: usize) -> Option<SourceDecoded> {
        // A body the runtime gathered in one buffer (a declared length: what clients send);
        // the chunks of a stream are left to the Wasm decoder.
        let [body] = self.chunks.as_slice() else {
            return None;
        };
        let size = find_base64_string(body, u32::try_from(start).ok()?);
        if size < 1.0 {
            return None;
        }
        // At most the body's size.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let mut bytes = vec![0; size as usize];
        let end = decode_found_into(&mut bytes);
        let kept = take_kept_text();
        let text = kept.is_string().then(|| SourceText(Rc::new(kept)));
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // an offset in the body
        (end >= 0.0).then_some((bytes, end as usize, text))
    }

    fn copy_to(&self, offset: usize, buf: &mut [u8]) {
        let mut at = offset;
        let mut filled = 0;
        let mut i = self.starts.partition_point(|&s| s <= at).saturating_sub(1);
        while filled < buf.len() {
            let (chunk, start) = (&self.chunks[i], self.starts[i]);
            let from = at - start;
            let n = (chunk.length() as usize - from).min(buf.len() - filled);
            #[allow(clippy::cast_possible_truncation)] // bodies are far below 4 GiB
            chunk
                .subarray(from as u32, (from + n) as u32)
                .copy_to(&mut buf[filled..filled + n]);
            filled += n;
            at += n;
            i += 1;
        }
    }
}

/// The body, refused when it is over `limit` bytes, whatever `Content-Length` claims, and held in
/// `budget` as `phase` of its length before each part of it is read. `phase` is a `dyn`: generic,
/// the reader was compiled once per caller (the native routes, OpenAI's, jobs), a copy each in the
/// bundle.
pub(crate) async fn read_body(
    req: &Request,
    declared: Option<u64>,
    limit: u64,
    budget: &std::rc::Rc<MemoryBudget>,
    phase: &dyn Fn(u64) -> Phase,
) -> Result<(JsBody, Hold), ApiError> {
    let too_large = || ApiError::TooLarge { limit };
    let unreadable =
        |e: &JsValue| ApiError::Body(BodyError::Unreadable(crate::js_error::read_error(e).reason));
    if declared.is_some_and(|len| len > limit) {
        crate::body_refusal::UnreadBody::of(req, declared)
            .let_go()
            .await;
        return Err(too_large());
    }
    let mut body = JsBody::new();
    // A declared length is held whole before a byte is read; a stream, chunk by chunk.
    let mut hold = budget.hold(phase(declared.unwrap_or(0)))?;
    if declared.is_some() {
        // A declared length within the limit: the runtime gathers the body natively, in one call
        // (reading it chunk by chunk from Wasm cost ~25 ms for a 5.6 MB body), and holds it to
        // its declared length.
        let promise = req.inner().array_buffer().map_err(|e| unreadable(&e))?;
        let buffer = JsFuture::from(promise).await.map_err(|e| unreadable(&e))?;
        let bytes = Uint8Array::new(&buffer);
        if u64::from(bytes.length()) > limit {
            return Err(too_large());
        }
        body.push(bytes);
        return Ok((body, hold));
    }
    let Some(raw) = req.inner().body() else {
        return Ok((body, hold)); // no body at all
    };
    let mut chunks = wasm_streams::ReadableStream::from_raw(raw).into_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|e| unreadable(&e))?;
        let Ok(bytes) = chunk.dyn_into::<Uint8Array>() else {
            return Err(ApiError::Body(BodyError::Unreadable(
                "a body chunk is not bytes".into(),
            )));
        };
        let len = body.len() as u64 + u64::from(bytes.length());
        let refusal = if len > limit {
            Some(too_large())
        } else {
            hold.resize(phase(len)).err().map(ApiError::from)
        };
        if let Some(refusal) = refusal {
            // Refused: the rest is thrown away, not kept (see body_refusal for why it is read).
            crate::body_refusal::discard_rest(&mut chunks, declared, len).await;
            return Err(refusal);
        }
        body.push(bytes);
    }
    Ok((body, hold))
}

#[cfg(test)]
mod tests;
