//! Image bytes in and out: encodes the stand-in's pictures as PNG or JPEG, and decodes
//! PNG, JPEG and WebP input images (img2img inputs and inpainting masks) to RGB.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};

use crate::paint::Rgb8Image;

/// Largest width or height `decode` accepts. A 4096x4096 RGBA image is already 64 MiB decoded;
/// anything larger would exhaust a Worker's memory before it could be resized.
pub const MAX_DECODE_SIDE: u32 = 4096;

/// JPEG quality for output pictures: artefacts are hard to see at 90 on our flat shapes.
pub const JPEG_QUALITY: u8 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Png,
    Jpeg,
}

#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("image data is empty")]
    Empty,
    #[error("unsupported image format (expected PNG, JPEG or WebP)")]
    UnsupportedFormat,
    #[error("image is {width}x{height}; at most {max}x{max} is accepted", max = MAX_DECODE_SIDE)]
    TooLarge { width: u32, height: u32 },
    #[error("image data is corrupt or truncated: {0}")]
    Corrupt(String),
}

/// Encodes `img` as PNG (8-bit RGB) or baseline JPEG (quality [`JPEG_QUALITY`]).
///
/// Encoding into memory can only fail for an image that breaks its own invariants (a zero
/// side, a buffer that does not hold `width * height * 3` bytes, or a side over 65535 for
/// JPEG). `paint` never produces one, so rather than make every caller handle an impossible
/// error, such an image encodes to an empty `Vec`.
pub fn encode(img: &Rgb8Image, format: OutputFormat) -> Vec<u8> {
    let encoded = match format {
        OutputFormat::Png => encode_png(img),
        OutputFormat::Jpeg => encode_jpeg(img),
    };
    encoded.unwrap_or_default()
}

fn encode_png(img: &Rgb8Image) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, img.width, img.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // This runs in Wasm on every request, where CPU time is what counts. Measured on 1024x1024
    // pictures in Wasm: `Fastest` (Up filter) ~5 ms / ~110 KB, `Fast` (adaptive filter) ~20 ms /
    // ~57 KB, default `Balanced` ~27 ms / ~17 KB. Size hardly matters for flat art like ours.
    encoder.set_compression(png::Compression::Fastest);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&img.pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

fn encode_jpeg(img: &Rgb8Image) -> Option<Vec<u8>> {
    let width = u16::try_from(img.width).ok()?;
    let height = u16::try_from(img.height).ok()?;
    // jpeg-encoder accepts a longer buffer; insist on the exact length like PNG does.
    if width == 0 || height == 0 || img.pixels.len() != usize::from(width) * usize::from(height) * 3
    {
        return None;
    }
    let mut out = Vec::new();
    jpeg_encoder::Encoder::new(&mut out, JPEG_QUALITY)
        .encode(&img.pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .ok()?;
    Some(out)
}

/// Decodes a PNG, JPEG or WebP image to 8-bit RGB.
///
/// Gray is expanded to RGB and 16-bit samples are reduced to 8 bits; an alpha channel is
/// dropped (not composited), so transparent pixels keep their stored colour. The format is
/// recognised from the bytes, not from any declared type. Dimensions are read from the header
/// first, so an oversized image is refused before its pixels are allocated.
pub fn decode(bytes: &[u8]) -> Result<Rgb8Image, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::Empty);
    }
    let reader = || -> Result<ImageReader<Cursor<&[u8]>>, DecodeError> {
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(corrupt)?;
        match reader.format() {
            Some(ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) => Ok(reader),
            _ => Err(DecodeError::UnsupportedFormat),
        }
    };

    let first = reader()?;
    if first.format() == Some(ImageFormat::Jpeg) && !jpeg_is_complete(bytes) {
        return Err(DecodeError::Corrupt(
            "JPEG data ends before its end-of-image marker".into(),
        ));
    }
    let (width, height) = first.into_dimensions().map_err(corrupt)?;
    if width > MAX_DECODE_SIDE || height > MAX_DECODE_SIDE {
        return Err(DecodeError::TooLarge { width, height });
    }
    if width == 0 || height == 0 {
        return Err(DecodeError::Corrupt(format!("image is {width}x{height}")));
    }

    let mut reader = reader()?;
    // Belt and braces: the decoder enforces the same bound while it works.
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DECODE_SIDE);
    limits.max_image_height = Some(MAX_DECODE_SIDE);
    reader.limits(limits);
    let rgb = reader.decode().map_err(corrupt)?.into_rgb8();
    let (width, height) = rgb.dimensions();
    Ok(Rgb8Image {
        width,
        height,
        pixels: rgb.into_raw(),
    })
}

