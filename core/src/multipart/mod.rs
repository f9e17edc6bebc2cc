//! The `multipart/form-data` body a model that takes a form (`Input::Multipart`, the FLUX.2
//! family) is sent: built here, from the normalized inputs, as pieces the adapter hands to the
//! runtime in one call (a `Blob`), so the bytes tested natively are the bytes sent.
//!
//! Images are not copied into the body: a piece borrows the normalized image's bytes, and the
//! runtime copies each once, from Wasm memory straight into the body it sends.
//!
//! The boundary is derived from the request's cache key (`sdxl-gateway-<32 hex digits of the
//! key>`), so one request is always one body, and the key, computed before the body exists, is
//! independent of it. A client cannot plant the boundary in an image: the key hashes every
//! image's bytes, so an image containing its own request's boundary would be a fixed point of
//! SHA-256. The text parts are checked all the same, and a boundary that occurs in one gets a
//! suffix until none does.

use std::fmt::Write as _;

use crate::inputs::{InputValue, Normalized};
use crate::ImageFormat;

/// One piece of the body, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece<'a> {
    /// Delimiters, part headers and text values, as UTF-8.
    Text(String),
    /// An image's bytes, borrowed from the normalized inputs.
    Image(&'a [u8]),
}

/// A `multipart/form-data` body as its pieces, and the content type that names its boundary.
#[derive(Debug, Clone, PartialEq)]
pub struct FormBody<'a> {
    pub pieces: Vec<Piece<'a>>,
    /// `multipart/form-data; boundary=<boundary>`.
    pub content_type: String,
    pub boundary: String,
}

impl FormBody<'_> {
    /// The body's length in bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.len(),
                Piece::Image(b) => b.len(),
            })
            .sum()
    }

    /// Whether the body is empty (never: it has at least its closing delimiter).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a boundary starts with.
const BOUNDARY_PREFIX: &str = "sdxl-gateway-";
/// How many hex digits of the key a boundary takes (128 bits).
const KEY_DIGITS: usize = 32;

/// The form of `request`: one part per forwarded input, in the table's order, under its
/// forwarded name (`input_image_0`, never an alias such as `input_image_0_b64`); images as file
/// parts named `<field>.<ext>` with their sniffed type, every other value as text. `key` is the
/// request's cache key (see the module's note on the boundary).
#[must_use]
pub fn form_body<'a>(request: &'a Normalized, key: &str) -> FormBody<'a> {
    let values: Vec<(&str, Value<'a>)> = request
        .inputs
        .iter()
        .map(|(name, value)| (name, Value::of(value)))
        .collect();
    let boundary = boundary_for(key, &values);
    let mut pieces = Vec::new();
    let mut text = String::new();
    for (name, value) in &values {
        let _ = write!(
            text,
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\""
        );
        match value {
            Value::Text(value) => {
                text.push_str("\r\n\r\n");
                text.push_str(value);
            }
            Value::Image(bytes, format) => {
                let (ext, media_type) = match format {
                    ImageFormat::Png => ("png", "image/png"),
                    ImageFormat::Jpeg => ("jpg", "image/jpeg"),
                    ImageFormat::Webp => ("webp", "image/webp"),
                };
                let _ = write!(
                    text,
                    "; filename=\"{name}.{ext}\"\r\nContent-Type: {media_type}\r\n\r\n"
                );
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Image(bytes));
            }
        }
        text.push_str("\r\n");
    }
    let _ = write!(text, "--{boundary}--\r\n");
    pieces.push(Piece::Text(text));
    FormBody {
        pieces,
        content_type: format!("multipart/form-data; boundary={boundary}"),
        boundary,
    }
}

/// A value as the form carries it.
enum Value<'a> {
    Text(String),
    Image(&'a [u8], ImageFormat),
}

impl<'a> Value<'a> {
    fn of(value: &'a InputValue) -> Value<'a> {
        match value {
            InputValue::Text(s) => Value::Text(s.clone()),
            InputValue::Integer(i) => Value::Text(i.to_string()),
            // Rust's shortest round-trip form (`3.5`, `4`), which every float parser reads back
            // exactly; `-0` as `0`, as the key has it.
            InputValue::Number(n) if *n == 0.0 => Value::Text("0".to_owned()),
            InputValue::Number(n) => Value::Text(n.to_string()),
            InputValue::Image(image) => Value::Image(&image.bytes, image.info.format),
        }
    }
}

/// `sdxl-gateway-<32 hex digits of key>`, with `-<n>` appended until no text value contains it.
fn boundary_for(key: &str, values: &[(&str, Value<'_>)]) -> String {
    let digits: String = key
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(KEY_DIGITS)
        .collect();
    let base = format!("{BOUNDARY_PREFIX}{digits}");
    let occurs = |boundary: &str| {
        values
            .iter()
            .any(|(_, v)| matches!(v, Value::Text(t) if t.contains(boundary)))
    };
    let mut boundary = base.clone();
    let mut n = 0u32;
    while occurs(&boundary) {
        n += 1;
        boundary = format!("{base}-{n}");
    }
    boundary
}

#[cfg(test)]
mod tests;
