//! The `mask_convert` harness: fuzz bytes turned into a PNG whose chunk lengths and CRCs are
//! right (and, most of the time, whose zlib Adler-32 is too), so that mutations reach the zlib
//! stream, the rows (unfiltered, converted, refused when too many) and the PNG written instead
//! of dying at the first CRC check.
//!
//! The conversion runs with the in-process zlib codecs of `sdxl-core`'s native tests
//! (`core/src/openai/mask/test_codec.rs`, included here by path), which refuse what the
//! runtime's strict `DecompressionStream` refuses; the Worker runs the runtime's streams.
//!
//! Input layout: one flags byte, then chunks separated by [`SEP`], each its 4-byte type and its
//! data. A separator, not a length prefix, so that inserting or deleting a byte moves one
//! chunk's end instead of desynchronising every chunk after it.

// `convert` and `ConversionError` are what the shared codec file uses of its parent module.
use sdxl_core::openai::mask::{
    convert, converted_bound, ConversionError, Halt, MaskError, MaskLimits, MaskReader, ZlibStream,
};

/// The zlib codecs `sdxl-core`'s native tests run, shared by path so both run the same ones
/// (`miniz_oxide` stays a dev-dependency of `sdxl-core`, out of the Worker).
#[path = "../../core/src/openai/mask/test_codec.rs"]
mod test_codec;

/// Converts `png` within `limits` with the in-process codecs.
///
/// # Errors
/// The mask's refusal.
///
/// # Panics
/// When the compressor fails, which it never should.
pub fn convert_png(png: &[u8], limits: &MaskLimits) -> Result<Vec<u8>, MaskError> {
    test_codec::convert(MaskReader::new(png, limits)?)
}

/// [`convert_png`] with the image data written to the decompressor `step` bytes at a time (the
/// Worker writes pieces; how the bytes are split must not change the outcome).
fn convert_in_steps(png: &[u8], limits: &MaskLimits, step: usize) -> Result<Vec<u8>, MaskError> {
    let mut reader = MaskReader::new(png, limits)?;
    let mut writer = reader.writer();
    let mut inflater = test_codec::Inflater::new();
    let mut deflater = test_codec::Deflater::new();
    let mut rows = Vec::new();
    let data: Vec<u8> = reader.compressed().flatten().copied().collect();
    let mut take = |bytes: &[u8], reader: &mut MaskReader<'_>| -> Result<(), ConversionError> {
        reader.push_inflated(bytes, &mut rows)?;
        deflater
            .write(&rows, &mut |out| writer.push_compressed(out))
            .map_err(|_| ConversionError::Compressor)?;
        rows.clear();
        Ok(())
    };
    let mut inflated = Ok(());
    for piece in data.chunks(step.max(1)) {
        inflated = inflater.write(piece, &mut |bytes| take(bytes, &mut reader));
        if inflated.is_err() {
            break;
        }
    }
    let inflated = inflated.and_then(|()| inflater.close(&mut |bytes| take(bytes, &mut reader)));
    match inflated {
        Ok(()) => reader.finish()?,
        Err(Halt::Refused) => return Err(reader.stream_refused()),
        Err(Halt::Sink(ConversionError::Mask(e))) => return Err(e),
        Err(Halt::Sink(e)) => panic!("the compressor failed: {e}"),
    }
    deflater
        .close(&mut |out| writer.push_compressed(out))
        .expect("the compressor finishes");
    Ok(writer.finish())
}

pub const SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Between two chunks of the fuzz input. Four bytes a deflate stream is unlikely to hold.
pub const SEP: &[u8; 4] = b"|CK|";

/// The `max_pixels` a flags byte can pick: tiny limits reach the size refusals with small
/// inputs, the default (16 Mi pixels, 4096 a side) the limits production runs with.
const MAX_PIXELS: [u64; 4] = [64 * 64, 256 * 256, 1024 * 1024, 16_777_216];

/// Beyond this many pixels the `png` crate is not asked for its opinion: its decode holds the
/// whole image, which would dominate the run time.
const ORACLE_MAX_PIXELS: u64 = 1 << 18;

