//! A small zlib (RFC 1950) / deflate (RFC 1951) decoder for mask PNGs.
//!
//! Written here rather than linked from the `png` crate, whose decoder stack (png, fdeflate,
//! miniz_oxide, crc32fast) cost ~66 KiB of the gzipped Worker. It decodes the whole compressed
//! stream in one call (the PNG's IDAT data is all in memory already) and hands its output to a
//! sink in slices, keeping only deflate's 32 KiB window, so a large mask never sits decoded in
//! memory. Speed is secondary: masks are flat and compress into few long matches.

/// Why a zlib stream cannot be decoded.
pub type InflateError = &'static str;

/// Deflate's window: how far back a match may reach.
const WINDOW: usize = 32 * 1024;
/// Output held before it is handed to the sink (beyond the window).
const FLUSH_AT: usize = WINDOW + 64 * 1024;

const LENGTH_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DISTANCE_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DISTANCE_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// The order in which a dynamic block lists its code-length code lengths.
const CODE_LENGTH_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Reads bits least significant first, as deflate packs them.
struct Bits<'a> {
    data: &'a [u8],
    at: usize,
    bit: u32,
}

impl Bits<'_> {
    fn bit(&mut self) -> Result<u32, InflateError> {
        let byte = *self
            .data
            .get(self.at)
            .ok_or("the compressed data ends early")?;
        let b = u32::from(byte >> self.bit) & 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.at += 1;
        }
        Ok(b)
    }

    fn bits(&mut self, count: u8) -> Result<u32, InflateError> {
        let mut value = 0;
        for i in 0..count {
            value |= self.bit()? << i;
        }
        Ok(value)
    }

    fn align(&mut self) {
        if self.bit != 0 {
            self.bit = 0;
            self.at += 1;
        }
    }

    fn byte(&mut self) -> Result<u8, InflateError> {
        let byte = *self
            .data
            .get(self.at)
            .ok_or("the compressed data ends early")?;
        self.at += 1;
        Ok(byte)
    }
}

/// A canonical Huffman code: how many codes each length has, and the symbols in code order.
struct Huffman {
    counts: [u16; 16],
    symbols: Vec<u16>,
}

