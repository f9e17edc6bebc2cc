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

mod deflate;
mod inflate;

use thiserror::Error;

use deflate::MaskDeflater;
use inflate::inflate_zlib;

/// Why a mask cannot be converted.
#[derive(Debug, Error)]
pub enum MaskError {
    #[error(
        "must be a PNG image (OpenAI's mask format: transparent pixels mark the area to edit)"
    )]
    NotPng,
    #[error("is not a readable PNG: {0}")]
    Unreadable(&'static str),
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
    #[error("is {width}x{height}; neither side may exceed {max_side}")]
    SideTooLong {
        width: u32,
        height: u32,
        max_side: u32,
    },
    #[error("is {width}x{height}, but the image is {image_width}x{image_height}: a mask must be the image's size")]
    SizeDiffers {
        width: u32,
        height: u32,
        image_width: u32,
        image_height: u32,
    },
}

impl MaskError {
    /// Whether the mask was refused for its size (the rule a client fixes by resizing it).
    #[must_use]
    pub fn is_size(&self) -> bool {
        matches!(self, MaskError::SizeDiffers { .. })
    }
}

/// What a mask may be, checked on its header before any buffer is sized from it: a header's
/// width and height are only claims, and a row buffer sized from a claimed 16,777,216 x 1
/// RGBA16 header would ask for 134 MB from a 69-byte file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskLimits {
    /// Most pixels (`MAX_IMAGE_PIXELS`).
    pub max_pixels: u64,
    /// Longest side: bounds each row buffer to `max_side` x 8 bytes (RGBA at 16 bits).
    pub max_side: u32,
    /// The image's size, when the request has a readable image: the mask must match it.
    pub image: Option<(u32, u32)>,
}

impl MaskLimits {
    /// The limits under `max_pixels`: the longest side is that of a square of `max_pixels`
    /// (4096 for the default 16,777,216), so no row outgrows a square mask's.
    #[must_use]
    pub fn new(max_pixels: u64, image: Option<(u32, u32)>) -> MaskLimits {
        MaskLimits {
            max_pixels,
            max_side: u32::try_from(max_pixels.isqrt()).unwrap_or(u32::MAX).max(1),
            image,
        }
    }

    /// Checks a header's claimed size against the limits.
    ///
    /// # Errors
    /// The first limit the size breaks.
    pub fn check(&self, width: u32, height: u32) -> Result<(), MaskError> {
        if width > self.max_side || height > self.max_side {
            return Err(MaskError::SideTooLong {
                width,
                height,
                max_side: self.max_side,
            });
        }
        let pixels = u64::from(width) * u64::from(height);
        if pixels > self.max_pixels {
            return Err(MaskError::TooManyPixels {
                width,
                height,
                pixels,
                max: self.max_pixels,
            });
        }
        match self.image {
            Some((image_width, image_height)) if (image_width, image_height) != (width, height) => {
                Err(MaskError::SizeDiffers {
                    width,
                    height,
                    image_width,
                    image_height,
                })
            }
            _ => Ok(()),
        }
    }
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

/// Where a pixel's transparency comes from, for each PNG colour type and bit depth.
enum Alpha {
    /// An alpha channel: the byte at `offset` within each pixel of `bytes_per_pixel` (a 16-bit
    /// alpha's high byte, as 8-bit decoders see it).
    Channel {
        bytes_per_pixel: usize,
        offset: usize,
    },
    /// Greyscale or RGB with a tRNS chunk: samples equal to `key` are transparent.
    Key { depth: u8, key: Vec<u16> },
    /// Palette indices with a tRNS chunk: the alpha of each entry (entries past it are opaque).
    Palette { depth: u8, alphas: Vec<u8> },
}

impl Alpha {
    /// Whether pixel `x` of the unfiltered `row` is fully transparent.
    fn transparent(&self, row: &[u8], x: usize) -> bool {
        match self {
            Alpha::Channel {
                bytes_per_pixel,
                offset,
            } => row[x * bytes_per_pixel + offset] == 0,
            Alpha::Key { depth, key } => {
                let channels = key.len();
                (0..channels).all(|c| sample(row, x * channels + c, *depth) == key[c])
            }
            Alpha::Palette { depth, alphas } => {
                let index = usize::from(sample(row, x, *depth));
                alphas.get(index).is_some_and(|&a| a == 0)
            }
        }
    }
}

/// Sample number `i` of a row of `depth`-bit samples (packed most significant bits first).
fn sample(row: &[u8], i: usize, depth: u8) -> u16 {
    match depth {
        16 => u16::from_be_bytes([row[2 * i], row[2 * i + 1]]),
        8 => u16::from(row[i]),
        _ => {
            let bit = i * usize::from(depth);
            let shift = 8 - usize::from(depth) - bit % 8;
            u16::from(row[bit / 8] >> shift) & ((1 << depth) - 1)
        }
    }
}

/// The PNG's header and the chunks the conversion needs.
struct Parsed<'a> {
    width: u32,
    height: u32,
    depth: u8,
    color_type: u8,
    palette_entries: usize,
    transparency: Option<&'a [u8]>,
    compressed: Vec<u8>,
}