/// The JPEG decoder behind `image` runs in lenient mode: a file cut off mid-scan (an upload
/// that broke off) decodes "successfully" with the missing part painted gray. Strict decoders
/// such as Python's PIL refuse such files by default, so we do too: the last end-of-image
/// marker (FF D9) must come after the last start-of-scan marker (FF DA). Inside entropy-coded
/// data a 0xFF is always followed by 0x00 or a restart marker, so neither pair occurs there by
/// accident; data appended after the image (e.g. multi-picture extras) ends with its own EOI.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(eoi) = bytes.windows(2).rposition(|w| w == [0xFF, 0xD9]) else {
        return false;
    };
    let has_scan = |b: &[u8]| b.windows(2).any(|w| w == [0xFF, 0xDA]);
    // Searching forwards for the first scan and only the tail for a later one stays cheap:
    // the scan header is near the start and the EOI near the end.
    has_scan(&bytes[..eoi]) && !has_scan(&bytes[eoi..])
}

fn corrupt(err: impl std::fmt::Display) -> DecodeError {
    DecodeError::Corrupt(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paint::{paint, PaintRequest};
    use image::{ExtendedColorType, ImageEncoder};

    fn picture(width: u32, height: u32) -> Rgb8Image {
        paint(&PaintRequest {
            prompt: "codec test",
            negative_prompt: None,
            width,
            height,
            num_steps: 4,
            guidance: 7.5,
            strength: 1.0,
            seed: 11,
            image: None,
            mask: None,
            references: &[],
        })
    }

    #[test]
    fn png_round_trip_is_exact() {
        let img = picture(256, 384);
        let png = encode(&img, OutputFormat::Png);
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert_eq!(decode(&png).unwrap(), img);
    }

    #[test]
    fn jpeg_decodes_with_right_size_and_similar_pixels() {
        let img = picture(320, 256);
        let jpeg = encode(&img, OutputFormat::Jpeg);
        assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]));
        let back = decode(&jpeg).unwrap();
        assert_eq!((back.width, back.height), (320, 256));
        let total: u64 = back
            .pixels
            .iter()
            .zip(&img.pixels)
            .map(|(&a, &b)| u64::from(a.abs_diff(b)))
            .sum();
        let mean = total as f64 / img.pixels.len() as f64;
        assert!(mean < 4.0, "mean abs error {mean}");
    }

    #[test]
    fn malformed_images_encode_to_nothing() {
        let zero = Rgb8Image {
            width: 0,
            height: 5,
            pixels: vec![],
        };
        let short = Rgb8Image {
            width: 4,
            height: 4,
            pixels: vec![0; 47],
        };
        let long = Rgb8Image {
            width: 4,
            height: 4,
            pixels: vec![0; 49],
        };
        for img in [&zero, &short, &long] {
            assert!(encode(img, OutputFormat::Png).is_empty());
            assert!(encode(img, OutputFormat::Jpeg).is_empty());
        }
    }

    #[test]
    fn garbage_and_truncated_bytes_are_errors() {
        assert!(matches!(decode(b""), Err(DecodeError::Empty)));
        assert!(matches!(
            decode(b"definitely not an image"),
            Err(DecodeError::UnsupportedFormat)
        ));
        // GIF is recognised by the image crate but not supported here.
        assert!(matches!(
            decode(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
            Err(DecodeError::UnsupportedFormat)
        ));
        let img = picture(256, 256);
        for (format, bytes) in [
            (OutputFormat::Png, encode(&img, OutputFormat::Png)),
            (OutputFormat::Jpeg, encode(&img, OutputFormat::Jpeg)),
        ] {
            // A PNG missing only its 12-byte IEND trailer has all its (CRC-checked) pixels and
            // decodes, as in most decoders; any cut before that must fail. So must any cut JPEG.
            let cut_limit = match format {
                OutputFormat::Png => bytes.len() - 12,
                OutputFormat::Jpeg => bytes.len(),
            };
            for len in (1..cut_limit).step_by(37).chain([cut_limit - 1]) {
                assert!(
                    decode(&bytes[..len]).is_err(),
                    "{format:?} cut to {len} decoded"
                );
            }
            // Flip bits in the body but keep the header: an error or a picture, never a panic.
            let mut mangled = bytes.clone();
            for b in mangled.iter_mut().skip(64).step_by(7) {
                *b ^= 0x5A;
            }
            let _ = decode(&mangled);
        }
    }

    #[test]
    fn jpeg_with_trailing_data_still_decodes() {
        let mut jpeg = encode(&picture(256, 256), OutputFormat::Jpeg);
        jpeg.extend_from_slice(b"trailing bytes some tools append");
        assert_eq!(decode(&jpeg).unwrap().width, 256);
    }

    /// A PNG claiming the given size, with almost no pixel data behind it: what an attacker
    /// would send to make the decoder allocate a huge buffer.
    fn png_header_only(width: u32, height: u32) -> Vec<u8> {
        let mut ihdr = width.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, no interlace
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        for (kind, data) in [
            (b"IHDR", &ihdr[..]),
            (b"IDAT", &[0x78, 0x01][..]),
            (b"IEND", &[][..]),
        ] {
            let mut chunk = kind.to_vec();
            chunk.extend_from_slice(data);
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            png.extend_from_slice(&chunk);
            png.extend_from_slice(&crc32(&chunk).to_be_bytes());
        }
        png
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn huge_images_are_refused_from_the_header() {
        for (w, h) in [(4097, 10), (10, 4097), (100_000, 100_000)] {
            match decode(&png_header_only(w, h)) {
                Err(DecodeError::TooLarge { width, height }) => assert_eq!((width, height), (w, h)),
                other => panic!("{w}x{h}: {other:?}"),
            }
        }
        // At the limit the header is accepted; this one then fails only for lack of pixel data.
        assert!(matches!(
            decode(&png_header_only(4096, 4096)),
            Err(DecodeError::Corrupt(_))
        ));
    }

    #[test]
    fn webp_lossless_decodes() {
        let img = picture(256, 256);
        let mut webp = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut webp)
            .write_image(&img.pixels, 256, 256, ExtendedColorType::Rgb8)
            .unwrap();
        assert!(webp.starts_with(b"RIFF") && &webp[8..12] == b"WEBP");
        assert_eq!(decode(&webp).unwrap(), img);
        // Stop short of the last byte: it may be the RIFF pad byte after an odd-sized chunk,
        // whose loss costs no image data and which the decoder rightly tolerates.
        for len in (1..webp.len() - 1).step_by(13).chain([webp.len() - 2]) {
            assert!(decode(&webp[..len]).is_err(), "WebP cut to {len} decoded");
        }
    }

    #[test]
    fn gray_and_rgba_become_rgb() {
        let mut gray_png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut gray_png)
            .write_image(&[0, 128, 255, 7], 2, 2, ExtendedColorType::L8)
            .unwrap();
        let gray = decode(&gray_png).unwrap();
        assert_eq!(
            gray.pixels,
            [0, 0, 0, 128, 128, 128, 255, 255, 255, 7, 7, 7]
        );

        let mut rgba_png = Vec::new();
        image::codecs::png::PngEncoder::new(&mut rgba_png)
            .write_image(&[1, 2, 3, 0, 4, 5, 6, 255], 2, 1, ExtendedColorType::Rgba8)
            .unwrap();
        let rgba = decode(&rgba_png).unwrap();
        assert_eq!((rgba.width, rgba.height), (2, 1));
        assert_eq!(rgba.pixels, [1, 2, 3, 4, 5, 6]);
    }
}
