//! Bytes as a prediction's create body: `object_fields`, `read_create`, then `model_input` and
//! `normalize` per image, as the create route and the queue consumer read it. See
//! `sdxl_core_fuzz::prediction` for the invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| sdxl_core_fuzz::prediction::run(body));