/// Reads the chunks of `png` (signature checked), checking each one's CRC.
fn parse<'a>(png: &'a [u8], limits: &MaskLimits) -> Result<Parsed<'a>, MaskError> {
    let mut rest = &png[PNG_SIGNATURE.len()..];
    let mut parsed: Option<Parsed<'_>> = None;
    let mut seen_idat = false;
    loop {
        if rest.len() < 12 {
            return Err(MaskError::Unreadable("it ends before its IEND chunk"));
        }
        let len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len > rest.len() - 12 {
            return Err(MaskError::Unreadable(
                "a chunk runs past the end of the file",
            ));
        }
        let (kind, data) = (&rest[4..8], &rest[8..8 + len]);
        let stored_crc =
            u32::from_be_bytes([rest[8 + len], rest[9 + len], rest[10 + len], rest[11 + len]]);
        if crate::crc32::hash(&rest[4..8 + len]) != stored_crc {
            return Err(MaskError::Unreadable("a chunk fails its CRC check"));
        }
        rest = &rest[12 + len..];
        let Some(p) = parsed.as_mut() else {
            if kind != b"IHDR" {
                return Err(MaskError::Unreadable(
                    "it does not start with an IHDR chunk",
                ));
            }
            parsed = Some(header(data, limits)?);
            continue;
        };
        match kind {
            b"IHDR" => return Err(MaskError::Unreadable("it has two IHDR chunks")),
            b"PLTE" if !seen_idat && p.palette_entries == 0 => {
                if len == 0 || !len.is_multiple_of(3) || len / 3 > 256 {
                    return Err(MaskError::Unreadable(
                        "its PLTE chunk has an invalid length",
                    ));
                }
                p.palette_entries = len / 3;
            }
            b"tRNS" if !seen_idat && p.transparency.is_none() => p.transparency = Some(data),
            b"IDAT" => {
                p.compressed.extend_from_slice(data);
                seen_idat = true;
            }
            b"IEND" => break,
            // Critical chunks (upper-case first letter) the decoder does not know cannot be
            // skipped; ancillary ones can.
            _ if kind[0].is_ascii_uppercase() && kind != b"PLTE" => {
                return Err(MaskError::Unreadable("it has an unknown critical chunk"))
            }
            _ if kind == b"PLTE" || kind == b"tRNS" => {
                return Err(MaskError::Unreadable("a PLTE or tRNS chunk is misplaced"))
            }
            _ => {}
        }
    }
    let parsed = parsed.ok_or(MaskError::Unreadable("it has no IHDR chunk"))?;
    if !seen_idat {
        return Err(MaskError::Unreadable("it has no image data"));
    }
    Ok(parsed)
}

