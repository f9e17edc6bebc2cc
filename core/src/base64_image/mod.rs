//! Lenient base64 for `image_b64`: the standard or URL-safe alphabet, padding optional, an
//! optional `data:<media type>;base64,` prefix, and line breaks as MIME encoders write them.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use thiserror::Error;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Base64Error {
    #[error("is empty")]
    Empty,
    #[error("is a data: URL that is not base64 (expected `data:image/...;base64,`)")]
    DataUrlNotBase64,
    #[error("mixes the standard (+/) and URL-safe (-_) base64 alphabets")]
    MixedAlphabets,
    #[error("is not valid base64: byte {offset} ({byte:?}) is not in the alphabet")]
    InvalidByte { offset: usize, byte: char },
    #[error("is not valid base64: its length leaves a dangling final character")]
    InvalidLength,
    #[error("is not valid base64: misplaced padding")]
    Padding,
}

/// Decodes `text` as described in the module docs.
///
/// # Errors
/// When `text` is empty, is a non-base64 data URL, mixes alphabets or is not base64.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let payload = strip_data_url(text)?;
    // Only copy when there is whitespace to drop; most clients send one unbroken line.
    let compact: std::borrow::Cow<'_, [u8]> = if payload.bytes().any(|b| b.is_ascii_whitespace()) {
        payload
            .bytes()
            .filter(|b| !b.is_ascii_whitespace())
            .collect::<Vec<u8>>()
            .into()
    } else {
        payload.as_bytes().into()
    };
    if compact.is_empty() {
        return Err(Base64Error::Empty);
    }
    let url_safe = compact.iter().any(|&b| b == b'-' || b == b'_');
    let standard = compact.iter().any(|&b| b == b'+' || b == b'/');
    let engine = match (url_safe, standard) {
        (true, true) => return Err(Base64Error::MixedAlphabets),
        (true, false) => &URL_SAFE,
        (false, _) => &STANDARD,
    };
    engine.decode(&compact).map_err(|e| match e {
        base64::DecodeError::InvalidByte(_, b'=') | base64::DecodeError::InvalidPadding => {
            Base64Error::Padding
        }
        base64::DecodeError::InvalidByte(offset, byte) => Base64Error::InvalidByte {
            offset,
            byte: char::from(byte),
        },
        base64::DecodeError::InvalidLength(_) | base64::DecodeError::InvalidLastSymbol(_, _) => {
            Base64Error::InvalidLength
        }
    })
}

/// The payload after a `data:...;base64,` prefix, or `text` itself when it has none.
fn strip_data_url(text: &str) -> Result<&str, Base64Error> {
    let Some(prefix) = text.get(..5) else {
        return Ok(text);
    };
    if !prefix.eq_ignore_ascii_case("data:") {
        return Ok(text);
    }
    let Some((header, payload)) = text[5..].split_once(',') else {
        return Err(Base64Error::DataUrlNotBase64);
    };
    // RFC 2397: `data:[<mediatype>][;base64],`. In `data:base64,` the word is the media type.
    let is_base64 = header
        .rsplit_once(';')
        .is_some_and(|(_, last)| last.trim().eq_ignore_ascii_case("base64"));
    if is_base64 {
        Ok(payload)
    } else {
        Err(Base64Error::DataUrlNotBase64)
    }
}

#[cfg(test)]
mod tests;
