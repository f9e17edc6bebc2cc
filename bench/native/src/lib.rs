//! The gateway's own work on one request body, as `src/generate.rs` does it: `parse_json` (one pass
//! over the JSON, image arrays read straight into bytes), `normalize` (every rule, defaults, images
//! decoded from base64 and inspected) and `cache_key` (SHA-256 over the canonical inputs, images
//! included). Timed where clocks are real:
//!
//! - natively by `src/main.rs` (`cargo run --release`);
//! - as Wasm through the C ABI below, built with `cargo build --release --target
//!   wasm32-unknown-unknown`, in Node's V8 (`bench/lib/wasm-timing.mjs`) and in a local workerd
//!   (`bench/workers/ownwork.js`), both running the steps of `bench/lib/own-work-steps.mjs`, which
//!   also do the JS side of each step as the Worker does.

use base64::Engine as _;
use sdxl_core::cache_key::{cache_key, cache_key_with};
use sdxl_core::models::SDXL_LIGHTNING;
use sdxl_core::{normalize, parse_json, Normalized, Policy, RawRequest};

/// Step 1: the body read into fields.
///
/// # Errors
/// When the body is not a JSON object.
pub fn parse(body: &[u8]) -> Result<RawRequest, String> {
    parse_json(&SDXL_LIGHTNING, body).map_err(|e| e.to_string())
}

/// Step 2: the fields checked and normalized (defaults filled, images decoded and inspected).
///
/// # Errors
/// When the request breaks the contract.
pub fn validate(raw: RawRequest) -> Result<Normalized, String> {
    // A fixed seed: drawing one is not part of what is measured.
    normalize(&SDXL_LIGHTNING, raw, Policy::default(), &mut || 42)
        .map_err(|violations| format!("{violations:?}"))
}

/// Step 3: the cache key.
#[must_use]
pub fn key(normalized: &Normalized) -> String {
    cache_key(normalized)
}

/// Step 3 as the Worker does it: the images' digests come from WebCrypto (timed on the JS side),
/// so only the rest of the key is computed in Wasm.
#[must_use]
pub fn key_with_supplied_digests(normalized: &Normalized) -> String {
    let supplied = "0".repeat(64);
    cache_key_with(normalized, &mut |_, _| supplied.clone())
}

/// Step 4 by default (`AI_IMAGE_ENCODING = "base64"`): the image as the `image_b64` string.
#[must_use]
pub fn image_base64(normalized: &Normalized) -> String {
    base64::engine::general_purpose::STANDARD.encode(image(normalized))
}

/// The decoded image, as handed to `AI.run` (with `AI_IMAGE_ENCODING = "array"` the Worker turns
/// it into a JS number array).
#[must_use]
pub fn image(normalized: &Normalized) -> &[u8] {
    normalized
        .inputs
        .image("image")
        .map_or(&[], |img| img.bytes.as_slice())
}

#[cfg(target_arch = "wasm32")]
mod wasm {
    //! A bare C ABI (no wasm-bindgen): the body is copied into memory from `bench_alloc`, each
    //! step is called on its own so JS can time it, and the last result is kept between calls.
    use std::cell::RefCell;

    use sdxl_core::{Normalized, RawRequest};

    thread_local! {
        static BASE64: RefCell<String> = const { RefCell::new(String::new()) };
        static RAW: RefCell<Option<RawRequest>> = const { RefCell::new(None) };
        static NORMALIZED: RefCell<Option<Normalized>> = const { RefCell::new(None) };
    }

    /// Room for `len` bytes, for JS to write a body into; freed by [`bench_free`].
    #[no_mangle]
    pub extern "C" fn bench_alloc(len: usize) -> *mut u8 {
        let mut buffer = Vec::<u8>::with_capacity(len);
        let ptr = buffer.as_mut_ptr();
        std::mem::forget(buffer);
        ptr
    }

    /// # Safety
    /// `ptr` and `len` must come from one [`bench_alloc`] call.
    #[no_mangle]
    pub unsafe extern "C" fn bench_free(ptr: *mut u8, len: usize) {
        drop(Vec::from_raw_parts(ptr, 0, len));
    }

    /// Parses the `len` bytes at `ptr`; answers 1, or 0 if the body is not a JSON object.
    ///
    /// # Safety
    /// `ptr` must hold `len` initialized bytes.
    #[no_mangle]
    pub unsafe extern "C" fn bench_parse(ptr: *const u8, len: usize) -> u32 {
        let body = std::slice::from_raw_parts(ptr, len);
        let raw = super::parse(body).ok();
        let ok = raw.is_some();
        RAW.with(|r| *r.borrow_mut() = raw);
        u32::from(ok)
    }

    /// Validates what [`bench_parse`] read; answers 1, or 0 if it breaks the contract.
    #[no_mangle]
    pub extern "C" fn bench_validate() -> u32 {
        let normalized = RAW
            .with(|r| r.borrow_mut().take())
            .and_then(|raw| super::validate(raw).ok());
        let ok = normalized.is_some();
        NORMALIZED.with(|n| *n.borrow_mut() = normalized);
        u32::from(ok)
    }

    /// Computes the cache key of what [`bench_validate`] kept; answers its length (64).
    #[no_mangle]
    pub extern "C" fn bench_key() -> usize {
        NORMALIZED.with(|n| n.borrow().as_ref().map_or(0, |n| super::key(n).len()))
    }

    /// The key as the Worker computes it, image digests supplied; answers its length (64).
    #[no_mangle]
    pub extern "C" fn bench_key_supplied() -> usize {
        NORMALIZED.with(|n| {
            n.borrow()
                .as_ref()
                .map_or(0, |n| super::key_with_supplied_digests(n).len())
        })
    }

    /// Encodes the kept image as base64; answers the text's length (read at [`bench_b64_ptr`]).
    #[no_mangle]
    pub extern "C" fn bench_image_b64() -> usize {
        let text = NORMALIZED.with(|n| {
            n.borrow()
                .as_ref()
                .map(super::image_base64)
                .unwrap_or_default()
        });
        let len = text.len();
        BASE64.with(|b| *b.borrow_mut() = text);
        len
    }

    /// Where that text starts in memory.
    #[no_mangle]
    pub extern "C" fn bench_b64_ptr() -> *const u8 {
        BASE64.with(|b| b.borrow().as_ptr())
    }

    /// Where the decoded image of what [`bench_validate`] kept starts in memory.
    #[no_mangle]
    pub extern "C" fn bench_image_ptr() -> *const u8 {
        NORMALIZED.with(|n| {
            n.borrow()
                .as_ref()
                .map_or(std::ptr::null(), |n| super::image(n).as_ptr())
        })
    }

    /// How long that image is.
    #[no_mangle]
    pub extern "C" fn bench_image_len() -> usize {
        NORMALIZED.with(|n| n.borrow().as_ref().map_or(0, |n| super::image(n).len()))
    }
}
