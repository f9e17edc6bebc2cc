//! OpenAI's edit mask turned into the image models' mask.
//!
//! OpenAI marks the area to edit by **transparency**: a PNG the size of the image whose fully
//! transparent pixels (alpha 0) are repainted. Workers AI's inpainting models take a greyscale
//! image where **white** is repainted and black kept. So every pixel with alpha 0 becomes white
//! (255) and every other pixel black (0), whatever its colour: the colour of an OpenAI mask
//! means nothing.
//!
//! The conversion streams one row at a time, so it holds the PNG it reads, the PNG it writes and
//! two rows, never a decoded image (a 4096x4096 RGBA mask would be 64 MiB). It holds no zlib
//! codec either: [`MaskReader`] is a state machine fed by one, and everything that decides is
//! here (the chunks and their CRCs, the header against the limits, unfiltering, transparency,
//! how much image data a header allows, the PNG written). The Worker drives it with the
//! runtime's `DecompressionStream` / `CompressionStream` (`src/openai/mask.rs`), so no inflater
//! or deflater is in its Wasm; the native tests and the fuzz harness drive it with [`convert`]
//! and an in-process [`ZlibStream`].

use thiserror::Error;

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

/// The most bytes a converted `width` x `height` mask takes: one grey byte per pixel and one
/// filter byte per row, as zlib's own bound for its default settings (`deflateBound`: 5 bytes
/// per 16 KiB stored block and a little more, which the runtime's `CompressionStream` uses)
/// allows for them, plus the PNG's chunks. Black and white rows compress far below it.
#[must_use]
pub fn converted_bound(width: u32, height: u32) -> u64 {
    let raw = (u64::from(width) + 1) * u64::from(height);
    raw + raw / 4096 + raw / 16_384 + raw / 33_554_432 + 4096
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
    /// The chunks from the first IDAT to IEND, whole: their IDAT data is the zlib stream.
    image_chunks: &'a [u8],
}

