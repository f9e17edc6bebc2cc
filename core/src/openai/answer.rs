//! OpenAI's answers: the images response and the model list.
//!
//! An images response carries each image as base64; the Worker keeps image bytes in the JS heap,
//! so the answer is made as JSON text pieces here, with the base64 strings spliced in between
//! them on the JS side, never copied into Wasm memory.

use serde_json::{json, Value};

use crate::image::ImageFormat;
use crate::model::ModelSpec;
use crate::openai::request::extension;

/// One image of an answer, as made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerItem {
    /// The seed it was made with (absent for models without one).
    pub seed: Option<i64>,
    /// The format of its bytes.
    pub format: ImageFormat,
    /// Its absolute permalink for `response_format: "url"`; `None`: its base64 goes in
    /// `b64_json`.
    pub url: Option<String>,
}

/// The JSON text of an images response in pieces: the base64 of each item without a `url` goes
/// between two pieces, in order, so there is one piece more than such items.
///
/// `output_format` states the format of the bytes: the one format all images have, or `null`
/// when they differ (each item states its own too). `size` is the size the model was asked
/// for, after rounding (`null` for a model without one).
#[must_use]
pub fn answer_pieces(created: u64, items: &[AnswerItem], size: Option<(i64, i64)>) -> Vec<String> {
    let mut pieces = Vec::with_capacity(items.len() + 1);
    let mut text = format!("{{\"created\":{created},\"data\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        let rest = crate::json_text::text(&json!({
            "revised_prompt": null,
            "seed": item.seed,
            "output_format": extension(item.format),
        }));
        // `rest` is an object: its members follow the image's after its opening brace.
        let members = &rest[1..];
        match &item.url {
            Some(url) => {
                text.push_str("{\"url\":");
                crate::json_text::push(&mut text, &Value::from(url.as_str()));
                text.push(',');
                text.push_str(members);
            }
            None => {
                text.push_str("{\"b64_json\":\"");
                pieces.push(std::mem::take(&mut text));
                text.push_str("\",");
                text.push_str(members);
            }
        }
    }
    let first = items.first().map(|i| i.format);
    let format = first
        .filter(|f| items.iter().all(|i| i.format == *f))
        .map(extension);
    let size = size.map(|(w, h)| format!("{w}x{h}"));
    let tail = crate::json_text::text(&json!({"output_format": format, "size": size}));
    text.push_str("],");
    text.push_str(&tail[1..]);
    pieces.push(text);
    pieces
}

/// `{"object": "list", "data": [...]}` of `models`.
#[must_use]
pub fn model_list(models: &[&ModelSpec]) -> Value {
    json!({
        "object": "list",
        "data": models.iter().map(|m| model_object(m)).collect::<Vec<_>>(),
    })
}

/// One model as OpenAI lists it. `created` is 0: the tables say nothing of when a model was
/// published, and a fixed value keeps the answer the same on every request. `owned_by` is the
/// publisher in the id (`bytedance` in `@cf/bytedance/...`).
#[must_use]
pub fn model_object(spec: &ModelSpec) -> Value {
    let owner = spec.id.split('/').nth(1).unwrap_or("cloudflare");
    json!({"id": spec.id, "object": "model", "created": 0, "owned_by": owner})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models;

    fn splice(pieces: &[String], images: &[&str]) -> Value {
        assert_eq!(pieces.len(), images.len() + 1);
        let mut text = pieces[0].clone();
        for (image, piece) in images.iter().zip(&pieces[1..]) {
            text.push_str(image);
            text.push_str(piece);
        }
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn base64_images_are_spliced_between_pieces() {
        let items = [
            AnswerItem {
                seed: Some(42),
                format: ImageFormat::Png,
                url: None,
            },
            AnswerItem {
                seed: Some(43),
                format: ImageFormat::Png,
                url: None,
            },
        ];
        let answer = splice(
            &answer_pieces(1_700_000_000, &items, Some((1024, 768))),
            &["QUE=", "Qg=="],
        );
        assert_eq!(
            answer,
            json!({
                "created": 1_700_000_000,
                "data": [
                    {"b64_json": "QUE=", "revised_prompt": null, "seed": 42, "output_format": "png"},
                    {"b64_json": "Qg==", "revised_prompt": null, "seed": 43, "output_format": "png"},
                ],
                "output_format": "png",
                "size": "1024x768",
            })
        );
    }

    #[test]
    fn urls_are_inline_and_mixed_formats_are_not_claimed() {
        let items = [
            AnswerItem {
                seed: None,
                format: ImageFormat::Png,
                url: Some("https://gw.example/images/k-t\"".into()),
            },
            AnswerItem {
                seed: None,
                format: ImageFormat::Jpeg,
                url: Some("https://gw.example/images/k2-t2".into()),
            },
        ];
        let pieces = answer_pieces(5, &items, None);
        let answer = splice(&pieces, &[]);
        assert_eq!(answer["data"][0]["url"], "https://gw.example/images/k-t\"");
        assert_eq!(answer["data"][1]["output_format"], "jpeg");
        assert_eq!(answer["data"][0]["seed"], Value::Null);
        assert_eq!(answer["output_format"], Value::Null);
        assert_eq!(answer["size"], Value::Null);
    }

    #[test]
    fn models_as_openai_lists_them() {
        let list = model_list(models::ALL);
        assert_eq!(list["object"], "list");
        assert_eq!(list["data"].as_array().unwrap().len(), models::ALL.len());
        assert_eq!(
            list["data"][0],
            json!({"id": "@cf/bytedance/stable-diffusion-xl-lightning", "object": "model",
                   "created": 0, "owned_by": "bytedance"})
        );
    }
}
