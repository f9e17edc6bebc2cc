//! OpenAI's answers: the images response and the model list.
//!
//! An images response carries each image as base64; the Worker keeps image bytes in the JS heap,
//! so the answer is made as JSON text pieces here, with the base64 strings spliced in between
//! them on the JS side, never copied into Wasm memory.

use serde_json::{json, Value};

use crate::image::ImageFormat;
use crate::model::ModelSpec;
use crate::openai::options::Quality;
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

/// What an answer says of all its images: the same in the JSON answer and in each of the
/// stream's events (`crate::openai::stream`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answered {
    /// Unix seconds.
    pub created: u64,
    /// The size the model was asked for, after rounding (`None` for a model without one).
    pub size: Option<(i64, i64)>,
    /// The `quality` whose steps the images were made with; `None`: the model's own steps.
    pub quality: Option<Quality>,
    /// One image's work: its 512x512 tiles x steps (`crate::cost`), reported as its usage.
    pub tile_steps: u64,
}

/// OpenAI's `usage` for `tile_steps`. These models count no tokens: the work Workers AI prices,
/// 512x512 output tiles x steps, is reported as output tokens; nothing is counted as input (the
/// gateway does not tokenize the prompt, and an input image is not priced). docs/openai.md says
/// so.
///
/// Written as text, as the members around it: a `json!` tree costs the Worker's bundle more.
#[must_use]
pub fn usage(tile_steps: u64) -> String {
    format!(
        "{{\"input_tokens\":0,\"input_tokens_details\":{{\"text_tokens\":0,\"image_tokens\":0}},\"output_tokens\":{tile_steps},\"total_tokens\":{tile_steps}}}"
    )
}

/// The JSON text of an images response in pieces: the base64 of each item without a `url` goes
/// between two pieces, in order, so there is one piece more than such items.
///
/// `output_format` states the format of the bytes: the one format all images have, or `null`
/// when they differ (each item states its own too). `size` is the size the model was asked
/// for, after rounding (`null` for a model without one); `background` is always `opaque`;
/// `quality` is there only when it chose the steps; `usage` counts every image.
#[must_use]
pub fn answer_pieces(answered: &Answered, items: &[AnswerItem]) -> Vec<String> {
    let mut pieces = Vec::with_capacity(items.len() + 1);
    let mut text = format!("{{\"created\":{},\"data\":[", answered.created);
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
    // Every value here is a number or a fixed ASCII name: nothing to escape.
    let quoted = |name: Option<&str>| name.map_or("null".into(), |n| format!("\"{n}\""));
    text.push_str(&format!(
        "],\"background\":\"opaque\",\"output_format\":{},\"size\":{},\"usage\":{}",
        quoted(format),
        quoted(size_text(answered.size).as_deref()),
        usage(answered.tile_steps * items.len() as u64),
    ));
    if let Some(quality) = answered.quality {
        text.push_str(&format!(",\"quality\":\"{}\"", quality.name()));
    }
    text.push('}');
    pieces.push(text);
    pieces
}

/// `"WIDTHxHEIGHT"`.
#[must_use]
pub fn size_text(size: Option<(i64, i64)>) -> Option<String> {
    size.map(|(w, h)| format!("{w}x{h}"))
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
/// publisher in the id (`bytedance` in `@cf/bytedance/...`). `planned_deprecation_date`, beyond
/// OpenAI's fields: when Workers AI plans to retire the model, `null` when its catalog says
/// nothing.
#[must_use]
pub fn model_object(spec: &ModelSpec) -> Value {
    let owner = spec.id.split('/').nth(1).unwrap_or("cloudflare");
    json!({"id": spec.id, "object": "model", "created": 0, "owned_by": owner,
           "planned_deprecation_date": spec.planned_deprecation})
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
        let answered = Answered {
            created: 1_700_000_000,
            size: Some((1024, 768)),
            quality: Some(Quality::Low),
            tile_steps: 6 * 5,
        };
        let answer = splice(&answer_pieces(&answered, &items), &["QUE=", "Qg=="]);
        assert_eq!(
            answer,
            json!({
                "created": 1_700_000_000,
                "data": [
                    {"b64_json": "QUE=", "revised_prompt": null, "seed": 42, "output_format": "png"},
                    {"b64_json": "Qg==", "revised_prompt": null, "seed": 43, "output_format": "png"},
                ],
                "background": "opaque",
                "output_format": "png",
                "quality": "low",
                "size": "1024x768",
                "usage": {
                    "input_tokens": 0,
                    "input_tokens_details": {"text_tokens": 0, "image_tokens": 0},
                    "output_tokens": 60,
                    "total_tokens": 60,
                },
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
        let answered = Answered {
            created: 5,
            size: None,
            quality: None,
            tile_steps: 16,
        };
        let pieces = answer_pieces(&answered, &items);
        let answer = splice(&pieces, &[]);
        assert_eq!(answer["data"][0]["url"], "https://gw.example/images/k-t\"");
        assert_eq!(answer["data"][1]["output_format"], "jpeg");
        assert_eq!(answer["data"][0]["seed"], Value::Null);
        assert_eq!(answer["output_format"], Value::Null);
        assert_eq!(answer["size"], Value::Null);
        assert_eq!(
            answer.get("quality"),
            None,
            "the model's own steps: no quality to state"
        );
        assert_eq!(answer["usage"]["output_tokens"], 32);
    }

    #[test]
    fn models_as_openai_lists_them() {
        let list = model_list(models::ALL);
        assert_eq!(list["object"], "list");
        assert_eq!(list["data"].as_array().unwrap().len(), models::ALL.len());
        assert_eq!(
            list["data"][0],
            json!({"id": "@cf/bytedance/stable-diffusion-xl-lightning", "object": "model",
                   "created": 0, "owned_by": "bytedance", "planned_deprecation_date": null})
        );
    }

    #[test]
    fn a_planned_deprecation_is_listed() {
        let retiring = ModelSpec {
            planned_deprecation: Some("2027-01-31"),
            ..models::SDXL_BASE
        };
        assert_eq!(
            model_object(&retiring)["planned_deprecation_date"],
            "2027-01-31"
        );
    }
}