/// Reads and checks the IHDR chunk's fields.
fn header(data: &[u8], limits: &MaskLimits) -> Result<Parsed<'static>, MaskError> {
    let &[w0, w1, w2, w3, h0, h1, h2, h3, depth, color_type, compression, filter, interlace] = data
    else {
        return Err(MaskError::Unreadable("its IHDR chunk has the wrong length"));
    };
    let width = u32::from_be_bytes([w0, w1, w2, w3]);
    let height = u32::from_be_bytes([h0, h1, h2, h3]);
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(MaskError::Unreadable("its width or height is invalid"));
    }
    let depth_allowed = match color_type {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !depth_allowed || compression != 0 || filter != 0 || interlace > 1 {
        return Err(MaskError::Unreadable(
            "its IHDR chunk has an invalid colour type, bit depth or method",
        ));
    }
    limits.check(width, height)?;
    if interlace == 1 {
        return Err(MaskError::Interlaced);
    }
    Ok(Parsed {
        width,
        height,
        depth,
        color_type,
        palette_entries: 0,
        transparency: None,
        compressed: Vec::new(),
    })
}

/// Where the transparency of `parsed`'s pixels comes from; [`MaskError::NoAlpha`] if nowhere.
fn alpha_of(parsed: &Parsed<'_>) -> Result<Alpha, MaskError> {
    let depth = parsed.depth;
    let bytes = usize::from(depth / 8);
    let key = |channels: usize, trns: &[u8]| {
        if trns.len() != 2 * channels {
            return Err(MaskError::Unreadable("its tRNS chunk has the wrong length"));
        }
        let key: Vec<u16> = trns
            .chunks_exact(2)
            .map(|s| u16::from_be_bytes([s[0], s[1]]))
            .collect();
        // A key no sample can equal is refused, not read as "nothing transparent": decoders
        // disagree on it (the `png` crate keeps its low byte), so the area to edit would depend
        // on the reader (found by fuzzing).
        if depth < 16 && key.iter().any(|&k| k >= 1 << depth) {
            return Err(MaskError::Unreadable(
                "its tRNS key is out of range for its bit depth",
            ));
        }
        Ok(Alpha::Key { depth, key })
    };
    match (parsed.color_type, parsed.transparency) {
        (6, None) => Ok(Alpha::Channel {
            bytes_per_pixel: 4 * bytes,
            offset: 3 * bytes,
        }),
        (4, None) => Ok(Alpha::Channel {
            bytes_per_pixel: 2 * bytes,
            offset: bytes,
        }),
        (4 | 6, Some(_)) => Err(MaskError::Unreadable(
            "it has a tRNS chunk and an alpha channel",
        )),
        (0, Some(trns)) => key(1, trns),
        (2, Some(trns)) => key(3, trns),
        (3, _) if parsed.palette_entries == 0 => Err(MaskError::Unreadable(
            "it has a palette colour type but no PLTE chunk",
        )),
        (3, Some(trns)) if trns.len() > parsed.palette_entries => Err(MaskError::Unreadable(
            "its tRNS chunk is longer than its palette",
        )),
        (3, Some(trns)) => Ok(Alpha::Palette {
            depth,
            alphas: trns.to_vec(),
        }),
        _ => Err(MaskError::NoAlpha),
    }
}