/// What the harness built from one fuzz input.
pub struct Case {
    pub png: Vec<u8>,
    pub limits: MaskLimits,
}

/// Chunks as the fuzz input lists them.
pub fn chunks_of(body: &[u8]) -> Vec<([u8; 4], Vec<u8>)> {
    let mut chunks = Vec::new();
    let mut rest = body;
    loop {
        let (piece, next) = match rest.windows(SEP.len()).position(|w| w == SEP) {
            Some(at) => (&rest[..at], Some(&rest[at + SEP.len()..])),
            None => (rest, None),
        };
        // A piece too short for a type is dropped: an empty piece is what two separators in a
        // row or a leading separator make.
        if piece.len() >= 4 {
            let kind = [piece[0], piece[1], piece[2], piece[3]];
            chunks.push((kind, piece[4..].to_vec()));
        }
        match next {
            Some(next) => rest = next,
            None => return chunks,
        }
    }
}

/// The inverse of [`chunks_of`], for writing seeds: flags byte then the chunks of `png`.
///
/// # Panics
/// When `png` is not a PNG with whole chunks, or a chunk holds [`SEP`].
pub fn fuzz_input_of(flags: u8, png: &[u8]) -> Vec<u8> {
    assert!(png.starts_with(SIGNATURE));
    let mut out = vec![flags];
    let mut rest = &png[8..];
    let mut first = true;
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let chunk = &rest[4..8 + len];
        assert!(
            !chunk.windows(4).any(|w| w == SEP),
            "a chunk holds the separator"
        );
        if !first {
            out.extend_from_slice(SEP);
        }
        out.extend_from_slice(chunk);
        first = false;
        rest = &rest[12 + len..];
    }
    out
}

/// The Adler-32 of what the deflate stream `raw` decodes to, and how many bytes of `raw` it
/// takes; `None` when it does not decode (or decodes to more than a mask can be).
fn deflate_end_and_adler(raw: &[u8]) -> Option<(usize, u32)> {
    use miniz_oxide::inflate::core::{decompress, DecompressorOxide};
    use miniz_oxide::inflate::TINFLStatus;
    let mut state = DecompressorOxide::new();
    // A wrapping window: only the checksum of the output is wanted, never the output.
    let mut window = vec![0u8; 64 * 1024];
    let mask = window.len() - 1;
    let (mut input, mut consumed, mut out_pos, mut produced) = (raw, 0usize, 0usize, 0u64);
    let mut adler = Adler::default();
    loop {
        let (status, read, written) = decompress(&mut state, input, &mut window, out_pos, 0);
        adler.update(&window[out_pos..out_pos + written]);
        produced += written as u64;
        consumed += read;
        input = &input[read..];
        out_pos = (out_pos + written) & mask;
        match status {
            TINFLStatus::Done => return Some((consumed, adler.value())),
            TINFLStatus::HasMoreOutput if produced < 200 << 20 => {}
            _ => return None,
        }
    }
}

struct Adler {
    a: u32,
    b: u32,
}

impl Default for Adler {
    fn default() -> Self {
        Adler { a: 1, b: 0 }
    }
}

impl Adler {
    fn update(&mut self, bytes: &[u8]) {
        // 5552 bytes is the most that cannot overflow `b` before the modulo.
        for chunk in bytes.chunks(5552) {
            for &byte in chunk {
                self.a += u32::from(byte);
                self.b += self.a;
            }
            self.a %= 65_521;
            self.b %= 65_521;
        }
    }

    fn value(&self) -> u32 {
        self.b << 16 | self.a
    }
}