/// Reads the chunks of `png` (signature checked), checking each one's CRC.
fn parse<'a>(png: &'a [u8], limits: &MaskLimits) -> Result<Parsed<'a>, MaskError> {
    let mut rest = &png[PNG_SIGNATURE.len()..];
    let mut parsed: Option<Parsed<'_>> = None;
    let mut first_idat: Option<usize> = None;
    loop {
        if rest.len() < 12 {
            return Err(MaskError::Unreadable("it ends before its IEND chunk"));
        }
        let at = png.len() - rest.len();
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
            b"PLTE" if first_idat.is_none() && p.palette_entries == 0 => {
                if len == 0 || !len.is_multiple_of(3) || len / 3 > 256 {
                    return Err(MaskError::Unreadable(
                        "its PLTE chunk has an invalid length",
                    ));
                }
                p.palette_entries = len / 3;
            }
            b"tRNS" if first_idat.is_none() && p.transparency.is_none() => {
                p.transparency = Some(data);
            }
            b"IDAT" => {
                first_idat.get_or_insert(at);
            }
            b"IEND" => {
                let end = png.len() - rest.len();
                if let Some(first) = first_idat {
                    p.image_chunks = &png[first..end];
                }
                break;
            }
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
    if first_idat.is_none() {
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
        image_chunks: &[],
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

/// An OpenAI mask being converted, a row at a time: its chunks and their CRCs checked, its header
/// within [`MaskLimits`] (checked before anything is sized from it), its transparency found.
///
/// It does not inflate: whoever drives it feeds [`MaskReader::compressed`] (a zlib stream) to a
/// zlib decompressor and each piece the decompressor makes to [`MaskReader::push_inflated`],
/// which unfilters the rows as they complete and hands on their converted rows for a zlib
/// compressor, whose output goes to the [`MaskWriter`] of [`MaskReader::writer`]. The Worker runs
/// the runtime's streams (`src/openai/mask.rs`); [`convert`] runs a [`ZlibStream`] in-process.
/// Held at once: the PNG read, two rows, the rows converted from one inflated piece, and the PNG
/// written, never a decoded image.
pub struct MaskReader<'a> {
    width: u32,
    height: u32,
    alpha: Alpha,
    image_chunks: &'a [u8],
    /// Filters work on whole bytes: the byte "to the left" is one pixel back, at least one byte.
    filter_step: usize,
    /// The row being filled: its filter type, then its bytes.
    row: Vec<u8>,
    /// The unfiltered row above (zeros above the first).
    previous: Vec<u8>,
    filled: usize,
    rows: u32,
}

impl<'a> MaskReader<'a> {
    /// Reads `png`'s chunks and header: everything that decides before its image data is
    /// inflated.
    ///
    /// # Errors
    /// [`MaskError`] when `png` is not a whole, non-interlaced PNG with transparency within
    /// `limits`.
    pub fn new(png: &'a [u8], limits: &MaskLimits) -> Result<MaskReader<'a>, MaskError> {
        if !png.starts_with(PNG_SIGNATURE) {
            return Err(MaskError::NotPng);
        }
        let parsed = parse(png, limits)?;
        let alpha = alpha_of(&parsed)?;
        let channels = match parsed.color_type {
            2 => 3,
            4 => 2,
            6 => 4,
            _ => 1,
        };
        let bits_per_pixel = channels * usize::from(parsed.depth);
        // Within the limits, so at most `max_side` x 8 bytes.
        let stride = (parsed.width as usize * bits_per_pixel).div_ceil(8);
        Ok(MaskReader {
            width: parsed.width,
            height: parsed.height,
            alpha,
            image_chunks: parsed.image_chunks,
            filter_step: bits_per_pixel.div_ceil(8),
            row: vec![0; stride + 1],
            previous: vec![0; stride],
            filled: 0,
            rows: 0,
        })
    }

    /// The mask's width and height (its header's, within the limits).
    #[must_use]
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// Exactly how many bytes the image data must inflate to: a filter byte and the row's bytes,
    /// for every row.
    #[must_use]
    pub fn inflated_len(&self) -> u64 {
        self.row.len() as u64 * u64::from(self.height)
    }

    /// The IDAT chunks' data, in order: together, the zlib stream to inflate.
    #[must_use]
    pub fn compressed(&self) -> Compressed<'a> {
        Compressed {
            rest: self.image_chunks,
        }
    }

    /// The writer of the converted mask: an 8-bit greyscale PNG of the same size.
    #[must_use]
    pub fn writer(&self) -> MaskWriter {
        MaskWriter::new(self.width, self.height)
    }

    /// Takes the next bytes the zlib stream inflated to: each row they complete is unfiltered,
    /// and its converted row (filter type none, then 255 for each fully transparent pixel and 0
    /// for the others) appended to `rows`, for the compressor.
    ///
    /// # Errors
    /// [`MaskError::Unreadable`] as soon as the bytes run past the header's last row (a
    /// decompression bomb stops here, whatever it would go on to inflate to), or a row has an
    /// unknown filter type.
    pub fn push_inflated(&mut self, mut bytes: &[u8], rows: &mut Vec<u8>) -> Result<(), MaskError> {
        while !bytes.is_empty() {
            if self.rows == self.height {
                return Err(MaskError::Unreadable(
                    "it has more image data than its size",
                ));
            }
            let n = (self.row.len() - self.filled).min(bytes.len());
            self.row[self.filled..self.filled + n].copy_from_slice(&bytes[..n]);
            (self.filled, bytes) = (self.filled + n, &bytes[n..]);
            if self.filled < self.row.len() {
                return Ok(());
            }
            let (&mut filter, row) = self
                .row
                .split_first_mut()
                .ok_or(MaskError::Unreadable("a row is empty"))?;
            unfilter(filter, row, &self.previous, self.filter_step)
                .map_err(MaskError::Unreadable)?;
            rows.reserve(self.width as usize + 1);
            rows.push(0);
            rows.extend((0..self.width as usize).map(|x| {
                if self.alpha.transparent(row, x) {
                    255
                } else {
                    0
                }
            }));
            self.previous.copy_from_slice(row);
            (self.filled, self.rows) = (0, self.rows + 1);
        }
        Ok(())
    }

    /// What is wrong with the image data when the zlib decompressor refuses it: the stream is
    /// corrupt, fails its Adler-32 check, ends early or has bytes after its end (the runtime's
    /// decompressor says no more than that).
    #[must_use]
    pub fn stream_refused(&self) -> MaskError {
        if self.rows < self.height {
            MaskError::Unreadable("its image data is not a valid zlib stream")
        } else {
            MaskError::Unreadable(
                "its image data does not end as a zlib stream must (its Adler-32 check, or bytes after its end)",
            )
        }
    }

    /// The end of the inflated data: every row must have arrived.
    ///
    /// # Errors
    /// [`MaskError::Unreadable`] when the image data ended before its last row.
    pub fn finish(self) -> Result<(), MaskError> {
        if self.rows == self.height && self.filled == 0 {
            Ok(())
        } else {
            Err(MaskError::Unreadable(
                "its image data ends before its last row",
            ))
        }
    }
}

/// The IDAT chunks' data of a mask (its chunks checked by [`MaskReader::new`]), in order.
#[derive(Clone)]
pub struct Compressed<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Compressed<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.rest.len() >= 12 {
            let len = u32::from_be_bytes([self.rest[0], self.rest[1], self.rest[2], self.rest[3]])
                as usize;
            let kind = &self.rest[4..8];
            let data = self.rest.get(8..8 + len)?;
            self.rest = self.rest.get(12 + len..).unwrap_or_default();
            match kind {
                b"IEND" => self.rest = &[],
                b"IDAT" if !data.is_empty() => return Some(data),
                _ => {}
            }
        }
        None
    }
}

