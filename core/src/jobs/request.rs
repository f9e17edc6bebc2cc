//! A create request (`POST /v1/predictions` or `POST /v1/models/{owner}/{name}/predictions`)
//! read by its fields, its `input` kept as the body's own text and read by the model's table
//! exactly as the native routes read a body ([`model_input`]), before anything is queued: a bad
//! request is a 4xx at once, never a failed job.
//!
//! `n` in the input asks for variations: image *i* is made with seed `seed + i` (a seed is drawn
//! when none is sent), as on the OpenAI route. The variants are one input and their seeds, never
//! a copy of the input per image.

use serde_json::{Map, Value};

use super::webhook::{check_url, WebhookEvent, WebhookUrlError};
use crate::models;
use crate::openai::seeds::{seed_schedule, MAX_IMAGES};
use crate::parse::object_fields::{object_fields, ObjectFields, SmallValues};
use crate::parse::windowed::WINDOW;
use crate::parse::{parse_json_from, ByteSource, RawRequest, RawValue};
use crate::violation::{Rule, Violation};
use crate::{ApiError, ModelSpec};

/// A create request, read.
#[derive(Debug, Clone)]
pub struct CreateRequest<'a> {
    pub model: &'static ModelSpec,
    /// The input object's JSON text, as sent (its `n` included: [`model_input`] sets it aside).
    pub input: &'a str,
    /// The seed of each image (`seed + i`); empty for a model without a seed (one image).
    pub seeds: Vec<i64>,
    /// The input as sent, long values shortened (so an input image is not echoed back).
    pub input_echo: Value,
    pub webhook: Option<(String, Vec<WebhookEvent>)>,
}

impl CreateRequest<'_> {
    /// How many images the job makes.
    #[must_use]
    pub fn images(&self) -> usize {
        self.seeds.len().max(1)
    }

    /// The seed of image `variant`, if the model takes one.
    #[must_use]
    pub fn seed_of(&self, variant: usize) -> Option<i64> {
        self.seeds.get(variant).copied()
    }
}

/// Values whose JSON text is longer than this are echoed shortened.
const ECHO_MAX_BYTES: usize = 4096;
/// The most the echo of one input takes, as written back: it is stored in the job's row.
const ECHO_TOTAL_BYTES: usize = 16 * 1024;

/// Reads a create request. `model_in_path` is the model of `/v1/models/{owner}/{name}/...`.
///
/// # Errors
/// A body that is not a JSON object, no known model (404), and every violation of the
/// prediction's own fields (`input`, `input.n`, `webhook`, `webhook_events_filter`); the model's
/// fields are checked afterwards by the caller, with [`model_input`].
pub fn read_create<'a>(
    body: &'a [u8],
    model_in_path: Option<&str>,
    allow_insecure_webhooks: bool,
    draw_seed: &mut dyn FnMut() -> i64,
) -> Result<CreateRequest<'a>, ApiError> {
    let fields = object_fields(body).map_err(|e| {
        invalid(Violation::whole_request(
            Rule::Type,
            format!("the body must be a JSON object: {e}"),
        ))
    })?;
    let mut violations = Vec::new();
    let mut small = SmallValues::default();
    let own = small_fields(
        &fields,
        &["version", "model", "webhook", "webhook_events_filter"],
        "",
        &mut small,
        &mut violations,
    );
    let model = model_of(model_in_path, &own)?;
    let input_text = match fields.get("input").map(|t| t.get()) {
        Some(text) if text.starts_with('{') => text,
        None => {
            violations.push(Violation::new("/input", Rule::Required, "is required"));
            "{}"
        }
        Some(_) => {
            violations.push(Violation::new("/input", Rule::Type, "must be an object"));
            "{}"
        }
    };
    let input_fields = object_fields(input_text.as_bytes())
        .map_err(|e| invalid(Violation::new("/input", Rule::Type, e.to_string())))?;
    let input = small_fields(
        &input_fields,
        &["n", "seed"],
        "/input",
        &mut small,
        &mut violations,
    );
    let input_echo = echo(&input_fields);
    let n = read_n(&input, &mut violations);
    let webhook = read_webhook(&own, allow_insecure_webhooks, &mut violations);

    let seeds = match model.field("seed") {
        None if n > 1 => {
            violations.push(Violation::new(
                "/input/n",
                Rule::Maximum,
                format!(
                    "must be 1: {} takes no seed, so its images cannot vary",
                    model.id
                ),
            ));
            Vec::new()
        }
        None => Vec::new(),
        Some(_) => match input.get("seed") {
            // A seed the table refuses is reported by the table, with the image's other fields.
            Some(Value::Number(s)) if whole(s).is_some() => {
                let base = whole(s).unwrap_or_default();
                match seed_schedule(base, n) {
                    Ok(seeds) => seeds,
                    Err(e) => {
                        violations.push(Violation::new(
                            "/input/seed",
                            Rule::Maximum,
                            e.to_string(),
                        ));
                        Vec::new()
                    }
                }
            }
            // Not a whole number: the table refuses it; `n` must not be lost meanwhile.
            Some(_) => vec![],
            None => seed_schedule(draw_seed(), n).unwrap_or_default(),
        },
    };
    if !violations.is_empty() {
        return Err(ApiError::Invalid(violations));
    }
    Ok(CreateRequest {
        model,
        input: input_text,
        seeds,
        input_echo,
        webhook,
    })
}

