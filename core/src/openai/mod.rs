//! The OpenAI Images API over the same pipeline as the native routes: `POST
//! /v1/images/generations`, `POST /v1/images/edits`, `GET /v1/models`, `GET /v1/models/{id}`.
//! Pure parts only: reading requests, sizes, seeds, masks, the error envelope, the answers and
//! their documentation; the Worker runs the images (`src/openai/`).

pub mod answer;
pub mod error;
pub mod mask;
pub mod openapi;
pub mod options;
pub mod request;
pub mod seeds;
pub mod size;
pub mod stream;

/// A path under `/v1/`, OpenAI's API version prefix, which the SDKs' base URLs end in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenAiRoute {
    Generations,
    Edits,
    Models,
    /// `/v1/models/{id}`: the id raw or percent-encoded (the SDKs encode its slashes).
    Model(String),
    NotFound,
}

impl OpenAiRoute {
    /// The route of `rest`, the path after `/v1`.
    #[must_use]
    pub fn parse(rest: &str) -> OpenAiRoute {
        match rest {
            "/images/generations" => OpenAiRoute::Generations,
            "/images/edits" => OpenAiRoute::Edits,
            "/models" => OpenAiRoute::Models,
            _ => match rest.strip_prefix("/models/") {
                Some(id) if !id.is_empty() => OpenAiRoute::Model(
                    percent_encoding::percent_decode_str(id)
                        .decode_utf8_lossy()
                        .into_owned(),
                ),
                _ => OpenAiRoute::NotFound,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OpenAiRoute;

    #[test]
    fn routes_under_v1() {
        assert_eq!(
            OpenAiRoute::parse("/images/generations"),
            OpenAiRoute::Generations
        );
        assert_eq!(OpenAiRoute::parse("/images/edits"), OpenAiRoute::Edits);
        assert_eq!(OpenAiRoute::parse("/models"), OpenAiRoute::Models);
        let id = "@cf/bytedance/stable-diffusion-xl-lightning";
        for path in [
            "/models/@cf/bytedance/stable-diffusion-xl-lightning",
            "/models/%40cf%2Fbytedance%2Fstable-diffusion-xl-lightning",
        ] {
            assert_eq!(OpenAiRoute::parse(path), OpenAiRoute::Model(id.into()));
        }
        for miss in [
            "",
            "/",
            "/models/",
            "/images",
            "/images/variations",
            "/chat/completions",
        ] {
            assert_eq!(OpenAiRoute::parse(miss), OpenAiRoute::NotFound, "{miss}");
        }
    }
}