/// The compressed rows outgrew [`converted_bound`]: never for a zlib compressor, whose own bound
/// is within it; refused rather than held beyond what the memory budget was asked for.
#[derive(Debug, Error)]
#[error("the compressed mask outgrew its bound of {bound} bytes")]
pub struct OutgrewBound {
    pub bound: u64,
}

/// The converted mask's PNG: signature, IHDR (8-bit greyscale, no interlacing), one IDAT of the
/// compressed rows as they come, IEND.
pub struct MaskWriter {
    png: Vec<u8>,
    bound: usize,
}

/// Where the IDAT chunk's length goes: after the signature and the 25 bytes of IHDR.
const IDAT_AT: usize = 8 + 25;

impl MaskWriter {
    fn new(width: u32, height: u32) -> MaskWriter {
        let bound = usize::try_from(converted_bound(width, height)).unwrap_or(usize::MAX);
        // Grown as the compressed rows come, not sized for the bound: a flat mask compresses
        // about a thousand times.
        let mut png = Vec::with_capacity(4096.min(bound));
        png.extend_from_slice(PNG_SIGNATURE);
        let mut ihdr = [0u8; 13];
        ihdr[..4].copy_from_slice(&width.to_be_bytes());
        ihdr[4..8].copy_from_slice(&height.to_be_bytes());
        ihdr[8] = 8; // bit depth; colour type 0 (greyscale), default methods, no interlacing
        write_chunk(&mut png, b"IHDR", &ihdr);
        png.extend_from_slice(&[0; 4]); // the IDAT length, written by `finish`
        png.extend_from_slice(b"IDAT");
        MaskWriter { png, bound }
    }

    /// Appends the next bytes the compressor made of the converted rows.
    ///
    /// # Errors
    /// [`OutgrewBound`] when the PNG would pass [`converted_bound`] (its IDAT CRC and IEND
    /// counted).
    pub fn push_compressed(&mut self, bytes: &[u8]) -> Result<(), OutgrewBound> {
        self.append(bytes.len())?.copy_from_slice(bytes);
        Ok(())
    }

    /// The next `len` bytes of compressed rows, zeroed, for the caller to fill (from JS memory,
    /// say, with no copy between).
    ///
    /// # Errors
    /// As [`MaskWriter::push_compressed`].
    pub fn append(&mut self, len: usize) -> Result<&mut [u8], OutgrewBound> {
        let at = self.png.len();
        let needed = at.saturating_add(len);
        if needed.saturating_add(16) > self.bound {
            return Err(OutgrewBound {
                bound: self.bound as u64,
            });
        }
        if needed > self.png.capacity() {
            // Doubling, but never past the bound the budget holds.
            let wanted = needed.max(2 * self.png.capacity()).min(self.bound);
            self.png.reserve_exact(wanted - at);
        }
        self.png.resize(needed, 0);
        Ok(&mut self.png[at..])
    }