impl Huffman {
    fn new(lengths: &[u8]) -> Result<Huffman, InflateError> {
        let mut counts = [0u16; 16];
        for &len in lengths {
            counts[usize::from(len)] += 1;
        }
        counts[0] = 0;
        // Over-subscribed codes are invalid; incomplete ones are allowed (a lone distance code).
        let mut left: i32 = 1;
        for &count in &counts[1..] {
            left = left * 2 - i32::from(count);
            if left < 0 {
                return Err("a Huffman code is over-subscribed");
            }
        }
        let mut offsets = [0u16; 16];
        for len in 1..15 {
            offsets[len + 1] = offsets[len] + counts[len];
        }
        let mut symbols = vec![0u16; lengths.len()];
        for (symbol, &len) in lengths.iter().enumerate() {
            if len != 0 {
                let slot = &mut offsets[usize::from(len)];
                symbols[usize::from(*slot)] = symbol as u16;
                *slot += 1;
            }
        }
        Ok(Huffman { counts, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Result<u16, InflateError> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for &count in &self.counts[1..] {
            code |= bits.bit()? as i32;
            let count = i32::from(count);
            if code - first < count {
                return Ok(self.symbols[(index + code - first) as usize]);
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        Err("an invalid Huffman code")
    }
}

/// The decoded bytes: the window matches copy from, handed on to the sink as it fills.
struct Output<'s, F> {
    held: Vec<u8>,
    total: u64,
    sink: &'s mut F,
}

impl<F: FnMut(&[u8]) -> Result<(), InflateError>> Output<'_, F> {
    fn push(&mut self, byte: u8) -> Result<(), InflateError> {
        self.held.push(byte);
        self.total += 1;
        if self.held.len() >= FLUSH_AT {
            let keep_from = self.held.len() - WINDOW;
            (self.sink)(&self.held[..keep_from])?;
            self.held.drain(..keep_from);
        }
        Ok(())
    }

    fn copy(&mut self, distance: usize, length: usize) -> Result<(), InflateError> {
        if distance as u64 > self.total {
            return Err("a match reaches before the start of the data");
        }
        for _ in 0..length {
            // `held` always keeps the last WINDOW bytes, and `distance` is at most WINDOW.
            let byte = self.held[self.held.len() - distance];
            self.push(byte)?;
        }
        Ok(())
    }
}

/// Decodes the zlib stream `data`, handing the decoded bytes to `sink` in order. Checks the
/// stream's header and Adler-32; the sink's error stops decoding.
///
/// # Errors
/// What is wrong with the stream, or the sink's error.
pub fn inflate_zlib<F>(data: &[u8], sink: &mut F) -> Result<(), InflateError>
where
    F: FnMut(&[u8]) -> Result<(), InflateError>,
{
    let [cmf, flg, ..] = *data else {
        return Err("the compressed data ends early");
    };
    if cmf & 0x0f != 8 || cmf >> 4 > 7 || (u16::from(cmf) << 8 | u16::from(flg)) % 31 != 0 {
        return Err("the compressed data has no valid zlib header");
    }
    if flg & 0x20 != 0 {
        return Err("the compressed data needs a preset dictionary");
    }
    let mut adler = Adler32::new();
    let mut checked = |bytes: &[u8]| {
        adler.update(bytes);
        sink(bytes)
    };
    let mut bits = Bits {
        data,
        at: 2,
        bit: 0,
    };
    let mut out = Output {
        held: Vec::with_capacity(FLUSH_AT),
        total: 0,
        sink: &mut checked,
    };
    loop {
        let last = bits.bit()? == 1;
        match bits.bits(2)? {
            0 => {
                bits.align();
                let len = u16::from(bits.byte()?) | u16::from(bits.byte()?) << 8;
                let nlen = u16::from(bits.byte()?) | u16::from(bits.byte()?) << 8;
                if len != !nlen {
                    return Err("a stored block's length is corrupt");
                }
                for _ in 0..len {
                    out.push(bits.byte()?)?;
                }
            }
            1 => {
                let mut lengths = [0u8; 288 + 30];
                lengths[..144].fill(8);
                lengths[144..256].fill(9);
                lengths[256..280].fill(7);
                lengths[280..288].fill(8);
                lengths[288..].fill(5);
                let literals = Huffman::new(&lengths[..288])?;
                let distances = Huffman::new(&lengths[288..])?;
                block(&mut bits, &mut out, &literals, &distances)?;
            }
            2 => {
                let (literals, distances) = dynamic_codes(&mut bits)?;
                block(&mut bits, &mut out, &literals, &distances)?;
            }
            _ => return Err("a block has the reserved type 3"),
        }
        if last {
            break;
        }
    }
    let held = std::mem::take(&mut out.held);
    checked(&held)?;
    bits.align();
    let mut expected = 0u32;
    for _ in 0..4 {
        expected = expected << 8 | u32::from(bits.byte()?);
    }
    if expected != adler.value() {
        return Err("the decompressed data fails its Adler-32 check");
    }
    Ok(())
}

fn dynamic_codes(bits: &mut Bits<'_>) -> Result<(Huffman, Huffman), InflateError> {
    let literal_count = bits.bits(5)? as usize + 257;
    let distance_count = bits.bits(5)? as usize + 1;
    let code_length_count = bits.bits(4)? as usize + 4;
    if literal_count > 286 || distance_count > 30 {
        return Err("a dynamic block declares too many codes");
    }
    let mut code_lengths = [0u8; 19];
    for &i in &CODE_LENGTH_ORDER[..code_length_count] {
        code_lengths[i] = bits.bits(3)? as u8;
    }
    let code_length_code = Huffman::new(&code_lengths)?;
    let mut lengths = [0u8; 286 + 30];
    let total = literal_count + distance_count;
    let mut i = 0;
    while i < total {
        let symbol = code_length_code.decode(bits)?;
        let (value, repeat) = match symbol {
            0..=15 => (symbol as u8, 1),
            16 => {
                let previous = *i
                    .checked_sub(1)
                    .and_then(|p| lengths.get(p))
                    .ok_or("a code length repeats nothing")?;
                (previous, 3 + bits.bits(2)? as usize)
            }
            17 => (0, 3 + bits.bits(3)? as usize),
            _ => (0, 11 + bits.bits(7)? as usize),
        };
        if i + repeat > total {
            return Err("the code lengths overflow their codes");
        }
        lengths[i..i + repeat].fill(value);
        i += repeat;
    }
    if lengths[256] == 0 {
        return Err("a dynamic block has no end-of-block code");
    }
    let literals = Huffman::new(&lengths[..literal_count])?;
    let distances = Huffman::new(&lengths[literal_count..total])?;
    Ok((literals, distances))
}

fn block<F: FnMut(&[u8]) -> Result<(), InflateError>>(
    bits: &mut Bits<'_>,
    out: &mut Output<'_, F>,
    literals: &Huffman,
    distances: &Huffman,
) -> Result<(), InflateError> {
    loop {
        let symbol = usize::from(literals.decode(bits)?);
        match symbol {
            0..=255 => out.push(symbol as u8)?,
            256 => return Ok(()),
            257..=285 => {
                let i = symbol - 257;
                let length = usize::from(LENGTH_BASE[i]) + bits.bits(LENGTH_EXTRA[i])? as usize;
                let d = usize::from(distances.decode(bits)?);
                if d >= 30 {
                    return Err("an invalid distance code");
                }
                let distance =
                    usize::from(DISTANCE_BASE[d]) + bits.bits(DISTANCE_EXTRA[d])? as usize;
                out.copy(distance, length)?;
            }
            _ => return Err("an invalid length code"),
        }
    }
}

/// Adler-32 (RFC 1950), zlib's checksum of the uncompressed data.
pub struct Adler32 {
    a: u32,
    b: u32,
}

impl Adler32 {
    pub fn new() -> Adler32 {
        Adler32 { a: 1, b: 0 }
    }

    pub fn update(&mut self, bytes: &[u8]) {
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

    pub fn value(&self) -> u32 {
        self.b << 16 | self.a
    }
}
