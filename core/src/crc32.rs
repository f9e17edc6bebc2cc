//! CRC-32 (ISO-HDLC, the one PNG chunks carry), slice-by-16 like `crc32fast`'s portable path,
//! with its tables built on first use instead of stored: `crc32fast` stores them, 16 KiB that
//! barely compress (~17 KiB of the gzipped Worker). Building them takes microseconds, once per
//! isolate; the loop is the same, so checks over large uploads are as fast as before.

use std::sync::OnceLock;

/// The reflected CRC-32 polynomial.
const POLY: u32 = 0xEDB8_8320;

type Tables = [[u32; 256]; 16];

/// `TABLES[k][b]`: the CRC of byte `b` followed by `k` zero bytes.
static TABLES: OnceLock<Box<Tables>> = OnceLock::new();

fn tables() -> &'static Tables {
    TABLES.get_or_init(|| {
        let mut t: Box<Tables> = Box::new([[0; 256]; 16]);
        for b in 0..256u32 {
            let mut crc = b;
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ POLY
                } else {
                    crc >> 1
                };
            }
            t[0][b as usize] = crc;
        }
        for k in 1..16 {
            for b in 0..256 {
                let prev = t[k - 1][b];
                t[k][b] = (prev >> 8) ^ t[0][(prev & 0xFF) as usize];
            }
        }
        t
    })
}

/// The CRC-32 of `bytes`, as `crc32fast::hash` computes it.
#[must_use]
pub fn hash(bytes: &[u8]) -> u32 {
    let t = tables();
    let mut crc = !0u32;
    let mut chunks = bytes.chunks_exact(16);
    for c in &mut chunks {
        let low = crc ^ u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        crc = t[0x0][c[15] as usize]
            ^ t[0x1][c[14] as usize]
            ^ t[0x2][c[13] as usize]
            ^ t[0x3][c[12] as usize]
            ^ t[0x4][c[11] as usize]
            ^ t[0x5][c[10] as usize]
            ^ t[0x6][c[9] as usize]
            ^ t[0x7][c[8] as usize]
            ^ t[0x8][c[7] as usize]
            ^ t[0x9][c[6] as usize]
            ^ t[0xA][c[5] as usize]
            ^ t[0xB][c[4] as usize]
            ^ t[0xC][(low >> 24) as usize]
            ^ t[0xD][((low >> 16) & 0xFF) as usize]
            ^ t[0xE][((low >> 8) & 0xFF) as usize]
            ^ t[0xF][(low & 0xFF) as usize];
    }
    for &b in chunks.remainder() {
        crc = (crc >> 8) ^ t[0][((crc ^ u32::from(b)) & 0xFF) as usize];
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::hash;

    #[test]
    fn known_values() {
        assert_eq!(hash(b""), 0);
        // The CRC-32 check value (the catalogue's "123456789").
        assert_eq!(hash(b"123456789"), 0xCBF4_3926);
        // A PNG's IEND chunk type: its CRC is the fixed trailer of every PNG.
        assert_eq!(hash(b"IEND"), 0xAE42_6082);
    }

    #[test]
    fn matches_crc32fast_at_every_length_and_alignment() {
        // Deterministic pseudo-random bytes (xorshift), lengths across the 16-byte blocks.
        let mut x = 0x9E37_79B9_u32;
        let data: Vec<u8> = (0..1200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x.to_le_bytes()[0]
            })
            .collect();
        for start in 0..17 {
            for len in (0..200).chain([511, 512, 513, 1000]) {
                let s = &data[start..start + len];
                assert_eq!(hash(s), crc32fast::hash(s), "start {start} len {len}");
            }
        }
    }
}