    /// The finished PNG.
    #[must_use]
    pub fn finish(mut self) -> Vec<u8> {
        let len = u32::try_from(self.png.len() - IDAT_AT - 8).unwrap_or(u32::MAX);
        self.png[IDAT_AT..IDAT_AT + 4].copy_from_slice(&len.to_be_bytes());
        let crc = crate::crc32::hash(&self.png[IDAT_AT + 4..]);
        self.png.extend_from_slice(&crc.to_be_bytes());
        write_chunk(&mut self.png, b"IEND", &[]);
        self.png
    }
}

/// Why a [`ZlibStream`] stopped.
#[derive(Debug)]
pub enum Halt<E> {
    /// The codec refused its input: for a decompressor, a corrupt stream, a wrong Adler-32, bytes
    /// after its end, or (on closing) an end never reached.
    Refused,
    /// Whoever took the output refused it.
    Sink(E),
}

/// A zlib codec run in-process, as [`convert`] drives it: what the native tests and the fuzz
/// harness run in place of the runtime's `DecompressionStream("deflate")` /
/// `CompressionStream("deflate")`, which the Worker drives asynchronously.
pub trait ZlibStream {
    /// Takes `input`, handing what it becomes to `out` as it is made; stops at `out`'s refusal.
    ///
    /// # Errors
    /// [`Halt`].
    fn write<E>(
        &mut self,
        input: &[u8],
        out: &mut dyn FnMut(&[u8]) -> Result<(), E>,
    ) -> Result<(), Halt<E>>;

    /// Ends the input, handing what is left to `out`.
    ///
    /// # Errors
    /// [`Halt`].
    fn close<E>(&mut self, out: &mut dyn FnMut(&[u8]) -> Result<(), E>) -> Result<(), Halt<E>>;
}

