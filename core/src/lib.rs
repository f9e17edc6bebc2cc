//! Pure logic of the SDXL-Lightning gateway, with no `worker` dependency so it is tested natively:
//! the model tables, request parsing, validation and normalization, image sniffing, and the
//! error envelope. The Worker crate only wires these to HTTP and the AI binding.

pub mod access;
pub mod answer;
pub mod base64_image;
pub mod budget;
pub mod cache_key;
pub mod config;
pub mod cost;
pub mod crc32;
pub mod dispatch;
pub mod documents;
pub mod echo;
pub mod envelope;
pub mod headers;
pub mod image;
pub mod inputs;
pub mod jobs;
pub mod json_schema;
pub mod json_text;
pub mod lru;
pub mod model;
pub mod models;
pub mod multipart;
pub mod normalize;
pub mod observe;
pub mod openai;
pub mod openapi;
pub mod parse;
pub mod permalink;
pub mod pipeline;
pub mod quota;
pub mod replay;
pub mod request_head;
pub mod retry;
pub mod route;
pub mod upstream;
pub mod violation;

pub use envelope::ApiError;
pub use image::{ImageFormat, ImageInfo};
pub use inputs::{InputImage, InputValue, Inputs, Normalized};
pub use model::ModelSpec;
pub use normalize::{normalize, Policy, UnknownFields};
pub use parse::{parse_form, parse_json, parse_query, BodyError, FormPart, RawRequest};
pub use violation::{Rule, Violation};

/// Parses, validates and normalizes a JSON body for `spec` in one call.
///
/// # Errors
/// [`ApiError::Body`] when the body is not a JSON object, [`ApiError::Invalid`] with every
/// violation when it breaks the contract.
pub fn validate_json(
    spec: &'static ModelSpec,
    body: &[u8],
    policy: Policy,
    draw_seed: &mut dyn FnMut() -> i64,
) -> Result<Normalized, ApiError> {
    let raw = parse_json(spec, body)?;
    normalize(spec, raw, policy, draw_seed).map_err(ApiError::Invalid)
}