/// Converts an OpenAI mask (alpha 0 = repaint) into a greyscale PNG of the same size where
/// white = repaint and black = keep.
///
/// # Errors
/// [`MaskError`] when `png` is not a whole, non-interlaced PNG with transparency within
/// `limits` (checked on its header, before anything is sized from it).
pub fn transparent_to_white(png: &[u8], limits: &MaskLimits) -> Result<Vec<u8>, MaskError> {
    if !png.starts_with(PNG_SIGNATURE) {
        return Err(MaskError::NotPng);
    }
    let parsed = parse(png, limits)?;
    let alpha = alpha_of(&parsed)?;
    let (width, height) = (parsed.width as usize, parsed.height as usize);
    let channels = match parsed.color_type {
        2 => 3,
        4 => 2,
        6 => 4,
        _ => 1,
    };
    let bits_per_pixel = channels * usize::from(parsed.depth);
    let stride = (width * bits_per_pixel).div_ceil(8);
    // Filters work on whole bytes: the byte "to the left" is one pixel back, at least one byte.
    let filter_step = bits_per_pixel.div_ceil(8);

    // The output grows with the rows the image data actually holds, not with the header's claim.
    let mut deflater = MaskDeflater::new(stride.min(64 * 1024));
    let mut row = vec![0u8; stride + 1];
    let mut previous = vec![0u8; stride];
    let mut grey = vec![0u8; width + 1];
    let (mut filled, mut rows) = (0usize, 0usize);
    let mut take = |mut bytes: &[u8]| -> Result<(), &'static str> {
        while !bytes.is_empty() {
            if rows == height {
                return Err("it has more image data than its size");
            }
            let n = (row.len() - filled).min(bytes.len());
            row[filled..filled + n].copy_from_slice(&bytes[..n]);
            (filled, bytes) = (filled + n, &bytes[n..]);
            if filled < row.len() {
                return Ok(());
            }
            unfilter(row[0], &mut row[1..], &previous, filter_step)?;
            // grey[0] stays 0: the output row's filter type, none.
            for (x, g) in grey[1..].iter_mut().enumerate() {
                *g = if alpha.transparent(&row[1..], x) {
                    255
                } else {
                    0
                };
            }
            deflater.write(&grey);
            previous.copy_from_slice(&row[1..]);
            (filled, rows) = (0, rows + 1);
        }
        Ok(())
    };
    inflate_zlib(&parsed.compressed, &mut take).map_err(MaskError::Unreadable)?;
    if rows != height || filled != 0 {
        return Err(MaskError::Unreadable(
            "its image data ends before its last row",
        ));
    }

    let deflated = deflater.finish();
    let mut out = Vec::with_capacity(deflated.len() + 64);
    out.extend_from_slice(PNG_SIGNATURE);
    let mut ihdr = [0u8; 13];
    ihdr[..4].copy_from_slice(&parsed.width.to_be_bytes());
    ihdr[4..8].copy_from_slice(&parsed.height.to_be_bytes());
    ihdr[8] = 8; // bit depth; colour type 0 (greyscale), default methods, no interlacing
    write_chunk(&mut out, b"IHDR", &ihdr);
    write_chunk(&mut out, b"IDAT", &deflated);
    write_chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Undoes PNG filter `filter` (RFC 2083 section 6) on `row`, given the unfiltered row above.
