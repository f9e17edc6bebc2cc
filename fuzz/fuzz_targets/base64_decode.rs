//! Arbitrary strings into `base64_image::decode`. Beyond "does not panic": it is never stricter
//! than the `base64` crate's strict engines (whatever they decode, it decodes to the same bytes,
//! also behind a `data:image/...;base64,` prefix and with line breaks), what it decodes re-encodes
//! and decodes back to the same bytes, and the output is never longer than the input allows.
#![no_main]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sdxl_core::base64_image::decode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let ours = decode(text);

    if let Ok(bytes) = &ours {
        // 4 characters carry 3 bytes; the data URL prefix and whitespace carry none.
        assert!(
            bytes.len() <= text.len() / 4 * 3 + 2,
            "{} bytes from {} chars",
            bytes.len(),
            text.len()
        );
        for engine in [STANDARD, URL_SAFE_NO_PAD] {
            let encoded = engine.encode(bytes);
            assert_eq!(
                decode(&encoded).as_ref(),
                Ok(bytes),
                "re-encoded {encoded:?}"
            );
            let url = format!("data:image/png;base64,{encoded}");
            assert_eq!(decode(&url).as_ref(), Ok(bytes), "as a data URL");
        }
    } else if let Err(e) = &ours {
        assert!(!e.to_string().is_empty());
    }

    // Whatever a strict engine decodes, ours decodes to the same bytes.
    for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
        if let Ok(strict) = engine.decode(text) {
            if strict.is_empty() {
                continue; // "" is refused as empty, on purpose
            }
            assert_eq!(ours.as_ref(), Ok(&strict), "strict engine decodes {text:?}");
            let wrapped: String = text
                .as_bytes()
                .chunks(76)
                .map(|c| std::str::from_utf8(c).expect("base64 is ASCII"))
                .collect::<Vec<_>>()
                .join("\r\n");
            assert_eq!(decode(&wrapped).as_ref(), Ok(&strict), "wrapped in lines");
            let url = format!("data:image/webp;base64,{text}");
            assert_eq!(
                decode(&url).as_ref(),
                Ok(&strict),
                "behind a data URL prefix"
            );
        }
    }
});
