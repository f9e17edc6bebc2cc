//! Recognising image bytes: the format from the magic number, the dimensions from the header.
//!
//! Workers AI documents PNG for this model, one docs example says JPEG and users have observed
//! JPEG, so the gateway trusts neither and reads the bytes.

use thiserror::Error;

/// The image formats accepted as input and recognised as output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Jpeg,
    Webp,
}

impl ImageFormat {
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// How many leading bytes [`sniff`] needs to tell every format apart.
pub const SNIFF_LEN: usize = 12;

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The format of `head`, the first bytes of a file, if it is one of ours.
#[must_use]
pub fn sniff(head: &[u8]) -> Option<ImageFormat> {
    if head.starts_with(PNG_SIGNATURE) {
        Some(ImageFormat::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if head.len() >= 12 && &head[0..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        Some(ImageFormat::Webp)
    } else {
        None
    }
}

/// An image's format and size, read from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageInfo {
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ImageError {
    #[error("is empty")]
    Empty,
    #[error("is not a PNG, JPEG or WebP image")]
    UnknownFormat,
    #[error("is a {0} image whose header is truncated or corrupt")]
    BadHeader(&'static str),
    #[error("is a {0} image that is cut short (its end marker is missing)")]
    Truncated(&'static str),
    #[error("has a zero width or height")]
    ZeroSize,
    #[error("is a JPEG with {0}; only one baseline, extended or progressive frame is accepted")]
    UnsupportedJpeg(&'static str),
    /// A PNG chunk whose stored CRC does not match its bytes: the file was damaged on its way.
    #[error("is a PNG image whose '{chunk}' chunk at byte {offset} fails its CRC check (the file is corrupt)")]
    BadChunkCrc { chunk: String, offset: usize },
}

/// Format and dimensions of a whole image file.
///
/// # Errors
/// When the bytes are empty, of another format, or their header cannot be read.
pub fn inspect(bytes: &[u8]) -> Result<ImageInfo, ImageError> {
    if bytes.is_empty() {
        return Err(ImageError::Empty);
    }
    let format = sniff(bytes).ok_or(ImageError::UnknownFormat)?;
    if format == ImageFormat::Jpeg {
        // Decoders disagree on which frame header of a JPEG holds its size; accept only JPEGs
        // with exactly one, so the size checked here is the size every decoder sees.
        check_single_frame(bytes)?;
    }
    let name = match format {
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Webp => "WebP",
    };
    let size = imagesize::blob_size(bytes).map_err(|_| ImageError::BadHeader(name))?;
    let (width, height) = (
        u32::try_from(size.width).map_err(|_| ImageError::BadHeader(name))?,
        u32::try_from(size.height).map_err(|_| ImageError::BadHeader(name))?,
    );
    if width == 0 || height == 0 {
        return Err(ImageError::ZeroSize);
    }
    if !is_complete(format, bytes) {
        return Err(ImageError::Truncated(name));
    }
    if format == ImageFormat::Png {
        check_png_chunks(bytes)?;
    }
    Ok(ImageInfo {
        format,
        width,
        height,
    })
}

/// Walks a JPEG's marker segments up to the start of scan and insists on exactly one frame
/// header, of type SOF0 (baseline), SOF1 (extended) or SOF2 (progressive).
fn check_single_frame(bytes: &[u8]) -> Result<(), ImageError> {
    let mut at = 2; // after SOI
    let mut frames = 0;
    loop {
        // Markers may be padded with any number of 0xFF bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        let (Some(&0xFF), Some(&marker)) = (bytes.get(at), bytes.get(at + 1)) else {
            return Err(ImageError::BadHeader("JPEG"));
        };
        match marker {
            0xDA => break, // start of scan: the headers are over
            0xD8 | 0xD9 | 0x01 | 0xD0..=0xD7 => {
                // Stand-alone markers carry no length.
                at += 2;
                continue;
            }
            0xC0..=0xC2 => frames += 1,
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(ImageError::UnsupportedJpeg(
                    "a lossless, hierarchical or arithmetic-coded frame",
                ));
            }
            _ => {}
        }
        let len = match (bytes.get(at + 2), bytes.get(at + 3)) {
            (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => return Err(ImageError::BadHeader("JPEG")),
        };
        if len < 2 {
            return Err(ImageError::BadHeader("JPEG"));
        }
        at += 2 + len;
    }
    match frames {
        1 => Ok(()),
        0 => Err(ImageError::BadHeader("JPEG")),
        _ => Err(ImageError::UnsupportedJpeg("more than one frame header")),
    }
}

/// Walks a PNG's chunks from the signature to `IEND` and checks each one's CRC-32 (over its
/// type and data, as the PNG specification defines it). A file whose header and end are intact
/// but whose body was damaged fails here, before a paid model run, instead of in the model.
/// Costs one pass over the bytes (CRC-32 by table, a few GB/s natively).
fn check_png_chunks(bytes: &[u8]) -> Result<(), ImageError> {
    let mut at = PNG_SIGNATURE.len();
    loop {
        let Some(header) = bytes.get(at..at + 8) else {
            return Err(ImageError::Truncated("PNG"));
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
        let len = usize::try_from(len).map_err(|_| ImageError::BadHeader("PNG"))?;
        let kind = &header[4..8];
        let body_end = (at + 8)
            .checked_add(len)
            .ok_or(ImageError::Truncated("PNG"))?;
        let (Some(covered), Some(stored)) = (
            bytes.get(at + 4..body_end),
            bytes.get(body_end..body_end + 4),
        ) else {
            return Err(ImageError::Truncated("PNG"));
        };
        let stored = u32::from_be_bytes([stored[0], stored[1], stored[2], stored[3]]);
        if crate::crc32::hash(covered) != stored {
            return Err(ImageError::BadChunkCrc {
                chunk: String::from_utf8_lossy(kind).escape_debug().to_string(),
                offset: at,
            });
        }
        if kind == b"IEND" {
            return Ok(());
        }
        at = body_end + 4;
    }
}

/// How many trailing bytes [`ends_whole`] looks at.
pub const TAIL_LEN: usize = 64;

/// Whether a file of `format` ends the way a whole file does, judged from its first
/// [`SNIFF_LEN`] bytes (`head`), its last [`TAIL_LEN`] bytes (`tail`) and its length. A header
/// reads fine on a cut-short file; this catches it without decoding or even holding the pixels.
#[must_use]
pub fn ends_whole(format: ImageFormat, head: &[u8], tail: &[u8], len: usize) -> bool {
    match format {
        // Every PNG ends with an empty IEND chunk: length 0, type, CRC.
        ImageFormat::Png => tail.ends_with(b"\0\0\0\0IEND\xAE\x42\x60\x82"),
        // The EOI marker; some writers pad after it, so look near the end rather than at it.
        ImageFormat::Jpeg => tail.windows(2).any(|w| w == [0xFF, 0xD9]),
        // The RIFF header states the file's length.
        ImageFormat::Webp => head.get(4..8).is_some_and(|b| {
            let declared = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            usize::try_from(declared).is_ok_and(|d| d.saturating_add(8) <= len)
        }),
    }
}

fn is_complete(format: ImageFormat, bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    let tail = &bytes[bytes.len().saturating_sub(TAIL_LEN)..];
    ends_whole(format, head, tail, bytes.len())
}

#[cfg(test)]
mod tests;
