//! The fast path's pre-passes as the Worker runs them: built for wasm32 with SIMD
//! (.cargo/config.toml), a path the native tests of `sdxl_core::parse::scan` never take.

use sdxl_core::parse::scan::{commas_before_close, string_stop};
use wasm_bindgen_test::wasm_bindgen_test;

fn reference_commas(window: &[u8]) -> (usize, Option<usize>) {
    let end = window.iter().position(|&b| b == b']');
    let commas = window[..end.unwrap_or(window.len())]
        .iter()
        .filter(|&&b| b == b',')
        .count();
    (commas, end)
}

fn reference_stop(window: &[u8]) -> Option<usize> {
    window.iter().position(|&b| b == b'"' || b == b'\\')
}

/// Windows of lengths 0..700 from a fixed pseudo-random text where stops are rare or common.
fn windows() -> Vec<Vec<u8>> {
    let alphabet = b"0123456789, ]\"\\";
    let mut state = 0x9e37_79b9_u32;
    (0..2000)
        .map(|i| {
            let stop_odds = 1 + (i % 5) * 40; // in 1000
            (0..i % 700)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    if state % 1000 < stop_odds {
                        alphabet[12 + (state as usize / 1000) % 3]
                    } else {
                        alphabet[(state as usize / 1000) % 12]
                    }
                })
                .collect()
        })
        .collect()
}

/// The build this file tests is the SIMD one; without it, the test would check the SWAR path twice.
#[cfg(not(target_feature = "simd128"))]
compile_error!("the Worker is built with simd128 (.cargo/config.toml)");

#[wasm_bindgen_test]
fn commas_are_counted_up_to_the_first_close() {
    for w in windows() {
        assert_eq!(commas_before_close(&w), reference_commas(&w), "{w:?}");
    }
    // Beyond 255 sixteen-byte steps, where the per-lane counters are summed.
    let mut long = b"12,".repeat(3000);
    long.push(b']');
    assert_eq!(commas_before_close(&long), (3000, Some(9000)));
}

#[wasm_bindgen_test]
fn a_string_stops_at_its_first_quote_or_backslash() {
    for w in windows() {
        assert_eq!(string_stop(&w), reference_stop(&w), "{w:?}");
    }
}
