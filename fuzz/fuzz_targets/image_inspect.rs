//! Arbitrary bytes into `image::inspect` (and `sniff`, `ends_whole`). Beyond "does not panic":
//! `inspect` Ok implies `sniff` agrees, the size is non-zero, the file ends whole by the rules of
//! its format, and a PNG cut by one byte is refused. (`image_dims` compares the dimensions with a
//! real decoder's.)
#![no_main]

use libfuzzer_sys::fuzz_target;
use sdxl_core::image::{ends_whole, inspect, sniff, ImageFormat, SNIFF_LEN, TAIL_LEN};

fuzz_target!(|data: &[u8]| {
    let sniffed = sniff(data);
    // `sniff` looks at the first SNIFF_LEN bytes only.
    assert_eq!(sniffed, sniff(&data[..data.len().min(SNIFF_LEN)]));

    let Ok(info) = inspect(data) else {
        return;
    };
    assert_eq!(sniffed, Some(info.format), "inspect and sniff disagree");
    assert!(info.width > 0 && info.height > 0);
    let head = &data[..data.len().min(SNIFF_LEN)];
    let tail = &data[data.len().saturating_sub(TAIL_LEN)..];
    assert!(ends_whole(info.format, head, tail, data.len()));
    match info.format {
        ImageFormat::Png => {
            assert!(data.ends_with(b"\0\0\0\0IEND\xAE\x42\x60\x82"));
            assert!(
                inspect(&data[..data.len() - 1]).is_err(),
                "a cut PNG accepted"
            );
        }
        ImageFormat::Webp => {
            let declared = u32::from_le_bytes([data[4], data[5], data[6], data[7]]);
            assert!(u64::from(declared) + 8 <= data.len() as u64);
        }
        ImageFormat::Jpeg => assert!(tail.windows(2).any(|w| w == [0xFF, 0xD9])),
    }
});