/// Why a conversion stopped: the client's mask refused, or the compressor failed (the gateway's
/// fault, answered as such).
#[derive(Debug, Error)]
pub enum ConversionError {
    #[error(transparent)]
    Mask(#[from] MaskError),
    #[error("the zlib compressor failed")]
    Compressor,
    #[error(transparent)]
    Outgrew(#[from] OutgrewBound),
}

/// Converts the mask `reader` reads with in-process zlib codecs: the order and the checks of the
/// Worker's asynchronous conversion (`src/openai/mask.rs`), run synchronously.
///
/// # Errors
/// [`ConversionError`].
pub fn convert(
    mut reader: MaskReader<'_>,
    inflater: &mut impl ZlibStream,
    deflater: &mut impl ZlibStream,
) -> Result<Vec<u8>, ConversionError> {
    let mut writer = reader.writer();
    let mut rows = Vec::new();
    let mut take = |bytes: &[u8], reader: &mut MaskReader<'_>| -> Result<(), ConversionError> {
        reader.push_inflated(bytes, &mut rows)?;
        deflater
            .write(&rows, &mut |compressed| writer.push_compressed(compressed))
            .map_err(compressor_failure)?;
        rows.clear();
        Ok(())
    };
    let inflating = reader
        .compressed()
        .try_for_each(|data| inflater.write(data, &mut |bytes| take(bytes, &mut reader)))
        .and_then(|()| inflater.close(&mut |bytes| take(bytes, &mut reader)));
    match inflating {
        Ok(()) => reader.finish()?,
        Err(Halt::Refused) => return Err(reader.stream_refused().into()),
        Err(Halt::Sink(e)) => return Err(e),
    }
    deflater
        .close(&mut |compressed| writer.push_compressed(compressed))
        .map_err(compressor_failure)?;
    Ok(writer.finish())
}

fn compressor_failure(halt: Halt<OutgrewBound>) -> ConversionError {
    match halt {
        Halt::Refused => ConversionError::Compressor,
        Halt::Sink(e) => ConversionError::Outgrew(e),
    }
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

/// In-process zlib codecs over `miniz_oxide` (a dev-dependency: none of it is in the Worker).
#[cfg(test)]
pub(crate) mod test_codec;

/// The conversion of `png` within `limits` with the test codecs (the compressor never fails).
#[cfg(test)]
pub(crate) fn convert_for_tests(png: &[u8], limits: &MaskLimits) -> Result<Vec<u8>, MaskError> {
    test_codec::convert(MaskReader::new(png, limits)?)
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
        let converted = convert_for_tests(&mask_with_hole(w, h, hole), &ANY).unwrap();
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
        let (_, _, grey) = decode_grey(&convert_for_tests(&png, &ANY).unwrap());
        assert_eq!(grey, [255, 0, 0, 0]);
    }

    #[test]
    fn masks_without_transparency_or_not_png_are_refused() {
        let opaque = encode(2, 2, png::ColorType::Rgb, &[0; 12]);
        assert!(matches!(
            convert_for_tests(&opaque, &ANY),
            Err(MaskError::NoAlpha)
        ));
        assert!(matches!(
            convert_for_tests(b"\xff\xd8\xff\xe0 a jpeg", &ANY),
            Err(MaskError::NotPng)
        ));
        let whole = mask_with_hole(32, 32, (0, 0, 8, 8));
        for cut in [9, 30, whole.len() / 2, whole.len() - 13] {
            assert!(
                convert_for_tests(&whole[..cut], &ANY).is_err(),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            convert_for_tests(
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
            convert_for_tests(&encoder_out, &ANY),
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
            convert_for_tests(&long, &limits),
            Err(MaskError::SideTooLong { max_side: 4096, .. })
        ));
        assert!(matches!(
            convert_for_tests(&claimed_png(1, 16_777_216), &limits),
            Err(MaskError::SideTooLong { .. })
        ));
        // Within the sides, a mask must be the image's size.
        let of_image = MaskLimits::new(16_777_216, Some((64, 64)));
        let wrong = convert_for_tests(&claimed_png(64, 65), &of_image).unwrap_err();
        assert!(wrong.is_size(), "{wrong}");
        // The right size gets as far as its (too short) image data.
        assert!(matches!(
            convert_for_tests(&claimed_png(64, 64), &of_image),
            Err(MaskError::Unreadable(_))
        ));
    }

    #[test]
    fn the_output_stays_within_its_bound() {
        let (w, h) = (300, 200);
        let png = mask_with_hole(w, h, (10, 10, 290, 190));
        let converted = convert_for_tests(&png, &ANY).unwrap();
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
                let converted = convert_for_tests(&png, &ANY)
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
    fn noisy_masks_stay_within_the_bound() {
        for (w, h) in [(1, 1), (1, 5000), (255, 255), (700, 300)] {
            let mut pixels = noise(w * h, (w * h * 4) as usize);
            // Alpha alternates 0 and not 0: the output that compresses least.
            for (i, p) in pixels.chunks_exact_mut(4).enumerate() {
                p[3] = if i % 2 == 0 { 0 } else { 1 };
            }
            let png = encode(w, h, png::ColorType::Rgba, &pixels);
            let converted = convert_for_tests(&png, &ANY).unwrap();
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
        let converted = convert_for_tests(&png, &ANY).unwrap();
        assert!(converted.len() < want.len() / 10, "runs compress");
        let (_, _, grey) = decode_grey(&converted);
        assert_eq!(grey, want);
        // The zlib stand-in reads the output too, Adler-32 included (which png skips).
        assert!(oracle(&converted).is_none(), "no alpha in the output");
        let mut decoded = Vec::new();
        let idat = &converted[PNG_SIGNATURE.len() + 25 + 8..converted.len() - 12 - 4];
        let mut inflater = test_codec::Inflater::new();
        let mut keep = |b: &[u8]| -> Result<(), ()> {
            decoded.extend_from_slice(b);
            Ok(())
        };
        inflater.write(idat, &mut keep).unwrap();
        inflater.close(&mut keep).unwrap();
        assert_eq!(decoded.len(), want.len() + 1);
    }

    /// An 8-bit RGBA PNG of `width` x `height` whose image data is `idat`, in IDAT chunks of the
    /// given sizes, with a tEXt chunk after the first (IDAT chunks need not be consecutive here).
    fn rgba_png_with(width: u32, height: u32, idat: &[u8], split: &[usize]) -> Vec<u8> {
        let mut png = PNG_SIGNATURE.to_vec();
        let mut ihdr = Vec::new();
        ihdr.extend_from_slice(&width.to_be_bytes());
        ihdr.extend_from_slice(&height.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        write_chunk(&mut png, b"IHDR", &ihdr);
        let mut rest = idat;
        for (i, &len) in split.iter().enumerate() {
            let (chunk, tail) = rest.split_at(len.min(rest.len()));
            write_chunk(&mut png, b"IDAT", chunk);
            if i == 0 {
                write_chunk(&mut png, b"tEXt", b"Comment\0between IDATs");
            }
            rest = tail;
        }
        write_chunk(&mut png, b"IDAT", rest);
        write_chunk(&mut png, b"IEND", &[]);
        png
    }

    fn zlib(raw: &[u8]) -> Vec<u8> {
        miniz_oxide::deflate::compress_to_vec_zlib(raw, 6)
    }

    /// The filter bytes and pixels of a `width` x `height` RGBA image, transparent where
    /// `transparent(x, y)`.
    fn rgba_rows(width: u32, height: u32, transparent: impl Fn(u32, u32) -> bool) -> Vec<u8> {
        let mut raw = Vec::new();
        for y in 0..height {
            raw.push(0);
            for x in 0..width {
                let alpha = if transparent(x, y) { 0 } else { 255 };
                raw.extend_from_slice(&[7, 7, 7, alpha]);
            }
        }
        raw
    }

    #[test]
    fn the_image_data_is_every_idat_chunk_in_order() {
        let data: Vec<u8> = (0..=255).collect();
        let png = rgba_png_with(2, 2, &data, &[10, 0, 100]);
        let reader = MaskReader::new(&png, &ANY).unwrap();
        let pieces: Vec<&[u8]> = reader.compressed().collect();
        // The empty IDAT is skipped; the tEXt chunk between IDATs is not image data.
        assert_eq!(
            pieces.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [10, 100, 146]
        );
        assert_eq!(pieces.concat(), data);
        assert_eq!(reader.inflated_len(), 2 * (1 + 2 * 4));
    }

    #[test]
    fn rows_are_the_same_however_the_inflated_bytes_are_split() {
        let (w, h) = (13, 7);
        let raw = rgba_rows(w, h, |x, y| (x + y) % 3 == 0);
        let png = rgba_png_with(w, h, &zlib(&raw), &[]);
        let mut whole_rows = Vec::new();
        let mut whole = MaskReader::new(&png, &ANY).unwrap();
        whole.push_inflated(&raw, &mut whole_rows).unwrap();
        whole.finish().unwrap();
        let mut byte_rows = Vec::new();
        let mut bytewise = MaskReader::new(&png, &ANY).unwrap();
        for b in &raw {
            bytewise
                .push_inflated(std::slice::from_ref(b), &mut byte_rows)
                .unwrap();
        }
        bytewise.finish().unwrap();
        assert_eq!(whole_rows, byte_rows);
        assert_eq!(whole_rows.len(), (h * (w + 1)) as usize);
        for (y, row) in whole_rows.chunks_exact(w as usize + 1).enumerate() {
            assert_eq!(row[0], 0, "filter type none");
            for (x, &g) in row[1..].iter().enumerate() {
                let want = if (x + y) % 3 == 0 { 255 } else { 0 };
                assert_eq!(g, want, "pixel ({x}, {y})");
            }
        }
    }

    #[test]
    fn a_decompression_bomb_stops_as_soon_as_its_rows_are_full() {
        // A 4x2 header: 2 x (1 + 16) = 34 bytes of image data, not one more.
        let raw = rgba_rows(4, 2, |_, _| true);
        let png = rgba_png_with(4, 2, &zlib(&raw), &[]);
        let mut reader = MaskReader::new(&png, &ANY).unwrap();
        assert_eq!(reader.inflated_len(), 34);
        let mut rows = Vec::new();
        reader.push_inflated(&raw, &mut rows).unwrap();
        assert!(matches!(
            reader.push_inflated(&[0], &mut rows),
            Err(MaskError::Unreadable(why)) if why.contains("more image data")
        ));

        // A 1x1 mask whose image data inflates to 64 MiB: the inflater stops at its first piece.
        let bomb = zlib(&vec![0; 64 << 20]);
        assert!(bomb.len() < 100 * 1024, "{} bytes", bomb.len());
        let png = rgba_png_with(1, 1, &bomb, &[]);
        let mut reader = MaskReader::new(&png, &ANY).unwrap();
        let mut handed = 0usize;
        let mut rows = Vec::new();
        let mut inflater = test_codec::Inflater::new();
        let outcome = reader.compressed().try_for_each(|data| {
            inflater.write(data, &mut |bytes| {
                handed += bytes.len();
                reader.push_inflated(bytes, &mut rows)
            })
        });
        assert!(matches!(
            outcome,
            Err(Halt::Sink(MaskError::Unreadable(why))) if why.contains("more image data")
        ));
        assert!(
            handed <= 16 * 1024,
            "{handed} bytes inflated before the refusal"
        );
        assert!(matches!(
            convert_for_tests(&png, &ANY),
            Err(MaskError::Unreadable(why)) if why.contains("more image data")
        ));
    }

    #[test]
    fn image_data_ending_before_the_last_row_is_refused() {
        let raw = rgba_rows(5, 4, |_, _| false);
        // A whole zlib stream of three rows out of four.
        let png = rgba_png_with(5, 4, &zlib(&raw[..3 * 21]), &[]);
        assert!(matches!(
            convert_for_tests(&png, &ANY),
            Err(MaskError::Unreadable(why)) if why.contains("ends before its last row")
        ));
    }

    #[test]
    fn a_stream_the_codec_refuses_is_refused_by_how_far_it_got() {
        let raw = rgba_rows(5, 4, |x, _| x == 2);
        let stream = zlib(&raw);
        let refused = |idat: &[u8]| match convert_for_tests(&rgba_png_with(5, 4, idat, &[]), &ANY) {
            Err(MaskError::Unreadable(why)) => why,
            other => panic!("not refused as unreadable: {other:?}"),
        };
        // Rows still missing: the stream is not a valid one.
        let cut = &stream[..stream.len() - 8];
        assert!(refused(cut).contains("not a valid zlib stream"));
        let mut corrupt = stream.clone();
        corrupt[2] = 0xff; // a reserved block type
        assert!(refused(&corrupt).contains("not a valid zlib stream"));
        let mut dictionary = stream.clone();
        dictionary[1] = 0xbb; // FDICT set, header check still right (0x78bb % 31 == 0)
        assert!(refused(&dictionary).contains("not a valid zlib stream"));
        // Every row there, but the stream's end is wrong.
        let mut adler = stream.clone();
        *adler.last_mut().unwrap() ^= 1;
        assert!(refused(&adler).contains("Adler-32"));
        let short_adler = &stream[..stream.len() - 1];
        assert!(refused(short_adler).contains("Adler-32"));
        let trailing = [&stream[..], &[0]].concat();
        assert!(refused(&trailing).contains("bytes after its end"));
        // And whole, it converts.
        let (_, _, grey) =
            decode_grey(&convert_for_tests(&rgba_png_with(5, 4, &stream, &[]), &ANY).unwrap());
        assert_eq!(grey.iter().filter(|&&g| g == 255).count(), 4);
    }

    #[test]
    fn the_writer_refuses_to_outgrow_its_bound() {
        let png = mask_with_hole(3, 2, (0, 0, 1, 1));
        let mut writer = MaskReader::new(&png, &ANY).unwrap().writer();
        let bound = usize::try_from(converted_bound(3, 2)).unwrap();
        assert!(writer.push_compressed(&vec![0; bound / 2]).is_ok());
        assert!(writer.push_compressed(&vec![0; bound / 2]).is_err());
        let png = writer.finish();
        assert!(png.len() as u64 <= converted_bound(3, 2));
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(&png[IDAT_AT + 4..IDAT_AT + 8], b"IDAT");
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
    }

    #[test]
    fn corrupt_masks_are_refused_never_panic() {
        let whole = mask_with_hole(40, 30, (5, 5, 20, 20));
        // A flipped bit anywhere after the signature: a CRC, zlib or structure error.
        for i in PNG_SIGNATURE.len()..whole.len() {
            let mut bad = whole.clone();
            bad[i] ^= 0x10;
            assert!(convert_for_tests(&bad, &ANY).is_err(), "byte {i}");
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
            let _ = convert_for_tests(&png, &ANY);
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
            convert_for_tests(&interlaced, &ANY),
            Err(MaskError::Interlaced)
        ));
    }
}
