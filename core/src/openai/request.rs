//! An OpenAI Images request (`/v1/images/generations` or `/v1/images/edits`) read into what the
//! native pipeline runs: the model's table, the fields it takes (the same [`RawRequest`] the
//! native routes build, so the same validation, defaults, rounding and cache keys), and what only
//! the OpenAI surface has: `n` and its seeds, `size`, `response_format`, `output_format`, and the
//! fields `crate::openai::options` rules on (`quality` becomes the model's steps; `stream`).
//!
//! Every violation is collected before anything runs: OpenAI's fields first, in the order of
//! [`OPENAI_FIELDS`], then the model table's own (validated here once, exactly as each image will
//! be), so `param` names the first offending field and the message lists them all.

use serde_json::Value;

use crate::image::{inspect, ImageFormat};
use crate::inputs::Normalized;
use crate::model::{FieldSpec, ModelSpec, Output};
use crate::models::{self, MAX_REFERENCE_IMAGES, REFERENCE_IMAGES};
use crate::normalize::{normalize, Policy};
use crate::openai::mask::{converted_bound, MaskError, MaskLimits, MaskReader};
use crate::openai::options::{
    check_accepted, check_background, check_output_compression, check_partial_images,
    quality_steps, Quality, ACCEPTED, STEP_FIELDS,
};
use crate::openai::seeds::{seed_schedule, MAX_IMAGES};
use crate::openai::size::{check_size, edit_size, parse_size, SizeRequest};
use crate::parse::object_fields::{
    object_fields, SmallValues, SMALL_VALUES_TOTAL, SMALL_VALUE_BYTES,
};
use crate::parse::{parse_form, FormPart, RawRequest, RawValue};
use crate::violation::{Rule, Violation};
use crate::ApiError;

/// Which route a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `POST /v1/images/generations`: JSON, text to image.
    Generations,
    /// `POST /v1/images/edits`: multipart, an input image and an optional mask.
    Edits,
}

/// A request body as read: a JSON object, or the parts of a form.
#[derive(Debug, Clone)]
pub enum Body {
    Json(serde_json::Map<String, Value>),
    Form(Vec<(String, FormPart)>),
}

impl Body {
    /// A JSON body read by its top-level fields, each value parsed only when small
    /// (`crate::parse::object_fields`): no field of this route is large, and a large one is
    /// refused by name before anything is built of it.
    ///
    /// # Errors
    /// As the native routes refuse a body that is no JSON object; a field too long to parse.
    pub fn from_json(bytes: &[u8]) -> Result<Body, ApiError> {
        let fields = object_fields(bytes)?;
        let mut small = SmallValues::default();
        let mut map = serde_json::Map::new();
        let mut too_long = Vec::new();
        for (name, text) in fields.iter() {
            match small.parse(text) {
                Ok(value) => {
                    map.insert(name.to_owned(), value);
                }
                Err(len) => too_long.push(
                    Violation::new(
                        format!("/{}", name.chars().take(64).collect::<String>()),
                        Rule::Maximum,
                        format!(
                            "is {len} bytes of JSON; a field of this route may be at most {SMALL_VALUE_BYTES} (and all together {SMALL_VALUES_TOTAL})"
                        ),
                    )
                    .with_limit(SMALL_VALUE_BYTES as u64),
                ),
            }
        }
        if too_long.is_empty() {
            Ok(Body::Json(map))
        } else {
            Err(ApiError::Invalid(too_long))
        }
    }
}

/// How images are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    /// `b64_json`, the default (as OpenAI's GPT image models answer).
    B64Json,
    /// `url`: the image's absolute permalink.
    Url,
}

/// The `strength` of an edit without a mask (img2img) when the request sends none. The table's
/// default, 1, would replace the input image entirely; 0.75 keeps its composition and colours
/// while following the prompt. With a mask, the table's default applies (the masked area is
/// repainted).
pub const EDIT_STRENGTH: f64 = 0.75;