/// Writes the right Adler-32 after the deflate stream of the IDAT chunks, lengthening the last
/// IDAT chunk when the stream stops short of it.
fn fix_adler(chunks: &mut [([u8; 4], Vec<u8>)]) {
    let idats: Vec<usize> = (0..chunks.len())
        .filter(|&i| &chunks[i].0 == b"IDAT")
        .collect();
    let Some(&last) = idats.last() else { return };
    let mut stream: Vec<u8> = idats.iter().flat_map(|&i| chunks[i].1.clone()).collect();
    if stream.len() < 2 {
        return;
    }
    let Some((used, adler)) = deflate_end_and_adler(&stream[2..]) else {
        return;
    };
    let at = 2 + used;
    if stream.len() < at + 4 {
        stream.resize(at + 4, 0);
    }
    stream[at..at + 4].copy_from_slice(&adler.to_be_bytes());
    let mut from = 0;
    for &i in &idats {
        let len = if i == last {
            stream.len() - from
        } else {
            chunks[i].1.len()
        };
        chunks[i].1 = stream[from..from + len].to_vec();
        from += len;
    }
}

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// Whether `png` is greyscale or RGB below 16 bits with a tRNS key a sample cannot take. The
/// spec calls that key invalid; the `png` crate keeps only its low byte, `sdxl-core` compares it
/// whole (so it never matches, as in libpng): not a difference worth failing on.
fn key_out_of_range(png: &[u8]) -> bool {
    if !matches!(png[25], 0 | 2) || png[24] == 16 {
        return false;
    }
    let mut rest = &png[8..];
    while rest.len() >= 12 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        if &rest[4..8] == b"tRNS" {
            let data = &rest[8..(8 + len).min(rest.len())];
            return data.iter().step_by(2).any(|&high| high != 0);
        }
        rest = &rest[(12 + len).min(rest.len())..];
    }
    false
}

/// The chunk types of `png` with their data lengths, for failure messages.
fn chunk_kinds(png: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut rest = &png[8..];
    while rest.len() >= 12 {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push((String::from_utf8_lossy(&rest[4..8]).into_owned(), len));
        rest = &rest[(12 + len).min(rest.len())..];
    }
    out
}

/// `(width, height)` of the IHDR chunk `png` starts with, if it does.
pub fn ihdr_size(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 33 || &png[8..16] != b"\0\0\0\x0dIHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    Some((w, h))
}

/// The PNG and the limits a fuzz input stands for.
pub fn build(data: &[u8]) -> Case {
    let (&flags, body) = data.split_first().unwrap_or((&0, &[]));
    let mut chunks = chunks_of(body);
    // Three times in four, so that the inflater's end checks (and what follows them: the row
    // count, the encoder) are reached; the fourth keeps a wrong Adler-32 reachable.
    if (flags >> 4) & 3 != 0 {
        fix_adler(&mut chunks);
    }
    let mut png = SIGNATURE.to_vec();
    for (kind, data) in &chunks {
        write_chunk(&mut png, kind, data);
    }
    match flags >> 6 {
        2 => {
            png.pop();
        }
        3 if png.len() > 8 => {
            let at = png.len() - 1;
            png[at] ^= 1;
        }
        _ => {}
    }
    let max_pixels = MAX_PIXELS[usize::from(flags & 3)];
    let image = match (flags >> 2) & 3 {
        2 => Some(ihdr_size(&png).unwrap_or((64, 64))),
        3 => ihdr_size(&png).map(|(w, h)| (w, h ^ 1)).or(Some((1, 1))),
        _ => None,
    };
    Case {
        png,
        limits: MaskLimits::new(max_pixels, image),
    }
}

/// Which pixels the `png` crate sees as fully transparent; `None` when it does not decode the
/// file or finds no transparency (it is more lenient in places, stricter in others).
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

/// The whole harness.
///
/// # Panics
/// When an invariant of the conversion does not hold.
pub fn run(data: &[u8]) {
    let Case { png, limits } = build(data);
    let converted = convert_png(&png, &limits);
    // The image data written a few bytes at a time (the step picked by the input's length):
    // the same outcome.
    let step = 1 + data.len() % 13;
    let in_steps = convert_in_steps(&png, &limits, step);
    match (&converted, &in_steps) {
        (Ok(whole), Ok(stepped)) => assert!(
            whole == stepped,
            "written in {step}-byte steps, the output differs"
        ),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "written whole: {converted:?}; in {step}-byte steps: {in_steps:?}",
            converted = converted.as_ref().map(Vec::len),
            in_steps = in_steps.as_ref().map(Vec::len)
        ),
    }
    match converted {
        Ok(out) => check_converted(&png, &limits, &out),
        Err(e) => {
            let _ = e.to_string();
            if e.is_size() {
                assert!(limits.image.is_some(), "refused for the image's size: {e}");
            }
            if let MaskError::SideTooLong {
                width,
                height,
                max_side,
            } = e
            {
                assert!(width > max_side || height > max_side);
            }
        }
    }
}

