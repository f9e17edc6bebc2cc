//! OpenAI's edit mask through `openai::mask::MaskReader` and the zlib codecs of the native tests,
//! built from the fuzz input with right chunk lengths and CRCs (and usually a right Adler-32):
//! see `sdxl_core_fuzz::mask`. Beyond "does not panic": the image data written whole or a few
//! bytes at a time has the same outcome; a converted mask was within the limits; the output is
//! an 8-bit greyscale PNG of the input's size within `converted_bound`, of exactly IHDR, IDAT,
//! IEND, that the `png` crate decodes to black and white only, whose white pixels are the ones
//! the `png` crate reads as fully transparent in the input; and the output, with white declared
//! transparent, converts to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sdxl_core_fuzz::mask::run(data));