/// A JSON number as the model tables take an integer: `7` and `7.0` (and `7e0`) alike, within
/// JavaScript's exact integers; `None` for anything else.
fn whole(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    (f.fract() == 0.0 && f.abs() <= crate::model::MAX_SAFE_INTEGER as f64).then_some(f as i64)
}

/// The model's fields of a prediction's `input`, read as the native routes read a body (by the
/// same windowed parser, a window at a time, images decoded once), with `n` (this API's field,
/// not the model's) set aside and the seed of the image, when there is one, in place of the
/// seed sent. Violations point under `/input`.
///
/// # Errors
/// The input is no JSON object.
pub fn model_input<S: ByteSource + ?Sized>(
    model: &'static ModelSpec,
    input: &S,
    seed: Option<i64>,
) -> Result<RawRequest, ApiError> {
    let mut raw = parse_json_from(model, input, WINDOW)
        .map_err(ApiError::from)
        .map_err(under_input)?;
    if model.field("n").is_none() {
        raw.unknown.forget("n".to_owned());
    }
    if let (Some(seed), Some(field)) = (seed, model.field("seed")) {
        raw.take("seed");
        raw.insert(field, RawValue::Json(Value::from(seed)));
    }
    Ok(raw)
}

/// The fields `names` of `fields` as small values (the first of each name); a value too long
/// to parse is a violation under `prefix`.
fn small_fields(
    fields: &ObjectFields<'_>,
    names: &[&str],
    prefix: &str,
    small: &mut SmallValues,
    violations: &mut Vec<Violation>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for name in names {
        let Some(text) = fields.get(name) else {
            continue;
        };
        match small.parse(text) {
            Ok(value) => {
                out.insert((*name).to_owned(), value);
            }
            Err(len) => violations.push(Violation::new(
                format!("{prefix}/{name}"),
                Rule::Maximum,
                format!("is {len} bytes of JSON; far more than the field can need"),
            )),
        }
    }
    out
}

/// The model: the path's, else `version` or `model` in the body (`@cf/owner/name`,
/// `owner/name`, or either with a `:version` suffix, which is ignored).
fn model_of(
    model_in_path: Option<&str>,
    fields: &Map<String, Value>,
) -> Result<&'static ModelSpec, ApiError> {
    let named = match model_in_path {
        Some(m) => m.to_owned(),
        None => {
            let sent = ["version", "model"]
                .iter()
                .find_map(|name| fields.get(*name).and_then(Value::as_str));
            let Some(sent) = sent else {
                return Err(invalid(Violation::new(
                    "/version",
                    Rule::Required,
                    "is required (or 'model'): a Workers AI model id such as @cf/bytedance/stable-diffusion-xl-lightning",
                )));
            };
            let sent = sent.split(':').next().unwrap_or(sent);
            if sent.starts_with("@cf/") {
                sent.to_owned()
            } else {
                format!("@cf/{sent}")
            }
        }
    };
    models::by_id(&named).ok_or_else(|| ApiError::NoSuchModel(named.chars().take(100).collect()))
}

/// `n` of the input.
fn read_n(input: &Map<String, Value>, violations: &mut Vec<Violation>) -> u32 {
    match input.get("n") {
        None | Some(Value::Null) => 1,
        Some(Value::Number(n)) => match n.as_u64() {
            Some(n @ 1..=8) => u32::try_from(n).unwrap_or(1),
            _ => {
                violations.push(
                    Violation::new(
                        "/input/n",
                        Rule::Maximum,
                        format!("must be a whole number from 1 to {MAX_IMAGES}"),
                    )
                    .with_limit(MAX_IMAGES),
                );
                1
            }
        },
        Some(_) => {
            violations.push(Violation::new(
                "/input/n",
                Rule::Type,
                "must be a whole number",
            ));
            1
        }
    }
}