fn check_converted(png: &[u8], limits: &MaskLimits, out: &[u8]) {
    let (w, h) = ihdr_size(png).expect("converted a PNG that does not start with IHDR");
    assert!(w > 0 && h > 0);
    assert!(
        w <= limits.max_side && h <= limits.max_side,
        "{w}x{h} converted, max side {}",
        limits.max_side
    );
    let pixels = u64::from(w) * u64::from(h);
    assert!(
        pixels <= limits.max_pixels,
        "{w}x{h} over {}",
        limits.max_pixels
    );
    if let Some(image) = limits.image {
        assert_eq!(image, (w, h), "converted a mask of another size");
    }

    assert!(
        out.len() as u64 <= converted_bound(w, h),
        "{} bytes out of {w}x{h}, bound {}",
        out.len(),
        converted_bound(w, h)
    );
    assert_eq!(ihdr_size(out), Some((w, h)), "output size differs");
    assert_eq!(&out[24..29], &[8, 0, 0, 0, 0], "output not 8-bit greyscale");
    // Exactly IHDR, IDAT, IEND, each with a right CRC.
    let mut rest = &out[8..];
    let mut kinds = Vec::new();
    while !rest.is_empty() {
        let len = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
        let crc = u32::from_be_bytes(rest[8 + len..12 + len].try_into().unwrap());
        assert_eq!(crc32fast::hash(&rest[4..8 + len]), crc, "output CRC");
        kinds.push(rest[4..8].to_vec());
        rest = &rest[12 + len..];
    }
    assert_eq!(kinds, [&b"IHDR"[..], b"IDAT", b"IEND"]);

    // The output read by an independent decoder: greyscale, the same size, black and white.
    let small = pixels <= ORACLE_MAX_PIXELS;
    let grey = if small {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(out));
        decoder.set_transformations(png::Transformations::IDENTITY);
        let mut reader = decoder.read_info().expect("png reads the output's header");
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).expect("png decodes the output");
        assert_eq!((info.width, info.height), (w, h));
        assert_eq!(
            (info.color_type, info.bit_depth),
            (png::ColorType::Grayscale, png::BitDepth::Eight)
        );
        buf.truncate(info.buffer_size());
        assert!(
            buf.iter().all(|&g| g == 0 || g == 255),
            "grey neither 0 nor 255"
        );
        Some(buf)
    } else {
        None
    };

    // Our own output, with white declared transparent, converts to itself: the writer's PNG
    // around the compressor's stream reads back (Adler-32 included) and the pixels survive.
    let mut keyed = out[..33].to_vec();
    write_chunk(&mut keyed, b"tRNS", &[0, 255]);
    keyed.extend_from_slice(&out[33..]);
    let again = convert_png(&keyed, limits)
        .unwrap_or_else(|e| panic!("our own output, keyed on white, refused: {e}"));
    assert!(again == out, "converting the output again changed it");

    // The pixels agree with the `png` crate wherever it reads the input.
    if let (Some(grey), Some(want)) = (grey, oracle(png).filter(|_| !key_out_of_range(png))) {
        let got: Vec<bool> = grey.iter().map(|&g| g == 255).collect();
        if got != want {
            let at = (0..got.len().max(want.len())).find(|&i| got.get(i) != want.get(i));
            panic!(
                "transparent pixels differ from the png crate's: {w}x{h}, depth {}, colour type \
                 {}, chunks {:?}; first at pixel {at:?} (ours {:?}, png {:?})",
                png[24],
                png[25],
                chunk_kinds(png),
                at.and_then(|i| got.get(i)),
                at.and_then(|i| want.get(i)),
            );
        }
        assert!(
            got == want,
            "transparent pixels differ from the png crate's"
        );
    }
}