/// The fields OpenAI's Images API defines, in the order their violations are listed. Each is
/// read here; those with nothing to do (`crate::openai::options::ACCEPTED`, `partial_images`
/// above 0, a `quality` that chose no steps) are checked and named in `x-ignored-fields`,
/// whatever `UNKNOWN_FIELDS` says, since OpenAI clients send them as a matter of course.
pub const OPENAI_FIELDS: [&str; 16] = [
    "model",
    "n",
    "size",
    "response_format",
    "output_format",
    "quality",
    "background",
    "output_compression",
    "stream",
    "partial_images",
    "moderation",
    "style",
    "input_fidelity",
    "user",
    "image",
    "mask",
];

/// The model's fields that OpenAI's surface sets in its own way, with what to send instead.
const REPLACED: [(&str, &str); 5] = [
    ("width", "set the size with 'size' (\"WIDTHxHEIGHT\")"),
    ("height", "set the size with 'size' (\"WIDTHxHEIGHT\")"),
    (
        "image_b64",
        "send the input image as the file 'image' to /v1/images/edits",
    ),
    (
        "image",
        "send input images as files to /v1/images/edits, not to /v1/images/generations",
    ),
    (
        "mask",
        "send masks as files to /v1/images/edits, not to /v1/images/generations",
    ),
];

/// An OpenAI Images request, checked and ready to run once per image.
#[derive(Debug, Clone)]
pub struct ImagesRequest {
    pub model: &'static ModelSpec,
    /// The model's fields, the seed left out (each image gets its own).
    raw: RawRequest,
    /// One seed per image (`seed + i`); empty for models without a seed (then `n` is 1).
    pub seeds: Vec<i64>,
    /// True when no seed was sent and the gateway drew the first.
    pub seed_drawn: bool,
    pub n: u32,
    /// The size forwarded, after rounding; `None` when the model has none.
    pub size: Option<(i64, i64)>,
    pub response_format: ResponseFormat,
    /// The format asked for, when one was (always the model's own: nothing is transcoded).
    pub output_format: Option<ImageFormat>,
    /// The `quality` whose steps the images are made with; `None`: the model's own steps.
    pub quality: Option<Quality>,
    /// `stream: true`: answered as server-sent events (`crate::openai::stream`).
    pub stream: bool,
    /// Fields accepted but not forwarded: OpenAI's meaningless ones and, under
    /// `UNKNOWN_FIELDS = "ignore"`, the model's unknown ones.
    pub ignored: Vec<String>,
}

impl ImagesRequest {
    /// The model's fields for image `i` (`0..n`): the request's, with the seed `seeds[i]`.
    #[cfg(test)]
    #[must_use]
    pub(crate) fn raw_for(&self, i: usize) -> RawRequest {
        let mut raw = self.raw.clone();
        if let (Some(seed), Some(field)) = (self.seeds.get(i), self.model.field("seed")) {
            raw.insert(field, RawValue::Json(Value::from(*seed)));
        }
        raw
    }

    /// The model's fields of the first image, taken out (its images moved, not copied): the
    /// others are the same request with their own seed (`seeds`), normalized once.
    pub fn take_raw(&mut self) -> RawRequest {
        let mut raw = std::mem::take(&mut self.raw);
        if let (Some(seed), Some(field)) = (self.seeds.first(), self.model.field("seed")) {
            raw.insert(field, RawValue::Json(Value::from(*seed)));
        }
        raw
    }

