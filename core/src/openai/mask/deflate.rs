//! The converted mask's zlib stream: a greyscale image that is black and white only, so a
//! run-length deflate (matches at distance 1, fixed Huffman codes) compresses its flat areas
//! about 100:1 with a few dozen lines instead of a general compressor.
//!
//! Fixed codes spend 9 bits on a literal 255, so noisy masks could grow past their raw size; the
//! stream then ends its compressed block and goes on in stored blocks, which keeps the output
//! within [`super::converted_bound`].

use super::inflate::Adler32;

/// Most bytes of one stored block.
const STORED_MAX: usize = 65_535;
/// How far the compressed output may run ahead of the raw input before it falls back to stored
/// blocks (a little, so one long run's code does not trigger it).
const SLACK: u64 = 64;

pub struct MaskDeflater {
    out: Vec<u8>,
    bit_buffer: u64,
    bit_count: u32,
    adler: Adler32,
    raw_bytes: u64,
    /// The byte being repeated and how many repeats of it are not yet written.
    last: Option<u8>,
    run: usize,
    /// `Some` once the stream has fallen back to stored blocks: the bytes of the next one.
    stored: Option<Vec<u8>>,
}

impl MaskDeflater {
    pub fn new(capacity: usize) -> MaskDeflater {
        let mut out = Vec::with_capacity(capacity);
        // zlib header: deflate, 32 KiB window, no dictionary, "fastest" level; then the first
        // (and only) compressed block: BFINAL = 0, fixed Huffman codes (BTYPE = 01).
        out.extend_from_slice(&[0x78, 0x01]);
        let mut deflater = MaskDeflater {
            out,
            bit_buffer: 0,
            bit_count: 0,
            adler: Adler32::new(),
            raw_bytes: 0,
            last: None,
            run: 0,
            stored: None,
        };
        deflater.put_bits(0b010, 3);
        deflater
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.adler.update(bytes);
        self.raw_bytes += bytes.len() as u64;
        if let Some(mut stored) = self.stored.take() {
            for &byte in bytes {
                stored.push(byte);
                if stored.len() == STORED_MAX {
                    self.stored_block(&stored, false);
                    stored.clear();
                }
            }
            self.stored = Some(stored);
            return;
        }
        for &byte in bytes {
            if self.last == Some(byte) && self.run < 258 {
                self.run += 1;
            } else {
                self.flush_run();
                self.literal(byte);
                self.last = Some(byte);
            }
        }
        if self.out.len() as u64 > self.raw_bytes + SLACK {
            self.flush_run();
            self.put_code(0, 7); // end of block
            self.stored = Some(Vec::with_capacity(STORED_MAX));
        }
    }

    /// The finished zlib stream.
    pub fn finish(mut self) -> Vec<u8> {
        match self.stored.take() {
            Some(rest) => self.stored_block(&rest, true),
            None => {
                self.flush_run();
                self.put_code(0, 7); // end of block
                                     // An empty final stored block ends the stream on a byte boundary.
                self.stored_block(&[], true);
            }
        }
        let adler = self.adler.value();
        self.out.extend_from_slice(&adler.to_be_bytes());
        self.out
    }

    fn stored_block(&mut self, bytes: &[u8], last: bool) {
        self.put_bits(u64::from(last), 3); // BTYPE = 00
        self.flush_bits();
        let len = bytes.len() as u16;
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(&(!len).to_le_bytes());
        self.out.extend_from_slice(bytes);
    }

    fn flush_run(&mut self) {
        let (Some(byte), run) = (self.last, self.run) else {
            return;
        };
        if run >= 3 {
            self.length(run);
            self.put_code(0, 5); // distance code 0: distance 1
        } else {
            for _ in 0..run {
                self.literal(byte);
            }
        }
        self.run = 0;
    }

    fn literal(&mut self, byte: u8) {
        let byte = u32::from(byte);
        if byte < 144 {
            self.put_code(0x30 + byte, 8);
        } else {
            self.put_code(0x190 + byte - 144, 9);
        }
    }

    /// A match length of 3..=258 (RFC 1951 section 3.2.5) in fixed codes.
    fn length(&mut self, length: usize) {
        let length = length as u32;
        let (symbol, base, extra) = match length {
            3..=10 => (254 + length, length, 0),
            258 => (285, 258, 0),
            _ => {
                // Lengths 11..=257: four codes per extra-bit count, each covering 2^extra.
                let extra = (31 - (length - 3).leading_zeros()) - 2;
                let group = (length - 3) >> extra; // 4..=7 within its extra-bit count
                let symbol = 257 + 4 * extra + group;
                let base = 3 + (group << extra);
                (symbol, base, extra)
            }
        };
        if symbol < 280 {
            self.put_code(symbol - 256, 7);
        } else {
            self.put_code(0xc0 + symbol - 280, 8);
        }
        self.put_bits(u64::from(length - base), extra);
    }

    /// A Huffman code: written most significant bit first.
    fn put_code(&mut self, code: u32, len: u32) {
        let reversed = code.reverse_bits() >> (32 - len);
        self.put_bits(u64::from(reversed), len);
    }

    fn put_bits(&mut self, value: u64, count: u32) {
        self.bit_buffer |= value << self.bit_count;
        self.bit_count += count;
        while self.bit_count >= 8 {
            self.out.push(self.bit_buffer as u8);
            self.bit_buffer >>= 8;
            self.bit_count -= 8;
        }
    }

    fn flush_bits(&mut self) {
        if self.bit_count > 0 {
            self.out.push(self.bit_buffer as u8);
        }
        self.bit_buffer = 0;
        self.bit_count = 0;
    }
}
