//! The fast path's pre-passes over a window of text: how many commas an array has before its
//! `]`, and where a string's closing quote (or first escape) is. They read every byte of an
//! image's text once more before it is parsed, so they must cost a fraction of the parse: in
//! Wasm with SIMD (`simd128`, which the Worker is built with) sixteen bytes per step, otherwise
//! eight (SWAR).

/// The commas in `window` before its first `]`, and the index of that `]` if it has one.
#[must_use]
pub fn commas_before_close(window: &[u8]) -> (usize, Option<usize>) {
    imp::commas_before_close(window)
}

/// The index of the first `"` or `\` in `window`.
#[must_use]
pub fn string_stop(window: &[u8]) -> Option<usize> {
    imp::string_stop(window)
}

/// Byte by byte: the reference the fast versions are tested against, and their tails.
fn commas_before_close_bytewise(window: &[u8]) -> (usize, Option<usize>) {
    let mut commas = 0;
    for (i, &b) in window.iter().enumerate() {
        match b {
            b']' => return (commas, Some(i)),
            b',' => commas += 1,
            _ => {}
        }
    }
    (commas, None)
}

fn string_stop_bytewise(window: &[u8]) -> Option<usize> {
    window.iter().position(|&b| b == b'"' || b == b'\\')
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod imp {
    use core::arch::wasm32::{
        i8x16_bitmask, u16x8_extadd_pairwise_u8x16, u32x4_extadd_pairwise_u16x8,
        u32x4_extract_lane, u8x16_eq, u8x16_splat, u8x16_sub, v128, v128_any_true, v128_load,
        v128_or,
    };

    /// Sixteen bytes of `chunk` (exactly 16 long) as a vector.
    fn load(chunk: &[u8]) -> v128 {
        debug_assert_eq!(chunk.len(), 16);
        // SAFETY: `chunk` has 16 readable bytes, and `v128_load` has no alignment requirement.
        unsafe { v128_load(chunk.as_ptr().cast::<v128>()) }
    }

    /// The sum of the sixteen byte lanes of `v`.
    fn lanes_sum(v: v128) -> usize {
        let s = u32x4_extadd_pairwise_u16x8(u16x8_extadd_pairwise_u8x16(v));
        (u32x4_extract_lane::<0>(s)
            + u32x4_extract_lane::<1>(s)
            + u32x4_extract_lane::<2>(s)
            + u32x4_extract_lane::<3>(s)) as usize
    }

    pub(super) fn commas_before_close(window: &[u8]) -> (usize, Option<usize>) {
        let (comma, close) = (u8x16_splat(b','), u8x16_splat(b']'));
        let mut commas = 0;
        let mut at = 0;
        while at + 16 <= window.len() {
            // Per-lane counts in bytes: at most 255 steps before they are summed.
            let mut lanes = u8x16_splat(0);
            let stop = (at + 16 * 255).min(window.len() - window.len() % 16);
            while at < stop {
                let v = load(&window[at..at + 16]);
                if v128_any_true(u8x16_eq(v, close)) {
                    let (rest, end) = super::commas_before_close_bytewise(&window[at..at + 16]);
                    return (commas + lanes_sum(lanes) + rest, end.map(|i| at + i));
                }
                // A lane equal to ',' is all ones (-1): subtracting it adds one.
                lanes = u8x16_sub(lanes, u8x16_eq(v, comma));
                at += 16;
            }
            commas += lanes_sum(lanes);
        }
        let (rest, end) = super::commas_before_close_bytewise(&window[at..]);
        (commas + rest, end.map(|i| at + i))
    }

    pub(super) fn string_stop(window: &[u8]) -> Option<usize> {
        let (quote, backslash) = (u8x16_splat(b'"'), u8x16_splat(b'\\'));
        let mut at = 0;
        while at + 16 <= window.len() {
            let v = load(&window[at..at + 16]);
            let hits = v128_or(u8x16_eq(v, quote), u8x16_eq(v, backslash));
            if v128_any_true(hits) {
                return Some(at + i8x16_bitmask(hits).trailing_zeros() as usize);
            }
            at += 16;
        }
        super::string_stop_bytewise(&window[at..]).map(|i| at + i)
    }
}

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod imp {
    /// Bytes of a `u64` with every byte set to `b`.
    const fn splat(b: u8) -> u64 {
        u64::from_ne_bytes([b; 8])
    }

    /// How many bytes of `word` are zero, exactly.
    fn zero_bytes(word: u64) -> u32 {
        let low7 = splat(0x7f);
        let t = ((word & low7).wrapping_add(low7)) | word;
        (!t & splat(0x80)).count_ones()
    }

    /// Whether any byte of `word` is zero (exact: the classic test has no false answers).
    fn has_zero_byte(word: u64) -> bool {
        word.wrapping_sub(splat(0x01)) & !word & splat(0x80) != 0
    }

    fn word(chunk: &[u8]) -> u64 {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(chunk);
        u64::from_ne_bytes(bytes)
    }

    pub(super) fn commas_before_close(window: &[u8]) -> (usize, Option<usize>) {
        let mut commas = 0;
        let mut at = 0;
        while at + 8 <= window.len() {
            let w = word(&window[at..at + 8]);
            if has_zero_byte(w ^ splat(b']')) {
                break;
            }
            commas += zero_bytes(w ^ splat(b',')) as usize;
            at += 8;
        }
        let (rest, end) = super::commas_before_close_bytewise(&window[at..]);
        (commas + rest, end.map(|i| at + i))
    }

    pub(super) fn string_stop(window: &[u8]) -> Option<usize> {
        let mut at = 0;
        while at + 8 <= window.len() {
            let w = word(&window[at..at + 8]);
            if has_zero_byte(w ^ splat(b'"')) || has_zero_byte(w ^ splat(b'\\')) {
                break;
            }
            at += 8;
        }
        super::string_stop_bytewise(&window[at..]).map(|i| at + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows of every length up to 600 and every placement of the stops, from a fixed
    /// pseudo-random text of digits, commas, quotes, brackets and backslashes.
    fn windows() -> impl Iterator<Item = Vec<u8>> {
        let alphabet = b"0123456789,,,,  ]\"\\ab";
        let mut state = 0x2545_f491_u32;
        (0..3000).map(move |i| {
            let len = i % 600;
            let rare = i % 7; // most windows have few stops, as real bodies do
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    let pick = (state % 1000) as usize;
                    if pick < 990 - rare * 10 {
                        alphabet[pick % 11] // digits and commas
                    } else {
                        alphabet[pick % alphabet.len()]
                    }
                })
                .collect()
        })
    }

    #[test]
    fn commas_before_close_matches_the_bytewise_reference() {
        for w in windows() {
            assert_eq!(
                commas_before_close(&w),
                commas_before_close_bytewise(&w),
                "{w:?}"
            );
        }
    }

    #[test]
    fn string_stop_matches_the_bytewise_reference() {
        for w in windows() {
            assert_eq!(string_stop(&w), string_stop_bytewise(&w), "{w:?}");
        }
    }

    #[test]
    fn long_runs_count_past_the_lane_limit() {
        // More than 255 steps of commas: per-lane counters must be summed before they wrap.
        let w = b",".repeat(16 * 300 + 5);
        assert_eq!(commas_before_close(&w), (16 * 300 + 5, None));
        let mut w = b"1,".repeat(5000);
        w.push(b']');
        assert_eq!(commas_before_close(&w), (5000, Some(10_000)));
    }
}