    /// The bytes the request's images (the input and the converted mask) take in memory.
    #[must_use]
    pub fn held_bytes(&self) -> u64 {
        self.raw
            .fields
            .iter()
            .map(|(_, v)| match v {
                RawValue::Bytes(b) | RawValue::DecodedBase64(b, _) => b.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// How many images to make: `n`, or one for a model without a seed.
    #[must_use]
    pub fn images(&self) -> usize {
        self.seeds.len().max(1)
    }
}

/// A field as sent, JSON value or form part; an empty form part counts as absent.
enum Sent<'a> {
    Json(&'a Value),
    Text(&'a str),
    File(&'a [u8]),
}

impl Sent<'_> {
    /// The value as text, for OpenAI's string fields (`Err`: the JSON kind it is instead).
    fn text(&self) -> Result<&str, &'static str> {
        match self {
            Sent::Json(Value::String(s)) => Ok(s),
            Sent::Text(s) => Ok(s),
            Sent::Json(v) => Err(json_kind(v)),
            Sent::File(_) => Err("a file"),
        }
    }

    fn is_null(&self) -> bool {
        matches!(self, Sent::Json(Value::Null))
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The bytes converting the request's mask will write (held in the memory budget before
/// [`read`] converts it); 0 when there is no readable mask, or one [`read`] refuses for its size
/// before converting anything.
#[must_use]
pub fn mask_conversion_bytes(body: &Body, policy: Policy) -> u64 {
    let Body::Form(parts) = body else { return 0 };
    let limits = MaskLimits::new(policy.max_image_pixels, None);
    parts
        .iter()
        .filter(|(name, _)| name == "mask")
        .filter_map(|(_, part)| match part {
            FormPart::File(bytes) => inspect(bytes).ok(),
            FormPart::Text(_) => None,
        })
        .filter(|info| limits.check(info.width, info.height).is_ok())
        .map(|info| converted_bound(info.width, info.height))
        .sum()
}

/// A request read as far as the conversion of an edit's mask, which needs zlib codecs: the
/// Worker runs the runtime's streams (asynchronously), the tests in-process ones.
pub enum Started<'a> {
    /// Nothing to convert: [`Reading::finish`] checks the rest.
    Ready(Reading),
    /// The edit's mask, its header read and within the limits, to convert with `reader`; the
    /// conversion's outcome goes to `then`. (A mask refused on its header is a violation in
    /// [`Started::Ready`]'s reading instead, and nothing is converted.)
    ConvertMask {
        reader: MaskReader<'a>,
        then: MaskPending,
    },
}

/// A reading that waits for its mask's conversion.
pub struct MaskPending {
    reading: Reading,
    field: &'static FieldSpec,
}

impl MaskPending {
    /// The reading with the converted mask in its fields, or the mask's refusal among its
    /// violations.
    #[must_use]
    pub fn converted(self, outcome: Result<Vec<u8>, MaskError>) -> Reading {
        let MaskPending { mut reading, field } = self;
        match outcome {
            Ok(png) => reading.raw.insert(field, RawValue::Bytes(png)),
            Err(e) => reading.mine.mask_refused(&e),
        }
        reading
    }
}

/// A request read but for its model's rules, which [`Reading::finish`] checks.
pub struct Reading {
    spec: &'static ModelSpec,
    mine: Reader,
    raw: RawRequest,
    policy: Policy,
    n: u32,
    size: SizeRequest,
    input_size: Option<(u32, u32)>,
    response_format: ResponseFormat,
    output_format: Option<ImageFormat>,
    quality: Option<Quality>,
    stream: bool,
    ignored: Vec<String>,
}

/// Reads an OpenAI Images request as far as its mask's conversion (see [`Started`]).
///
/// # Errors
/// [`ApiError::NoSuchModel`] for a `model` no table has (OpenAI's 404 `model_not_found`); every
/// other violation is listed by [`Reading::finish`].
pub fn start(endpoint: Endpoint, body: &Body, policy: Policy) -> Result<Started<'_>, ApiError> {
    let sent: Vec<(&str, Sent<'_>)> = match body {
        Body::Json(map) => map
            .iter()
            .map(|(k, v)| (k.as_str(), Sent::Json(v)))
            .collect(),
        Body::Form(parts) => parts
            .iter()
            .filter_map(|(k, part)| match part {
                FormPart::Text(t) if t.is_empty() => None,
                FormPart::File(b) if b.is_empty() => None,
                FormPart::Text(t) => Some((k.as_str(), Sent::Text(t))),
                FormPart::File(b) => Some((k.as_str(), Sent::File(b))),
            })
            .collect(),
    };
    let mut mine = Reader::default();

    // The model first: every other field is checked against its table.
    let spec = match sent.iter().find(|(k, v)| *k == "model" && !v.is_null()) {
        None => models::ALL[0],
        Some((_, value)) => match value.text() {
            Ok(id) => models::by_id(id).ok_or_else(|| ApiError::NoSuchModel(id.to_owned()))?,
            Err(kind) => {
                mine.type_error("model", "a model id (a string)", kind);
                models::ALL[0]
            }
        },
    };

    let mut n = 1u32;
    let mut size = SizeRequest::Auto;
    let mut response_format = ResponseFormat::B64Json;
    let mut output_format = None;
    let mut quality = Quality::Auto;
    let mut stream = false;
    let mut images: Vec<&Sent<'_>> = Vec::new();
    let mut mask: Option<&Sent<'_>> = None;
    let mut ignored: Vec<String> = Vec::new();
    let mut model_json: Vec<(&str, &Value)> = Vec::new();
    let mut model_form: Vec<(&str, FormPart)> = Vec::new();

    for (name, value) in &sent {
        let name = *name;
        let is_image = name == "image" || name == "image[]";
        if OPENAI_FIELDS.contains(&name) && !is_image && mine.repeated(name) {
            continue;
        }
        if (is_image || name == "mask") && endpoint == Endpoint::Edits {
            if name == "mask" {
                mask = Some(value);
            } else {
                images.push(value);
            }
            continue;
        }
        if value.is_null() && OPENAI_FIELDS.contains(&name) {
            continue; // null is "not given" for OpenAI's own fields
        }
        match name {
            "model" => {}
            "n" => n = mine.count(value),
            "size" => match value.text() {
                Ok(text) => match parse_size(text) {
                    Ok(s) => size = s,
                    Err(e) => mine.push(Violation::new("/size", Rule::Type, e.to_string())),
                },
                Err(kind) => mine.type_error("size", "a string", kind),
            },
            "response_format" => match value.text() {
                Ok("b64_json") => response_format = ResponseFormat::B64Json,
                Ok("url") => response_format = ResponseFormat::Url,
                Ok(other) => mine.push(Violation::new(
                    "/response_format",
                    Rule::Type,
                    format!(
                        "must be \"b64_json\" or \"url\", not {:?}",
                        other.chars().take(40).collect::<String>()
                    ),
                )),
                Err(kind) => mine.type_error("response_format", "a string", kind),
            },
            "output_format" => match value.text() {
                Ok(text) => output_format = mine.output_format(spec, text),
                Err(kind) => mine.type_error("output_format", "a string", kind),
            },
            "quality" => match value.text() {
                Ok(text) => match Quality::parse(text) {
                    Ok(q) => quality = q,
                    Err(e) => mine.push(Violation::new("/quality", Rule::Type, e)),
                },
                Err(kind) => mine.type_error("quality", "a string", kind),
            },
            "background" => match value.text() {
                Ok(text) => {
                    if let Err((rule, e)) = check_background(text) {
                        mine.push(Violation::new("/background", rule, e));
                    }
                }
                Err(kind) => mine.type_error("background", "a string", kind),
            },
            "output_compression" => {
                if let Some(number) = mine.number(name, value, "an integer") {
                    if let Err((rule, e)) = check_output_compression(number) {
                        mine.push(Violation::new("/output_compression", rule, e));
                    }
                }
            }
            "stream" => match value {
                Sent::Json(Value::Bool(b)) => stream = *b,
                Sent::Text(t) if t.eq_ignore_ascii_case("true") => stream = true,
                Sent::Text(t) if t.eq_ignore_ascii_case("false") => stream = false,
                Sent::Json(v) => mine.type_error("stream", "a boolean", json_kind(v)),
                _ => mine.type_error("stream", "a boolean", "another value"),
            },
            "partial_images" => {
                let partials = mine
                    .number(name, value, "an integer")
                    .map(check_partial_images);
                match partials {
                    Some(Ok(0)) | None => {}
                    Some(Ok(_)) => ignored.push(name.to_owned()),
                    Some(Err((rule, e))) => {
                        mine.push(Violation::new("/partial_images", rule, e));
                    }
                }
            }
            _ if ACCEPTED.iter().any(|(n, _)| *n == name) => {
                let allowed = ACCEPTED.iter().find(|(n, _)| *n == name).and_then(|a| a.1);
                match value.text().map(|text| check_accepted(allowed, text)) {
                    Ok(Ok(())) => ignored.push(name.to_owned()),
                    Ok(Err(e)) => mine.push(Violation::new(format!("/{name}"), Rule::Type, e)),
                    Err(kind) => mine.type_error(name, "a string", kind),
                }
            }
            _ => {
                if let Some((_, instead)) = REPLACED.iter().find(|(f, _)| *f == name) {
                    if spec.field(name).is_some() || name.starts_with("image") || name == "mask" {
                        mine.push(Violation::new(format!("/{name}"), Rule::Type, *instead));
                        continue;
                    }
                }
                match value {
                    Sent::Json(v) => model_json.push((name, v)),
                    Sent::Text(t) => model_form.push((name, FormPart::Text((*t).to_owned()))),
                    Sent::File(b) => model_form.push((name, FormPart::File(b.to_vec()))),
                }
            }
        }
    }

    // The model's own fields, typed as the native routes type them.
    let mut raw = match body {
        Body::Form(_) => parse_form(spec, model_form),
        Body::Json(_) => {
            let mut raw = RawRequest::default();
            for (name, value) in model_json {
                match spec.field(name) {
                    Some(field) => raw.insert(field, RawValue::Json(value.clone())),
                    None => raw.unknown.note(name),
                }
            }
            raw
        }
    };

    // `quality` chooses the steps only when the request sends none of its own.
    let steps_sent = STEP_FIELDS.iter().any(|f| raw.has(f));
    let applied = match quality_steps(spec, quality) {
        Some((field, steps)) if !steps_sent => {
            raw.insert(field, RawValue::Json(Value::from(steps)));
            Some(quality)
        }
        _ => None,
    };
    if quality != Quality::Auto && applied.is_none() {
        ignored.push("quality".to_owned());
    }
    if stream && response_format == ResponseFormat::Url {
        mine.push(Violation::new(
            "/response_format",
            Rule::Unsupported,
            "must be \"b64_json\" (or absent) with stream: true: each event carries its image itself",
        ));
    }

    let mut input_size = None;
    let mut to_convert = None;
    if endpoint == Endpoint::Edits {
        input_size = mine.input_image(spec, &images, &mut raw);
        let masked = mask.is_some();
        to_convert = mine.mask(spec, mask, input_size, policy);
        if !masked && !raw.has("strength") {
            if let Some(field) = spec.field("strength") {
                raw.insert(field, RawValue::Json(Value::from(EDIT_STRENGTH)));
            }
        }
    }

    let reading = Reading {
        spec,
        mine,
        raw,
        policy,
        n,
        size,
        input_size,
        response_format,
        output_format,
        quality: applied,
        stream,
        ignored,
    };
    Ok(match to_convert {
        Some((field, reader)) => Started::ConvertMask {
            reader,
            then: MaskPending { reading, field },
        },
        None => Started::Ready(reading),
    })
}

impl Reading {
    /// Checks the rest: the size, `n`, and the model's rules, exactly as each image will be
    /// checked.
    ///
    /// # Errors
    /// [`ApiError::Invalid`] with every violation, OpenAI's fields first.
    pub fn finish(self, draw_seed: &mut dyn FnMut() -> i64) -> Result<ImagesRequest, ApiError> {
        let Reading {
            spec,
            mut mine,
            mut raw,
            policy,
            n,
            size,
            input_size,
            response_format,
            output_format,
            quality,
            stream,
            mut ignored,
        } = self;
        let wanted_size = match size {
            SizeRequest::Exact { width, height } => match check_size(spec, width, height) {
                Ok(s) => Some(s),
                Err(e) => {
                    mine.push(Violation::new("/size", Rule::Maximum, e.to_string()));
                    None
                }
            },
            SizeRequest::Auto => input_size.and_then(|(w, h)| edit_size(spec, w, h)),
        };
        if let Some((w, h)) = wanted_size {
            for (name, value) in [("width", w), ("height", h)] {
                if let Some(field) = spec.field(name) {
                    raw.insert(field, RawValue::Json(Value::from(value)));
                }
            }
        }
        let seed_field = spec.field("seed");
        if seed_field.is_none() && n > 1 {
            mine.push(
                Violation::new(
                    "/n",
                    Rule::Maximum,
                    format!(
                        "must be 1 for {}, which takes no seed: its images would all be the same one",
                        spec.id
                    ),
                )
                .with_limit(1),
            );
        }

        // The model's rules, checked once now exactly as each image will be.
        let mut drawn = false;
        let mut counting_draw = || {
            drawn = true;
            draw_seed()
        };
        let checked = normalize(spec, raw.clone(), policy, &mut counting_draw);
        let mut violations = mine.violations;
        // A JSON object's members arrive in no particular order: list in OPENAI_FIELDS' order.
        violations.sort_by_key(|v| {
            let root = param_root(&v.path);
            OPENAI_FIELDS
                .iter()
                .position(|f| *f == root)
                .unwrap_or(OPENAI_FIELDS.len())
        });
        let normalized = match checked {
            Ok(normalized) => Some(normalized),
            Err(theirs) => {
                // A field this reader already refused is not refused twice.
                let refused: Vec<String> = violations.iter().map(|v| param_root(&v.path)).collect();
                violations.extend(
                    theirs
                        .into_iter()
                        .filter(|v| !refused.contains(&param_root(&v.path))),
                );
                None
            }
        };
        let Some(normalized) = normalized.filter(|_| violations.is_empty()) else {
            return Err(ApiError::Invalid(violations));
        };

        let seeds = match (seed_field, normalized.seed()) {
            (Some(_), Some(base)) => seed_schedule(base, n).map_err(|e| {
                ApiError::Invalid(vec![Violation::new("/seed", Rule::Maximum, e.to_string())])
            })?,
            _ => Vec::new(),
        };
        raw.take("seed");
        ignored.extend(normalized.ignored_fields.iter().cloned());
        Ok(ImagesRequest {
            model: spec,
            raw,
            seeds,
            seed_drawn: drawn,
            n,
            size: forwarded_size(&normalized),
            response_format,
            output_format,
            quality,
            stream,
            ignored,
        })
    }
}

/// [`start`], the mask converted with the in-process test codecs, then [`Reading::finish`].
#[cfg(test)]
pub(crate) fn read(
    endpoint: Endpoint,
    body: &Body,
    policy: Policy,
    draw_seed: &mut dyn FnMut() -> i64,
) -> Result<ImagesRequest, ApiError> {
    let reading = match start(endpoint, body, policy)? {
        Started::Ready(reading) => reading,
        Started::ConvertMask { reader, then } => {
            then.converted(crate::openai::mask::test_codec::convert(reader))
        }
    };
    reading.finish(draw_seed)
}

/// The size the image will have: the one forwarded, or where a text-to-image request sends
/// none, the model's documented default (never `null` when the gateway knows it).
fn forwarded_size(normalized: &Normalized) -> Option<(i64, i64)> {
    let default = normalized.implied_side();
    Some((
        normalized.inputs.integer("width").or(default)?,
        normalized.inputs.integer("height").or(default)?,
    ))
}

/// The field a pointer names: `/image/3` → `image`.
fn param_root(path: &str) -> String {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The violations of OpenAI's own fields, as they are found.
#[derive(Default)]
struct Reader {
    violations: Vec<Violation>,
    seen: Vec<&'static str>,
}

impl Reader {
    fn push(&mut self, violation: Violation) {
        self.violations.push(violation);
    }

    fn type_error(&mut self, name: &str, expected: &str, got: &str) {
        self.push(Violation::new(
            format!("/{name}"),
            Rule::Type,
            format!("must be {expected}, not {got}"),
        ));
    }

    /// True (and noted) when an OpenAI field comes a second time (form parts can repeat).
    fn repeated(&mut self, name: &str) -> bool {
        let Some(known) = OPENAI_FIELDS.iter().find(|f| **f == name) else {
            return false;
        };
        if self.seen.contains(known) {
            self.push(Violation::new(
                format!("/{name}"),
                Rule::Duplicate,
                "is sent more than once",
            ));
            return true;
        }
        self.seen.push(known);
        false
    }

    /// A number as sent (a JSON number, or a form's text); `None` once its type is refused.
    fn number(&mut self, name: &str, value: &Sent<'_>, expected: &str) -> Option<f64> {
        let number = match value {
            Sent::Json(Value::Number(n)) => n.as_f64(),
            Sent::Text(t) => t
                .trim()
                .parse::<serde_json::Number>()
                .ok()
                .and_then(|n| n.as_f64()),
            Sent::Json(v) => {
                self.type_error(name, expected, json_kind(v));
                return None;
            }
            Sent::File(_) => {
                self.type_error(name, expected, "a file");
                return None;
            }
        };
        if number.is_none() {
            self.type_error(name, expected, "a string");
        }
        number
    }

    /// `n`: an integer 1 to [`MAX_IMAGES`] (`3.0` is an integer, as JSON Schema says).
    fn count(&mut self, value: &Sent<'_>) -> u32 {
        let Some(number) = self.number("n", value, "an integer") else {
            return 1;
        };
        if number.fract() != 0.0 {
            self.push(Violation::new(
                "/n",
                Rule::Integer,
                "must be an integer (no fractional part)",
            ));
            return 1;
        }
        if number < 1.0 {
            self.push(Violation::new("/n", Rule::Minimum, "must be >= 1").with_limit(1));
            return 1;
        }
        if number > f64::from(MAX_IMAGES) {
            self.push(
                Violation::new("/n", Rule::Maximum, format!("must be <= {MAX_IMAGES}"))
                    .with_limit(MAX_IMAGES),
            );
            return 1;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = number as u32; // an integer within 1..=8
        n
    }

    /// `output_format`: only the format the model answers in, since nothing is transcoded.
    fn output_format(&mut self, spec: &ModelSpec, text: &str) -> Option<ImageFormat> {
        let asked = match text {
            "png" => ImageFormat::Png,
            "jpeg" | "jpg" => ImageFormat::Jpeg,
            "webp" => ImageFormat::Webp,
            other => {
                self.push(Violation::new(
                    "/output_format",
                    Rule::Type,
                    format!(
                        "must be \"png\", \"jpeg\" or \"webp\", not {:?}",
                        other.chars().take(40).collect::<String>()
                    ),
                ));
                return None;
            }
        };
        let own = match spec.output {
            Output::ImageStream { documented } => match documented {
                "image/png" => Some(ImageFormat::Png),
                "image/jpeg" => Some(ImageFormat::Jpeg),
                _ => None,
            },
            Output::JsonImageBase64 => None,
        };
        if own == Some(asked) {
            return Some(asked);
        }
        let detail = match own {
            Some(own) => format!(
                "must be \"{}\" (or absent) for {}: it answers {} images and this gateway does not transcode",
                extension(own),
                spec.id,
                extension(own)
            ),
            None => format!(
                "must be absent for {}: its answer's format is not fixed and this gateway does not transcode (the answer's output_format states the real one)",
                spec.id
            ),
        };
        self.push(Violation::new("/output_format", Rule::Type, detail));
        None
    }

    /// The edit's input image into `raw`; answers its size when its header tells it.
    fn input_image(
        &mut self,
        spec: &'static ModelSpec,
        images: &[&Sent<'_>],
        raw: &mut RawRequest,
    ) -> Option<(u32, u32)> {
        if spec.field(REFERENCE_IMAGES[0]).is_some() {
            return self.reference_images(spec, images, raw);
        }
        let field = self.field_for(spec, "image", "an input image")?;
        match images {
            [] => {
                self.push(Violation::new(
                    "/image",
                    Rule::Required,
                    "is required: the image to edit, as a PNG, JPEG or WebP file",
                ));
                None
            }
            [Sent::File(bytes)] => {
                let size = inspect(bytes).ok().map(|i| (i.width, i.height));
                raw.insert(field, RawValue::Bytes(bytes.to_vec()));
                size
            }
            [_] => {
                self.push(Violation::new(
                    "/image",
                    Rule::Type,
                    "must be a file part of the form (a PNG, JPEG or WebP image)",
                ));
                None
            }
            more => {
                self.push(
                    Violation::new(
                        "/image",
                        Rule::Maximum,
                        format!(
                            "must be one image; {} were sent, and these models edit one image at a time",
                            more.len()
                        ),
                    )
                    .with_limit(1),
                );
                None
            }
        }
    }

    /// An edit's images (`image[]`, in order) as a multi-reference model's reference images,
    /// `input_image_0` first: at most [`MAX_REFERENCE_IMAGES`]. Answers the first one's size.
    fn reference_images(
        &mut self,
        spec: &'static ModelSpec,
        images: &[&Sent<'_>],
        raw: &mut RawRequest,
    ) -> Option<(u32, u32)> {
        if images.is_empty() {
            self.push(Violation::new(
                "/image",
                Rule::Required,
                "is required: the image to edit, as a PNG, JPEG or WebP file (or several)",
            ));
            return None;
        }
        if images.len() > MAX_REFERENCE_IMAGES {
            self.push(
                Violation::new(
                    "/image",
                    Rule::Maximum,
                    format!(
                        "takes at most {MAX_REFERENCE_IMAGES} images for {}; {} were sent",
                        spec.id,
                        images.len()
                    ),
                )
                .with_limit(MAX_REFERENCE_IMAGES as u64),
            );
            return None;
        }
        let mut first = None;
        for (i, (image, name)) in images.iter().zip(REFERENCE_IMAGES).enumerate() {
            let Sent::File(bytes) = image else {
                self.push(Violation::new(
                    format!("/image/{i}"),
                    Rule::Type,
                    "must be a file part of the form (a PNG, JPEG or WebP image)",
                ));
                continue;
            };
            if i == 0 {
                first = inspect(bytes).ok().map(|info| (info.width, info.height));
            }
            if let Some(field) = spec.field(name) {
                raw.insert(field, RawValue::Bytes(bytes.to_vec()));
            }
        }
        first
    }

    /// The edit's mask, to convert from OpenAI's (transparent = repaint) to the models' (white =
    /// repaint): its reader, its header read and within the limits (its size the image's, when
    /// `image_size` is known), with the field it goes into; `None` when there is nothing to
    /// convert (no mask, or one refused here, on its header alone).
    fn mask<'a>(
        &mut self,
        spec: &'static ModelSpec,
        mask: Option<&Sent<'a>>,
        image_size: Option<(u32, u32)>,
        policy: Policy,
    ) -> Option<(&'static FieldSpec, MaskReader<'a>)> {
        let mask = mask?;
        let field = self.field_for(spec, "mask", "a mask")?;
        match mask {
            Sent::File(bytes) => {
                let limits = MaskLimits::new(policy.max_image_pixels, image_size);
                match MaskReader::new(bytes, &limits) {
                    Ok(reader) => return Some((field, reader)),
                    Err(e) => self.mask_refused(&e),
                }
            }
            _ => self.push(Violation::new(
                "/mask",
                Rule::Type,
                "must be a file part of the form (a PNG whose transparent pixels mark the area to edit)",
            )),
        }
        None
    }

    /// The mask's refusal, on its header or in its conversion.
    fn mask_refused(&mut self, e: &MaskError) {
        let rule = if e.is_size() {
            Rule::SameDimensions
        } else {
            Rule::Image
        };
        self.push(Violation::new("/mask", rule, e.to_string()));
    }

    fn field_for(
        &mut self,
        spec: &'static ModelSpec,
        name: &str,
        what: &str,
    ) -> Option<&'static FieldSpec> {
        let field = spec.field(name);
        if field.is_none() {
            self.push(Violation::new(
                format!("/{name}"),
                Rule::UnknownField,
                format!("cannot be sent: {} does not take {what}", spec.id),
            ));
        }
        field
    }
}

/// The `output_format` name of a format.
#[must_use]
pub fn extension(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Png => "png",
        ImageFormat::Jpeg => "jpeg",
        ImageFormat::Webp => "webp",
    }
}

#[cfg(test)]
mod tests;