fn unfilter(filter: u8, row: &mut [u8], above: &[u8], step: usize) -> Result<(), &'static str> {
    match filter {
        0 => {}
        1 => {
            for i in step..row.len() {
                row[i] = row[i].wrapping_add(row[i - step]);
            }
        }
        2 => {
            for (r, a) in row.iter_mut().zip(above) {
                *r = r.wrapping_add(*a);
            }
        }
        3 => {
            for i in 0..row.len() {
                let left = if i >= step { row[i - step] } else { 0 };
                let average = (u16::from(left) + u16::from(above[i])) / 2;
                row[i] = row[i].wrapping_add(average as u8);
            }
        }
        4 => {
            for i in 0..row.len() {
                let (left, upper_left) = if i >= step {
                    (row[i - step], above[i - step])
                } else {
                    (0, 0)
                };
                row[i] = row[i].wrapping_add(paeth(left, above[i], upper_left));
            }
        }
        _ => return Err("a row has an unknown filter type"),
    }
    Ok(())
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crate::crc32::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An RGBA PNG at 16 bits whose header claims `width` x `height`, with a few bytes of image data
/// that could never fill it (valid CRCs, so only the size can refuse it).
#[cfg(test)]
pub(crate) fn claimed_png(width: u32, height: u32) -> Vec<u8> {
    let mut png = PNG_SIGNATURE.to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[16, 6, 0, 0, 0]);
    write_chunk(&mut png, b"IHDR", &ihdr);
    write_chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x01, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    write_chunk(&mut png, b"IEND", &[]);
    png
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: MaskLimits = MaskLimits {
        max_pixels: u64::MAX,
        max_side: u32::MAX,
        image: None,
    };

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
        let converted = transparent_to_white(&mask_with_hole(w, h, hole), &ANY).unwrap();
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
        let (_, _, grey) = decode_grey(&transparent_to_white(&png, &ANY).unwrap());
        assert_eq!(grey, [255, 0, 0, 0]);
    }

    #[test]
    fn masks_without_transparency_or_not_png_are_refused() {
        let opaque = encode(2, 2, png::ColorType::Rgb, &[0; 12]);
        assert!(matches!(
            transparent_to_white(&opaque, &ANY),
            Err(MaskError::NoAlpha)
        ));
        assert!(matches!(
            transparent_to_white(b"\xff\xd8\xff\xe0 a jpeg", &ANY),
            Err(MaskError::NotPng)
        ));
        let whole = mask_with_hole(32, 32, (0, 0, 8, 8));
        for cut in [9, 30, whole.len() / 2, whole.len() - 13] {
            assert!(
                transparent_to_white(&whole[..cut], &ANY).is_err(),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            transparent_to_white(
                &whole,
                &MaskLimits {
                    max_pixels: 32 * 32 - 1,
                    ..ANY
                }
            ),
            Err(MaskError::TooManyPixels { .. })
        ));
    }

    #[test]
    fn a_transparency_key_out_of_range_for_the_depth_is_refused() {
        // A 2-bit greyscale mask whose tRNS key is 0x5d02: no 2-bit sample can equal it.
        let mut encoder_out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut encoder_out, 4, 1);
            encoder.set_color(png::ColorType::Grayscale);
            encoder.set_depth(png::BitDepth::Two);
            encoder.set_trns(vec![0x5d, 0x02]);
            let mut writer = encoder.write_header().unwrap();
            writer.write_image_data(&[0b0001_1011]).unwrap();
        }
        assert!(matches!(
            transparent_to_white(&encoder_out, &ANY),
            Err(MaskError::Unreadable(reason)) if reason.contains("tRNS key")
        ));
    }

    #[test]
    fn a_claimed_size_is_refused_before_anything_is_sized_from_it() {
        let limits = MaskLimits::new(16_777_216, None);
        assert_eq!(limits.max_side, 4096);
        let long = claimed_png(16_777_216, 1);
        assert!(long.len() < 80);
        assert!(matches!(
            transparent_to_white(&long, &limits),
            Err(MaskError::SideTooLong { max_side: 4096, .. })
        ));
        assert!(matches!(
            transparent_to_white(&claimed_png(1, 16_777_216), &limits),
            Err(MaskError::SideTooLong { .. })
        ));
        // Within the sides, a mask must be the image's size.
        let of_image = MaskLimits::new(16_777_216, Some((64, 64)));
        let wrong = transparent_to_white(&claimed_png(64, 65), &of_image).unwrap_err();
        assert!(wrong.is_size(), "{wrong}");
        // The right size gets as far as its (too short) image data.
        assert!(matches!(
            transparent_to_white(&claimed_png(64, 64), &of_image),
            Err(MaskError::Unreadable(_))
        ));
    }

    #[test]
    fn the_output_stays_within_its_bound() {
        let (w, h) = (300, 200);
        let png = mask_with_hole(w, h, (10, 10, 290, 190));
        let converted = transparent_to_white(&png, &ANY).unwrap();
        assert!(converted.len() as u64 <= converted_bound(w, h));
    }

    /// Which pixels the `png` crate (an independent decoder) sees as fully transparent.
    fn oracle(png: &[u8]) -> Option<Vec<bool>> {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
        decoder.set_transformations(png::Transformations::normalize_to_color8());
        let mut reader = decoder.read_info().ok()?;
        let mut buf = vec![0; reader.output_buffer_size()?];
        let info = reader.next_frame(&mut buf).ok()?;
        let channels = match info.color_type {
            png::ColorType::GrayscaleAlpha => 2,
            png::ColorType::Rgba => 4,
            _ => return None,
        };
        let pixels = buf[..info.buffer_size()].chunks_exact(channels);
        Some(pixels.map(|p| p[channels - 1] == 0).collect())
    }

    /// A pseudo-random byte stream (xorshift), so the cases are fixed but varied.
    fn noise(seed: u32, len: usize) -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn encode_with(
        width: u32,
        height: u32,
        color: png::ColorType,
        depth: png::BitDepth,
        palette: Option<Vec<u8>>,
        trns: Option<Vec<u8>>,
        filter: png::Filter,
        compression: png::Compression,
        data: &[u8],
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(color);
        encoder.set_depth(depth);
        encoder.set_filter(filter);
        encoder.set_compression(compression);
        if let Some(palette) = palette {
            encoder.set_palette(palette);
        }
        if let Some(trns) = trns {
            encoder.set_trns(trns);
        }
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn every_colour_type_depth_filter_and_compression_agrees_with_the_png_crate() {
        use png::{BitDepth as D, ColorType as C};
        // (colour type, depth, samples per pixel, palette, tRNS)
        type Case = (C, D, usize, Option<Vec<u8>>, Option<Vec<u8>>);
        let palette = Some(noise(7, 16 * 3));
        let cases: Vec<Case> = vec![
            (C::Rgba, D::Eight, 4, None, None),
            (C::Rgba, D::Sixteen, 4, None, None),
            (C::GrayscaleAlpha, D::Eight, 2, None, None),
            (C::GrayscaleAlpha, D::Sixteen, 2, None, None),
            (C::Grayscale, D::One, 1, None, Some(vec![0, 1])),
            (C::Grayscale, D::Two, 1, None, Some(vec![0, 2])),
            (C::Grayscale, D::Four, 1, None, Some(vec![0, 9])),
            (C::Grayscale, D::Eight, 1, None, Some(vec![0, 0])),
            (C::Grayscale, D::Sixteen, 1, None, Some(vec![0, 0])),
            (C::Rgb, D::Eight, 3, None, Some(vec![0, 0, 0, 0, 0, 0])),
            (C::Rgb, D::Sixteen, 3, None, Some(vec![0, 0, 0, 0, 0, 0])),
            (C::Indexed, D::One, 1, palette.clone(), Some(vec![255, 0])),
            (
                C::Indexed,
                D::Two,
                1,
                palette.clone(),
                Some(vec![0, 255, 0]),
            ),
            (
                C::Indexed,
                D::Four,
                1,
                palette.clone(),
                Some(vec![9, 0, 0, 255, 0]),
            ),
            (C::Indexed, D::Eight, 1, palette.clone(), Some(vec![0, 3])),
        ];
        let filters = [
            png::Filter::NoFilter,
            png::Filter::Sub,
            png::Filter::Up,
            png::Filter::Avg,
            png::Filter::Paeth,
            png::Filter::Adaptive,
        ];
        let compressions = [
            png::Compression::NoCompression,
            png::Compression::Fastest,
            png::Compression::Fast,
            png::Compression::Balanced,
            png::Compression::High,
        ];
        let (width, height) = (37u32, 23u32);
        for (n, (color, depth, samples, palette, trns)) in cases.into_iter().enumerate() {
            let bits = samples * depth as usize;
            let stride = (width as usize * bits).div_ceil(8);
            // Half noise, half flat with sparse zeros, so both keys and runs occur.
            let mut data = noise(n as u32 + 1, stride * height as usize);
            for (i, b) in data.iter_mut().enumerate().skip(stride * 11) {
                *b = if i % 7 == 0 { 0 } else { *b & 0x0f };
            }
            if palette.is_some() {
                // Palette indices must exist: keep them below 16.
                let mask = match depth {
                    D::Eight => 0x0f,
                    _ => 0xff,
                };
                data.iter_mut().for_each(|b| *b &= mask);
            }
            for (filter, compression) in filters.iter().zip(compressions.iter().cycle()) {
                let png = encode_with(
                    width,
                    height,
                    color,
                    depth,
                    palette.clone(),
                    trns.clone(),
                    *filter,
                    *compression,
                    &data,
                );
                let want = oracle(&png).expect("the png crate reads it");
                let converted = transparent_to_white(&png, &ANY)
                    .unwrap_or_else(|e| panic!("{color:?} {depth:?} {filter:?}: {e}"));
                let (cw, ch, grey) = decode_grey(&converted);
                assert_eq!((cw, ch), (width, height));
                let got: Vec<bool> = grey.iter().map(|&g| g == 255).collect();
                assert_eq!(got, want, "{color:?} {depth:?} {filter:?} {compression:?}");
                assert!(grey.iter().all(|&g| g == 0 || g == 255));
            }
        }
    }

    #[test]
    fn noisy_masks_fall_back_to_stored_blocks_within_the_bound() {
        for (w, h) in [(1, 1), (1, 5000), (255, 255), (700, 300)] {
            let mut pixels = noise(w * h, (w * h * 4) as usize);
            // Alpha alternates 0 and not 0: the worst case for 9-bit literal 255s.
            for (i, p) in pixels.chunks_exact_mut(4).enumerate() {
                p[3] = if i % 2 == 0 { 0 } else { 1 };
            }
            let png = encode(w, h, png::ColorType::Rgba, &pixels);
            let converted = transparent_to_white(&png, &ANY).unwrap();
            assert!(converted.len() as u64 <= converted_bound(w, h), "{w}x{h}");
            let (_, _, grey) = decode_grey(&converted);
            let want: Vec<u8> = (0..w * h)
                .map(|i| if i % 2 == 0 { 255 } else { 0 })
                .collect();
            assert_eq!(grey, want, "{w}x{h}");
        }
    }

    #[test]
    fn runs_of_every_length_round_trip() {
        // One row holding runs of 1..=600 transparent then opaque pixels: every match length.
        let mut pixels = Vec::new();
        let mut want = Vec::new();
        for run in 1..=600u32 {
            pixels.extend(std::iter::repeat_n([0u8; 4], run as usize).flatten());
            want.extend(std::iter::repeat_n(255, run as usize));
            pixels.extend_from_slice(&[0, 0, 0, 255]);
            want.push(0);
        }
        let w = want.len() as u32;
        let png = encode(w, 1, png::ColorType::Rgba, &pixels);
        let converted = transparent_to_white(&png, &ANY).unwrap();
        assert!(converted.len() < want.len() / 10, "runs compress");
        let (_, _, grey) = decode_grey(&converted);
        assert_eq!(grey, want);
        // Our own decoder reads our own output too (and checks its Adler-32, which png skips).
        assert!(oracle(&converted).is_none(), "no alpha in the output");
        let mut decoded = Vec::new();
        let idat = &converted[PNG_SIGNATURE.len() + 25 + 8..converted.len() - 12 - 4];
        inflate::inflate_zlib(idat, &mut |b: &[u8]| {
            decoded.extend_from_slice(b);
            Ok(())
        })
        .unwrap();
        assert_eq!(decoded.len(), want.len() + 1);
    }

    #[test]
    fn corrupt_masks_are_refused_never_panic() {
        let whole = mask_with_hole(40, 30, (5, 5, 20, 20));
        // A flipped bit anywhere after the signature: a CRC, zlib or structure error.
        for i in PNG_SIGNATURE.len()..whole.len() {
            let mut bad = whole.clone();
            bad[i] ^= 0x10;
            assert!(transparent_to_white(&bad, &ANY).is_err(), "byte {i}");
        }
        // Raw deflate garbage with valid chunk framing and CRCs must not panic either.
        for seed in 1..200 {
            let mut png = PNG_SIGNATURE.to_vec();
            let mut ihdr = [0u8; 13];
            ihdr[..4].copy_from_slice(&7u32.to_be_bytes());
            ihdr[4..8].copy_from_slice(&5u32.to_be_bytes());
            ihdr[8..10].copy_from_slice(&[8, 6]);
            write_chunk(&mut png, b"IHDR", &ihdr);
            let mut idat = vec![0x78, 0x01];
            idat.extend(noise(seed, 64));
            write_chunk(&mut png, b"IDAT", &idat);
            write_chunk(&mut png, b"IEND", &[]);
            let _ = transparent_to_white(&png, &ANY);
        }
        let interlaced = {
            let mut png = whole.clone();
            png[PNG_SIGNATURE.len() + 8 + 12] = 1;
            let end = PNG_SIGNATURE.len() + 8 + 13;
            let crc = crate::crc32::hash(&png[PNG_SIGNATURE.len() + 4..end]);
            png[end..end + 4].copy_from_slice(&crc.to_be_bytes());
            png
        };
        assert!(matches!(
            transparent_to_white(&interlaced, &ANY),
            Err(MaskError::Interlaced)
        ));
    }
}