fn read_webhook(
    fields: &Map<String, Value>,
    allow_insecure: bool,
    violations: &mut Vec<Violation>,
) -> Option<(String, Vec<WebhookEvent>)> {
    let url = match fields.get("webhook") {
        None | Some(Value::Null) => return None,
        Some(Value::String(url)) => match check_url(url, allow_insecure) {
            Ok(()) => url.clone(),
            Err(why) => {
                violations.push(Violation::new("/webhook", Rule::Type, why.to_string()));
                return None;
            }
        },
        Some(_) => {
            violations.push(Violation::new(
                "/webhook",
                Rule::Type,
                WebhookUrlError::NotHttps.to_string(),
            ));
            return None;
        }
    };
    let events = match fields.get("webhook_events_filter") {
        None | Some(Value::Null) => WebhookEvent::ALL.to_vec(),
        Some(Value::Array(names)) => {
            let mut events = Vec::new();
            for (i, name) in names.iter().enumerate() {
                match name.as_str().and_then(WebhookEvent::named) {
                    Some(e) => events.push(e),
                    None => violations.push(Violation::new(
                        format!("/webhook_events_filter/{i}"),
                        Rule::Type,
                        "must be one of start, output, logs, completed",
                    )),
                }
            }
            events
        }
        Some(_) => {
            violations.push(Violation::new(
                "/webhook_events_filter",
                Rule::Type,
                "must be an array of event names",
            ));
            Vec::new()
        }
    };
    Some((url, events))
}

/// The input as echoed in the prediction, field by field: a value whose JSON text is short is
/// echoed as it is; a longer one as its first characters and its size, so no input image nor
/// padding reaches the job's stored row. A long string without escapes (base64, a data URL) is
/// sized in characters, counted on its text without a copy; anything else in bytes of JSON.
fn echo(input: &ObjectFields<'_>) -> Value {
    let mut out = Map::new();
    let mut total = 0;
    let mut left_out = 0;
    for (name, text) in input.iter() {
        // Names are echoed up to 64 characters.
        let name: String = name.chars().take(64).collect();
        if out.contains_key(&name) {
            continue;
        }
        let value = echoed(text.get());
        // The whole echo within ECHO_TOTAL_BYTES, as written back.
        let size = name.len() + serde_json::to_string(&value).map_or(0, |t| t.len());
        if total + size > ECHO_TOTAL_BYTES {
            left_out += 1;
            continue;
        }
        total += size;
        out.insert(name, value);
    }
    if left_out > 0 {
        out.insert(
            "...".to_owned(),
            Value::from(format!("{left_out} more fields not echoed")),
        );
    }
    Value::Object(out)
}

/// One value's echo: the value itself when it is written back within [`ECHO_MAX_BYTES`] (a
/// short number can be written longer than it came: `1e15` is `1000000000000000.0`), else its
/// first characters and its size.
fn echoed(text: &str) -> Value {
    if text.len() <= ECHO_MAX_BYTES {
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        if serde_json::to_string(&value).map_or(0, |t| t.len()) <= ECHO_MAX_BYTES {
            return value;
        }
    }
    let plain = text
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| !t.contains('\\'));
    match plain {
        Some(string) => {
            let head: String = string.chars().take(64).collect();
            Value::from(format!("{head}... ({} characters)", string.chars().count()))
        }
        None => {
            let head: String = text.chars().take(64).collect();
            Value::from(format!("{head}... ({} bytes of JSON)", text.len()))
        }
    }
}

/// A model's violations of one image's body, pointed under `/input`.
#[must_use]
pub fn under_input(error: ApiError) -> ApiError {
    match error {
        ApiError::Invalid(violations) => ApiError::Invalid(
            violations
                .into_iter()
                .map(|mut v| {
                    if v.path.starts_with('/') {
                        let quoted = format!("'{}'", v.path);
                        v.path = format!("/input{}", v.path);
                        if let Some(rest) = v.message.strip_prefix(&quoted) {
                            v.message = format!("'{}'{rest}", v.path);
                        }
                    }
                    v
                })
                .collect(),
        ),
        other => other,
    }
}

fn invalid(violation: Violation) -> ApiError {
    ApiError::Invalid(vec![violation])
}

#[cfg(test)]
mod tests;
