//! The cache key: SHA-256 over a versioned, canonical encoding of the model id and every
//! normalized input.
//!
//! Encoding, version 2 (UTF-8, one item per line, each line ending in `\n`):
//!
//! ```text
//! sdxl-gateway cache key v2
//! model:<model id>
//! <name>:<tag>:<value>        one line per forwarded input (and implied side), in the model
//!                             table's order
//! ```
//!
//! | tag   | value |
//! |-------|-------|
//! | `str` | the text as a JSON string (quoted, escaped: no raw newline can occur) |
//! | `int` | the integer in decimal |
//! | `num` | the number in Rust's shortest round-trip decimal form (`7.5`, `1`, `0.25`); `-0` as `0` |
//! | `img` | the lowercase hex SHA-256 of the decoded image bytes |
//!
//! Defaults are explicit and the seed is always present (given or drawn), so the same picture is
//! always the same key; a side a text-to-image request leaves out is keyed as the model's
//! documented default (`ModelSpec::default_side`: 1024 for SDXL), as if it had been sent, and `image`, `image_b64` and a data URL of one picture share it (all three
//! normalize to the decoded `image`). Fields the model does not have are not forwarded and so not
//! in the key. Golden vectors in the tests pin the encoding; changing it means a new version line.

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::inputs::{InputValue, Normalized};

/// The first line of the encoding; bump it whenever the encoding changes.
pub const VERSION_LINE: &str = "sdxl-gateway cache key v2";

/// The canonical text the key is the hash of (exposed for documentation and tests).
#[must_use]
pub fn canonical_text(request: &Normalized) -> String {
    canonical_text_with(request, &mut |_, bytes| sha256_hex(bytes))
}

/// [`canonical_text`] with the images' SHA-256 (lowercase hex) supplied by `image_digest(name,
/// bytes)`: the Worker computes them with WebCrypto, natively, instead of in Wasm.
pub fn canonical_text_with(
    request: &Normalized,
    image_digest: &mut dyn FnMut(&str, &[u8]) -> String,
) -> String {
    let mut text = format!("{VERSION_LINE}\nmodel:{}\n", request.model.id);
    let mut implied = implied_sides(request).peekable();
    for (name, value) in request.inputs.iter() {
        // An implied side goes where the table puts it, as if it had been sent.
        let at = table_position(request, name);
        while let Some((side, v)) = implied.next_if(|(side, _)| table_position(request, side) < at)
        {
            let _ = writeln!(text, "{side}:int:{v}");
        }
        // Writing to a String cannot fail.
        let _ = match value {
            InputValue::Text(s) => writeln!(text, "{name}:str:{}", json_string(s)),
            InputValue::Integer(i) => writeln!(text, "{name}:int:{i}"),
            InputValue::Number(n) => writeln!(text, "{name}:num:{}", canonical_number(*n)),
            InputValue::Image(img) => {
                writeln!(text, "{name}:img:{}", image_digest(name, &img.bytes))
            }
        };
    }
    for (side, v) in implied {
        let _ = writeln!(text, "{side}:int:{v}");
    }
    text
}

/// The sides a text-to-image request left out that the model's documented default fills
/// (`ModelSpec::default_side`), in table order. None when an input image is sent: its sides
/// then decide, or the model does.
fn implied_sides(request: &Normalized) -> impl Iterator<Item = (&'static str, i64)> + '_ {
    let default = request.implied_side();
    request
        .model
        .fields
        .iter()
        .filter(|f| matches!(f.name, "width" | "height"))
        .filter(move |f| default.is_some() && request.inputs.get(f.name).is_none())
        .filter_map(move |f| Some((f.name, default?)))
}

/// Where `name` stands in the model's table (forwarded names are the table's).
fn table_position(request: &Normalized, name: &str) -> usize {
    request
        .model
        .fields
        .iter()
        .position(|f| f.name == name)
        .unwrap_or(usize::MAX)
}

/// The cache key: 64 lowercase hex digits.
#[must_use]
pub fn cache_key(request: &Normalized) -> String {
    sha256_hex(canonical_text(request).as_bytes())
}

/// [`cache_key`] with the images' digests supplied (see [`canonical_text_with`]).
pub fn cache_key_with(
    request: &Normalized,
    image_digest: &mut dyn FnMut(&str, &[u8]) -> String,
) -> String {
    sha256_hex(canonical_text_with(request, image_digest).as_bytes())
}

/// Whether `text` has the shape of a key (used to refuse junk in `/images/<key>` early).
#[must_use]
pub fn is_cache_key(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::json_text::push_str(&mut out, s);
    out
}

fn canonical_number(n: f64) -> String {
    if n == 0.0 {
        // 0 and -0 are the same request.
        String::from("0")
    } else {
        n.to_string()
    }
}

/// Lowercase hex of `bytes` (digests, request ids). By table: `format!("{:02x}")` per byte
/// showed up in profiles of cache hits.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests;
