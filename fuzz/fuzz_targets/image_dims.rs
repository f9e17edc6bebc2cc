//! Arbitrary bytes: whenever `image::inspect` accepts them and the `image` crate (what the local
//! stand-in decodes input images with) can read their header too, both must read the same
//! dimensions — the mask check and `MAX_IMAGE_PIXELS` rely on `inspect`'s answer being the size
//! a decoder will produce. See FUZZING.md: this target finds malformed JPEGs on which they differ.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use sdxl_core::image::inspect;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = inspect(data) else {
        return;
    };
    let decoder = image::ImageReader::new(Cursor::new(data))
        .with_guessed_format()
        .ok()
        .and_then(|r| r.into_dimensions().ok());
    if let Some(dims) = decoder {
        assert_eq!(
            (info.width, info.height),
            dims,
            "sdxl-core and the image crate read different dimensions"
        );
    }
});
