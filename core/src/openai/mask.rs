//! OpenAI's edit mask turned into the image models' mask.
//!
//! OpenAI marks the area to edit by **transparency**: a PNG the size of the image whose fully
//! transparent pixels (alpha 0) are repainted. Workers AI's inpainting models take a greyscale
//! image where **white** is repainted and black kept. So every pixel with alpha 0 becomes white
//! (255) and every other pixel black (0), whatever its colour: the colour of an OpenAI mask
//! means nothing.
//!
//! The conversion streams one row at a time, so it holds the PNG it reads, the PNG it writes and
//! two rows, never a decoded image (a 4096x4096 RGBA mask would be 64 MiB).

use thiserror::Error;

/// Why a mask cannot be converted.
#[derive(Debug, Error)]
pub enum MaskError {
    #[error(
        "must be a PNG image (OpenAI's mask format: transparent pixels mark the area to edit)"
    )]
    NotPng,
    #[error("is not a readable PNG: {0}")]
    Unreadable(String),
    #[error(
        "has no alpha channel; OpenAI's masks mark the area to edit with fully transparent pixels"
    )]
    NoAlpha,
    #[error("is interlaced (Adam7); save it without interlacing")]
    Interlaced,
    #[error("is {width}x{height} = {pixels} pixels; at most {max} are accepted")]
    TooManyPixels {
        width: u32,
        height: u32,
        pixels: u64,
        max: u64,
    },
    #[error("could not be re-encoded: {0}")]
    Encode(String),
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// The most bytes [`transparent_to_white`] writes for a `width` x `height` mask: one byte per
/// pixel and one filter byte per row (deflate's stored blocks, the worst case, add 5 bytes per
/// 64 KiB), plus the PNG's chunks.
#[must_use]
pub fn converted_bound(width: u32, height: u32) -> u64 {
    let raw = (u64::from(width) + 1) * u64::from(height);
    raw + raw / 65_535 * 5 + 4096
}

