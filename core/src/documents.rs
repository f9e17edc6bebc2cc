//! The served documents (`GET /models`, `GET /openapi.json`) as files made at build time.
//!
//! Both are functions of the model tables and of two settings only: `MAX_PROMPT_CHARS` (each text
//! field's `maxLength` is the smaller of the table's bound and it) and `ALLOW_ANONYMOUS` (the
//! document's `security`). Building them in each isolate linked the schema writer and the
//! documents' parts into the gateway's Wasm, 18 KiB of its gzipped bundle; instead
//! `cargo run -p sdxl-core --bin documents` writes them as Workers Static Assets (beside the
//! playground, built with the Worker from the same tables), one per `security`, with every text
//! field's `maxLength` at the table's bound, and the Worker applies its `MAX_PROMPT_CHARS` with
//! [`bounded`], which is exactly what building them with that setting gives (tested below).

use crate::json_schema::catalog;
use crate::json_text;
use crate::models;
use crate::normalize::Policy;
use crate::openapi::{document, DocOptions};

/// Where the documents are served from within the assets (the Worker fetches them there).
pub const ASSET_DIR: &str = "documents";
/// `GET /models`.
pub const MODELS: &str = "models.json";
/// `GET /openapi.json` when callers send tokens.
pub const OPENAPI: &str = "openapi.json";
/// `GET /openapi.json` with `ALLOW_ANONYMOUS`.
pub const OPENAPI_ANONYMOUS: &str = "openapi-anonymous.json";

/// Every document file: its name and its text, with no operator bound on text fields.
#[must_use]
pub fn files() -> Vec<(&'static str, String)> {
    let unbounded = Policy {
        max_prompt_chars: usize::MAX,
        ..Policy::default()
    };
    let openapi = |anonymous| {
        json_text::text(&document(&DocOptions {
            models: models::ALL,
            policy: &unbounded,
            anonymous,
        }))
    };
    vec![
        (MODELS, json_text::text(&catalog(models::ALL, &unbounded))),
        (OPENAPI, openapi(false)),
        (OPENAPI_ANONYMOUS, openapi(true)),
    ]
}

/// The name of the `/openapi.json` file for the setting `anonymous`.
#[must_use]
pub fn openapi_file(anonymous: bool) -> &'static str {
    if anonymous {
        OPENAPI_ANONYMOUS
    } else {
        OPENAPI
    }
}

const MAX_LENGTH: &str = "\"maxLength\":";

/// `document` (one of [`files`]) with every `maxLength` at most `max_prompt_chars`: the only
/// `maxLength`s the documents carry are the text fields'.
#[must_use]
pub fn bounded(document: &str, max_prompt_chars: usize) -> String {
    let mut out = String::with_capacity(document.len());
    let mut rest = document;
    while let Some(at) = rest.find(MAX_LENGTH) {
        let (before, after) = rest.split_at(at + MAX_LENGTH.len());
        out.push_str(before);
        let digits = after.bytes().take_while(u8::is_ascii_digit).count();
        let stated: usize = after[..digits].parse().unwrap_or(usize::MAX);
        out.push_str(&stated.min(max_prompt_chars).to_string());
        rest = &after[digits..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built(name: &str) -> String {
        files()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text)
            .unwrap()
    }

    /// A file bounded at run time is the document built with the setting, for bounds below,
    /// between and above the tables' own (FLUX.1's prompt takes at most 2048 characters).
    #[test]
    fn a_bounded_file_is_the_document_built_with_the_setting() {
        for max_prompt_chars in [1, 100, 2048, 3000, 1 << 20] {
            let policy = Policy {
                max_prompt_chars,
                ..Policy::default()
            };
            assert_eq!(
                bounded(&built(MODELS), max_prompt_chars),
                json_text::text(&catalog(models::ALL, &policy)),
                "{max_prompt_chars}"
            );
            for anonymous in [false, true] {
                let direct = json_text::text(&document(&DocOptions {
                    models: models::ALL,
                    policy: &policy,
                    anonymous,
                }));
                assert_eq!(
                    bounded(&built(openapi_file(anonymous)), max_prompt_chars),
                    direct,
                    "{max_prompt_chars} {anonymous}"
                );
            }
        }
    }

    #[test]
    fn only_the_numbers_after_max_length_change() {
        assert_eq!(
            bounded(r#"{"maxLength":5000,"maximum":5000,"x":"maxLength"}"#, 10),
            r#"{"maxLength":10,"maximum":5000,"x":"maxLength"}"#
        );
        assert_eq!(bounded("no bounds", 10), "no bounds");
    }
}
