//! `stream: true`: the images as OpenAI's server-sent events, one `image_generation.completed`
//! (or `image_edit.completed`) event per image, in order.
//!
//! The events are written once every image is made: the models answer whole images, so there is
//! no partial image to send (`partial_images` is accepted, and none is sent), and an answer whose
//! images are all in hand cannot fail after its first byte, so no `error` event is ever needed:
//! every refusal and failure is the ordinary JSON error, with its status. Like the JSON answer,
//! the events are text pieces with each image's base64 spliced in between on the JS side.

use crate::openai::answer::{size_text, usage, AnswerItem, Answered};
use crate::openai::request::{extension, Endpoint};

/// The media type of the answer.
pub const EVENT_STREAM: &str = "text/event-stream";

/// The `type` (and SSE `event` name) of the event that carries a finished image.
#[must_use]
pub fn completed_event(endpoint: Endpoint) -> &'static str {
    match endpoint {
        Endpoint::Generations => "image_generation.completed",
        Endpoint::Edits => "image_edit.completed",
    }
}

/// The events' text in pieces: each item's base64 goes between two pieces, in order (one piece
/// more than items, as [`crate::openai::answer::answer_pieces`]). Each event carries OpenAI's
/// fields (`type`, `b64_json`, `created_at`, `size`, `quality`, `background`, `output_format`,
/// `usage`, this image's) and the image's `seed`. `size` and `quality` are `auto` where the
/// model chose them itself. Items are always base64 here (a stream carries no `url`).
#[must_use]
pub fn event_pieces(endpoint: Endpoint, answered: &Answered, items: &[AnswerItem]) -> Vec<String> {
    let kind = completed_event(endpoint);
    let mut pieces = Vec::with_capacity(items.len() + 1);
    let mut text = String::new();
    let size = size_text(answered.size).unwrap_or_else(|| "auto".into());
    let quality = answered.quality.map_or("auto", |q| q.name());
    let usage = usage(answered.tile_steps);
    for item in items {
        // One `data:` line: JSON text has no raw line breaks, nor does base64; every value here
        // is a number or a fixed ASCII name, so nothing needs escaping.
        text.push_str(&format!(
            "event: {kind}\ndata: {{\"type\":\"{kind}\",\"b64_json\":\""
        ));
        pieces.push(std::mem::take(&mut text));
        let seed = item.seed.map_or("null".into(), |s| s.to_string());
        text.push_str(&format!(
            "\",\"created_at\":{},\"size\":\"{size}\",\"quality\":\"{quality}\",\"background\":\"opaque\",\"output_format\":\"{}\",\"usage\":{usage},\"seed\":{seed}}}\n\n",
            answered.created,
            extension(item.format),
        ));
    }
    pieces.push(text);
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::ImageFormat;
    use crate::openai::options::Quality;
    use serde_json::{json, Value};

    /// The events as a client's SSE reader sees them: (event name, parsed data).
    fn events(pieces: &[String], images: &[&str]) -> Vec<(String, Value)> {
        assert_eq!(pieces.len(), images.len() + 1);
        let mut text = pieces[0].clone();
        for (image, piece) in images.iter().zip(&pieces[1..]) {
            text.push_str(image);
            text.push_str(piece);
        }
        assert!(text.ends_with("\n\n"), "every event ends with a blank line");
        text.split("\n\n")
            .filter(|e| !e.is_empty())
            .map(|event| {
                let lines: Vec<&str> = event.lines().collect();
                assert_eq!(lines.len(), 2, "one event line, one data line: {event}");
                let name = lines[0].strip_prefix("event: ").unwrap().to_owned();
                let data = serde_json::from_str(lines[1].strip_prefix("data: ").unwrap()).unwrap();
                (name, data)
            })
            .collect()
    }

    fn item(seed: i64, format: ImageFormat) -> AnswerItem {
        AnswerItem {
            seed: Some(seed),
            format,
            url: None,
        }
    }

    #[test]
    fn one_completed_event_per_image_with_openais_fields() {
        let answered = Answered {
            created: 1_700_000_000,
            size: Some((1024, 768)),
            quality: Some(Quality::High),
            tile_steps: 6 * 20,
        };
        let items = [item(7, ImageFormat::Png), item(8, ImageFormat::Jpeg)];
        let pieces = event_pieces(Endpoint::Generations, &answered, &items);
        let got = events(&pieces, &["QUE=", "Qg=="]);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, "image_generation.completed");
        assert_eq!(
            got[0].1,
            json!({
                "type": "image_generation.completed",
                "b64_json": "QUE=",
                "created_at": 1_700_000_000,
                "size": "1024x768",
                "quality": "high",
                "background": "opaque",
                "output_format": "png",
                "usage": {
                    "input_tokens": 0,
                    "input_tokens_details": {"text_tokens": 0, "image_tokens": 0},
                    "output_tokens": 120,
                    "total_tokens": 120,
                },
                "seed": 7,
            })
        );
        assert_eq!(got[1].1["b64_json"], "Qg==");
        assert_eq!(got[1].1["output_format"], "jpeg");
        assert_eq!(got[1].1["seed"], 8);
    }

    #[test]
    fn edits_have_their_own_event_and_unknowns_are_auto() {
        let answered = Answered {
            created: 1,
            size: None,
            quality: None,
            tile_steps: 16,
        };
        let items = [AnswerItem {
            seed: None,
            ..item(0, ImageFormat::Png)
        }];
        let got = events(&event_pieces(Endpoint::Edits, &answered, &items), &["iVBO"]);
        assert_eq!(got[0].0, "image_edit.completed");
        assert_eq!(got[0].1["type"], "image_edit.completed");
        assert_eq!(got[0].1["size"], "auto");
        assert_eq!(got[0].1["quality"], "auto");
        assert_eq!(got[0].1["seed"], Value::Null);
    }
}