/// Converts an OpenAI mask (alpha 0 = repaint) into a greyscale PNG of the same size where
/// white = repaint and black = keep.
///
/// # Errors
/// [`MaskError`] when `png` is not a whole, non-interlaced PNG with transparency of at most
/// `max_pixels` pixels.
pub fn transparent_to_white(png: &[u8], max_pixels: u64) -> Result<Vec<u8>, MaskError> {
    if !png.starts_with(PNG_SIGNATURE) {
        return Err(MaskError::NotPng);
    }
    let unreadable = |e: png::DecodingError| MaskError::Unreadable(e.to_string());
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    // Palette and tRNS transparency become an alpha channel, low bit depths 8 bits, 16 bits 8.
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let header = decoder.read_header_info().map_err(unreadable)?;
    let (width, height, interlaced) = (header.width, header.height, header.interlaced);
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(MaskError::TooManyPixels {
            width,
            height,
            pixels,
            max: max_pixels,
        });
    }
    if interlaced {
        return Err(MaskError::Interlaced);
    }
    let mut reader = decoder.read_info().map_err(unreadable)?;
    let (color, _) = reader.output_color_type();
    let channels = match color {
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgba => 4,
        _ => return Err(MaskError::NoAlpha),
    };

    let encode_error = |e: png::EncodingError| MaskError::Encode(e.to_string());
    let capacity = usize::try_from(converted_bound(width, height) / 8).unwrap_or(0);
    let mut out = Vec::with_capacity(capacity);
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        // Masks are large flat areas: the fast setting already compresses them ~100:1.
        encoder.set_compression(png::Compression::Fast);
        let mut writer = encoder.write_header().map_err(encode_error)?;
        let mut stream = writer.stream_writer().map_err(encode_error)?;
        let mut grey = vec![0u8; width as usize];
        let mut rows = 0u32;
        while let Some(row) = reader.next_row().map_err(unreadable)? {
            let alphas = row.data().chunks_exact(channels).map(|p| p[channels - 1]);
            for (g, alpha) in grey.iter_mut().zip(alphas) {
                *g = if alpha == 0 { 255 } else { 0 };
            }
            std::io::Write::write_all(&mut stream, &grey)
                .map_err(|e| MaskError::Encode(e.to_string()))?;
            rows += 1;
        }
        if rows != height {
            return Err(MaskError::Unreadable(format!(
                "it ended after {rows} of {height} rows"
            )));
        }
        stream.finish().map_err(encode_error)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An RGBA PNG of `width` x `height`: opaque red, with alpha 0 inside `hole` (x0, y0, x1, y1,
    /// exclusive ends), whose colour there is kept blue so only alpha can decide.
    fn mask_with_hole(width: u32, height: u32, hole: (u32, u32, u32, u32)) -> Vec<u8> {
        let mut pixels = Vec::new();
        for y in 0..height {
            for x in 0..width {
                let inside = x >= hole.0 && x < hole.2 && y >= hole.1 && y < hole.3;
                pixels.extend_from_slice(if inside {
                    &[0, 0, 255, 0]
                } else {
                    &[255, 0, 0, 255]
                });
            }
        }
        encode(width, height, png::ColorType::Rgba, &pixels)
    }

    fn encode(width: u32, height: u32, color: png::ColorType, pixels: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    fn decode_grey(png: &[u8]) -> (u32, u32, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png));
        let mut reader = decoder.read_info().unwrap();
        assert_eq!(
            reader.output_color_type(),
            (png::ColorType::Grayscale, png::BitDepth::Eight)
        );
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        (info.width, info.height, buf)
    }

    #[test]
    fn a_transparent_square_becomes_white_and_the_rest_black() {
        let (w, h) = (64, 48);
        let hole = (16, 8, 40, 30);
        let converted = transparent_to_white(&mask_with_hole(w, h, hole), u64::MAX).unwrap();
        let (cw, ch, grey) = decode_grey(&converted);
        assert_eq!((cw, ch), (w, h));
        for y in 0..h {
            for x in 0..w {
                let inside = x >= hole.0 && x < hole.2 && y >= hole.1 && y < hole.3;
                let want = if inside { 255 } else { 0 };
                assert_eq!(grey[(y * w + x) as usize], want, "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn only_fully_transparent_pixels_are_repainted() {
        // Alpha 0, 1, 128, 255 in a grey+alpha row: only the first is repainted.
        let pixels = [9, 0, 9, 1, 9, 128, 9, 255];
        let png = encode(4, 1, png::ColorType::GrayscaleAlpha, &pixels);
        let (_, _, grey) = decode_grey(&transparent_to_white(&png, u64::MAX).unwrap());
        assert_eq!(grey, [255, 0, 0, 0]);
    }

    #[test]
    fn masks_without_transparency_or_not_png_are_refused() {
        let opaque = encode(2, 2, png::ColorType::Rgb, &[0; 12]);
        assert!(matches!(
            transparent_to_white(&opaque, u64::MAX),
            Err(MaskError::NoAlpha)
        ));
        assert!(matches!(
            transparent_to_white(b"\xff\xd8\xff\xe0 a jpeg", u64::MAX),
            Err(MaskError::NotPng)
        ));
        let whole = mask_with_hole(32, 32, (0, 0, 8, 8));
        for cut in [9, 30, whole.len() / 2, whole.len() - 13] {
            assert!(
                transparent_to_white(&whole[..cut], u64::MAX).is_err(),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            transparent_to_white(&whole, 32 * 32 - 1),
            Err(MaskError::TooManyPixels { .. })
        ));
    }

    #[test]
    fn the_output_stays_within_its_bound() {
        let (w, h) = (300, 200);
        let png = mask_with_hole(w, h, (10, 10, 290, 190));
        let converted = transparent_to_white(&png, u64::MAX).unwrap();
        assert!(converted.len() as u64 <= converted_bound(w, h));
    }
}
