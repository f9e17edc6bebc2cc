//! Checks a parsed request against its model table and normalizes it: every violation listed,
//! defaults made explicit, images decoded and measured once, sizes rounded to the latent grid.

use serde_json::Value;

use crate::base64_image;
use crate::echo::echoed_name;
use crate::image::{self, ImageInfo};
use crate::inputs::{InputImage, InputValue, Inputs, Normalized};
use crate::model::{
    AdditionalFields, CrossRule, FieldKind, FieldSpec, Input, IntegerDefault, ModelSpec,
};
use crate::parse::{
    ByteArrayProblem, ElementProblem, FieldNames, RawRequest, RawValue, MAX_UNKNOWN_FIELDS,
};
use crate::violation::{Rule, Violation};

/// What to do with fields the model does not have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownFields {
    /// Accept the request, drop the fields, and name them to the client.
    #[default]
    Ignore,
    /// Refuse the request.
    Reject,
}

/// Operator choices that change what is accepted.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub unknown_fields: UnknownFields,
    /// Longest text field, in characters (`MAX_PROMPT_CHARS`).
    pub max_prompt_chars: usize,
    /// Most pixels an input image may have (`MAX_IMAGE_PIXELS`): decoding costs memory.
    pub max_image_pixels: u64,
    /// The gateway's own routes (`/`, `/ai/run/<model>`): an img2img or inpainting request
    /// without `width` / `height` gets the input image's size (clamped to the model's range,
    /// rounded as the field is), not the model's 1024x1024. Off for the REST drop-in, which
    /// forwards exactly what Workers AI would get; the adapter sets it per route.
    pub size_from_input: bool,
}

/// Default text bound: prompts are read as at most 77 CLIP tokens anyway; 2048 characters is
/// what Workers AI allows its FLUX prompts.
pub const DEFAULT_MAX_PROMPT_CHARS: usize = 2048;
/// Default image bound: 4096x4096 pixels.
pub const DEFAULT_MAX_IMAGE_PIXELS: u64 = 4096 * 4096;

impl Default for Policy {
    fn default() -> Self {
        Policy {
            unknown_fields: UnknownFields::Ignore,
            max_prompt_chars: DEFAULT_MAX_PROMPT_CHARS,
            max_image_pixels: DEFAULT_MAX_IMAGE_PIXELS,
            size_from_input: false,
        }
    }
}

/// Validates and normalizes `raw` for `spec`. `draw_seed` is called only when a seed is needed.
///
/// # Errors
/// Every violation of the contract, in table order, then cross-field rules, then unknown and
/// repeated fields; a request with more than [`MAX_UNKNOWN_FIELDS`] distinct unknown fields is
/// refused for that first, instead of naming each.
pub fn normalize(
    spec: &'static ModelSpec,
    mut raw: RawRequest,
    policy: Policy,
    draw_seed: &mut dyn FnMut() -> i64,
) -> Result<Normalized, Vec<Violation>> {
    let mut violations = Vec::new();
    // Built in table order; absent sizes that may come from the input image are filled in
    // after every field has been read, at their place in the table.
    let mut values: Vec<(&'static str, InputValue)> = Vec::new();
    let mut absent_sides: Vec<(usize, &'static FieldSpec)> = Vec::new();
    let mut seed_drawn = false;
    let sent: Vec<&'static str> = raw.fields.iter().map(|(f, _)| f.name).collect();

    for field in spec.fields {
        let Some(value) = raw.take(field.name) else {
            match default_of(field) {
                WhenAbsent::Required => violations.push(Violation::new(
                    format!("/{}", field.name),
                    Rule::Required,
                    "is required",
                )),
                WhenAbsent::Absent => {
                    if policy.size_from_input && side_of(field).is_some() {
                        absent_sides.push((values.len(), field));
                    }
                }
                WhenAbsent::Value(v) => values.push((field.name, v)),
                WhenAbsent::Drawn => {
                    seed_drawn = true;
                    values.push((field.name, InputValue::Integer(draw_seed())));
                }
            }
            continue;
        };
        if let FieldKind::ImageList { into } = field.kind {
            check_list(
                field.name,
                into,
                value,
                &policy,
                &mut values,
                &mut violations,
            );
            continue;
        }
        match check_field(field, value, &policy) {
            Ok((name, v)) => values.push((name, v)),
            Err(v) => violations.push(v),
        }
    }
    if spec.input == Input::Multipart {
        // Such a model is sent bytes, never text: a client's text kept to be sent would only be
        // held (in the Worker, a JS string as long as the image's base64) until the request ends.
        for (_, value) in &mut values {
            if let InputValue::Image(image) = value {
                image.text = None;
            }
        }
    }
    fill_sides_from_input_image(&mut values, &absent_sides);
    let mut inputs = Inputs::default();
    for (name, value) in values {
        inputs.push(name, value);
    }

    check_cross_rules(spec, &sent, &inputs, &mut violations);

    let unknown_fields = std::mem::take(&mut raw.unknown);
    let refused = spec.additional_fields == AdditionalFields::Refused;
    if unknown_fields.overflowed() {
        // First, as the reason that decides; it stands for every unknown name, so they are not
        // listed one by one as well.
        violations.insert(0, too_many_unknown_fields(&unknown_fields));
    } else if refused || policy.unknown_fields == UnknownFields::Reject {
        let known: Vec<&str> = spec.fields.iter().map(|f| f.name).collect();
        for name in unknown_fields.in_order() {
            violations.push(Violation::new(
                format!("/{}", escape_pointer(&echoed_name(name))),
                Rule::UnknownField,
                format!(
                    "is not a field of {}, which accepts only {}",
                    spec.id,
                    known.join(", ")
                ),
            ));
        }
    }
    // The one field that picks what runs is never ignored: a caller who meant another model would
    // get this one's image.
    let names_a_model = !refused
        && policy.unknown_fields != UnknownFields::Reject
        && !unknown_fields.overflowed()
        && spec.field("model").is_none()
        && unknown_fields
            .in_order()
            .iter()
            .any(|n| n.as_str() == "model");
    if names_a_model {
        violations.push(Violation::new(
            "/model",
            Rule::UnknownField,
            format!(
                "cannot pick the model here: this route runs {}; to run another, send the \
                 request to /ai/run/<model id> (the ids: GET /models)",
                spec.id
            ),
        ));
    }
    for name in raw.duplicates.in_order() {
        violations.push(Violation::new(
            format!("/{name}"),
            Rule::Duplicate,
            "is sent more than once",
        ));
    }

    if violations.is_empty() {
        Ok(Normalized {
            model: spec,
            inputs,
            ignored_fields: unknown_fields.into_vec(),
            seed_drawn,
        })
    } else {
        Err(violations)
    }
}

#[derive(Clone, Copy)]
enum Side {
    Width,
    Height,
}

/// Whether `field` is an image side the input image can give: `width` or `height`, an integer
/// without a default of its own (the model's 1024 applies when it is not forwarded).
fn side_of(field: &FieldSpec) -> Option<Side> {
    let FieldKind::Integer {
        default: IntegerDefault::None,
        ..
    } = field.kind
    else {
        return None;
    };
    match field.name {
        "width" => Some(Side::Width),
        "height" => Some(Side::Height),
        _ => None,
    }
}

/// Gives each absent side in `absent` the input image's side, clamped to the field's range and
/// rounded as the field rounds what clients send. No input image: nothing changes.
fn fill_sides_from_input_image(
    values: &mut Vec<(&'static str, InputValue)>,
    absent: &[(usize, &'static FieldSpec)],
) {
    let Some(info) = values.iter().find_map(|(name, v)| match v {
        InputValue::Image(image) if *name == "image" => Some(image.info),
        _ => None,
    }) else {
        return;
    };
    // From the last place to the first, so earlier places stay where they were.
    for &(at, field) in absent.iter().rev() {
        let (
            Some(side),
            FieldKind::Integer {
                min,
                max,
                round_to_multiple,
                ..
            },
        ) = (side_of(field), &field.kind)
        else {
            continue;
        };
        let pixels = i64::from(match side {
            Side::Width => info.width,
            Side::Height => info.height,
        });
        let v = match round_to_multiple {
            Some(m) => round_to_nearest_multiple(pixels.clamp(*min, *max), *m, *min, *max),
            None => pixels.clamp(*min, *max),
        };
        values.insert(at, (field.name, InputValue::Integer(v)));
    }
}

enum WhenAbsent {
    Required,
    Absent,
    Value(InputValue),
    Drawn,
}

fn default_of(field: &FieldSpec) -> WhenAbsent {
    if field.required {
        return WhenAbsent::Required;
    }
    match field.kind {
        FieldKind::Integer {
            default: IntegerDefault::Value(v),
            ..
        } => WhenAbsent::Value(InputValue::Integer(v)),
        FieldKind::Integer {
            default: IntegerDefault::Drawn,
            ..
        } => WhenAbsent::Drawn,
        FieldKind::Number {
            default: Some(v), ..
        } => WhenAbsent::Value(InputValue::Number(v)),
        _ => WhenAbsent::Absent,
    }
}

/// Checks one field; answers the forwarded name and value.
fn check_field(
    field: &'static FieldSpec,
    value: RawValue,
    policy: &Policy,
) -> Result<(&'static str, InputValue), Violation> {
    let path = format!("/{}", field.name);
    let type_error = |expected: &str, got: &str| {
        Violation::new(
            path.clone(),
            Rule::Type,
            format!("must be {expected}, not {got}"),
        )
    };
    match (&field.kind, value) {
        (
            FieldKind::Text {
                min_chars,
                max_chars,
            },
            RawValue::Json(Value::String(s)),
        ) => {
            if s.chars().count() < *min_chars {
                let plural = if *min_chars == 1 { "" } else { "s" };
                return Err(Violation::new(
                    path,
                    Rule::MinLength,
                    format!("must have at least {min_chars} character{plural}"),
                )
                .with_limit(*min_chars));
            }
            let max = max_chars.map_or(policy.max_prompt_chars, |m| m.min(policy.max_prompt_chars));
            if s.len() > max && s.chars().count() > max {
                return Err(Violation::new(
                    path,
                    Rule::MaxLength,
                    format!("must have at most {max} characters"),
                )
                .with_limit(max));
            }
            Ok((field.name, InputValue::Text(s)))
        }
        (
            FieldKind::Integer {
                min,
                max,
                round_to_multiple,
                ..
            },
            RawValue::Json(Value::Number(n)),
        ) => {
            let v = integer_in_range(&path, &n, *min, *max)?;
            let v = match round_to_multiple {
                Some(m) => round_to_nearest_multiple(v, *m, *min, *max),
                None => v,
            };
            Ok((field.name, InputValue::Integer(v)))
        }
        (FieldKind::Number { min, max, .. }, RawValue::Json(Value::Number(n))) => {
            // serde_json never yields NaN or infinity, so every parsed number is finite.
            let v = n.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = min.filter(|m| v < *m) {
                return Err(
                    Violation::new(path, Rule::Minimum, format!("must be >= {min}"))
                        .with_limit(min),
                );
            }
            if let Some(max) = max.filter(|m| v > *m) {
                return Err(
                    Violation::new(path, Rule::Maximum, format!("must be <= {max}"))
                        .with_limit(max),
                );
            }
            Ok((field.name, InputValue::Number(v)))
        }
        (FieldKind::ImageBytes, RawValue::Bytes(bytes)) => {
            let info = image_info(&path, &bytes, policy)?;
            let text = None;
            Ok((
                field.name,
                InputValue::Image(InputImage::new(bytes, info, text)),
            ))
        }
        (FieldKind::ImageBytes, RawValue::BadBytes(problem)) => {
            Err(byte_array_violation(&path, problem))
        }
        (_, RawValue::NotInQuery) => Err(Violation::new(
            path,
            Rule::NotInQuery,
            "cannot be sent in a query string; POST it in a JSON body",
        )),
        (_, RawValue::TextForFile) => Err(Violation::new(
            path,
            Rule::Type,
            "must be a file part of the form (or, in a JSON body, an array of integers 0-255)",
        )),
        (_, RawValue::BinaryForText) => Err(type_error("UTF-8 text", "a binary file")),
        (FieldKind::ImageBase64 { into }, RawValue::Json(Value::String(s))) => {
            let bytes = base64_image::decode(&s)
                .map_err(|e| Violation::new(path.clone(), Rule::Base64, e.to_string()))?;
            let info = image_info(&path, &bytes, policy)?;
            let text = None;
            Ok((into, InputValue::Image(InputImage::new(bytes, info, text))))
        }
        (FieldKind::ImageBase64 { into }, RawValue::DecodedBase64(bytes, text)) => {
            let info = image_info(&path, &bytes, policy)?;
            Ok((into, InputValue::Image(InputImage::new(bytes, info, text))))
        }
        (FieldKind::Text { .. } | FieldKind::ImageBase64 { .. }, other) => {
            Err(type_error("a string", json_kind(&other)))
        }
        (FieldKind::Integer { .. }, other) => Err(type_error("an integer", json_kind(&other))),
        (FieldKind::Number { .. }, other) => Err(type_error("a number", json_kind(&other))),
        (FieldKind::ImageBytes, other) => {
            Err(type_error("an array of integers 0-255", json_kind(&other)))
        }
        // Read by `check_list`, never here.
        (FieldKind::ImageList { .. }, other) => Err(type_error("an array", json_kind(&other))),
    }
}

/// Checks a list of images, each under its index (`/images/1`), and forwards them in order as
/// `into[0]`, `into[1]`, ...: at most as many as `into` names.
fn check_list(
    name: &'static str,
    into: &'static [&'static str],
    value: RawValue,
    policy: &Policy,
    values: &mut Vec<(&'static str, InputValue)>,
    violations: &mut Vec<Violation>,
) {
    let path = format!("/{name}");
    let items = match value {
        RawValue::List { sent, .. } if sent > into.len() => {
            violations.push(
                Violation::new(
                    path,
                    Rule::MaxItems,
                    format!(
                        "has {sent} images; at most {} are accepted ({} to {})",
                        into.len(),
                        into.first().copied().unwrap_or_default(),
                        into.last().copied().unwrap_or_default()
                    ),
                )
                .with_limit(into.len()),
            );
            return;
        }
        RawValue::List { items, .. } => items,
        RawValue::BadBytes(ByteArrayProblem::NotAnArray(kind)) => {
            violations.push(Violation::new(
                path,
                Rule::Type,
                format!("must be an array of base64 strings or data: URLs, not {kind}"),
            ));
            return;
        }
        other => {
            let kind = json_kind(&other);
            violations.push(Violation::new(
                path,
                Rule::Type,
                format!("must be an array of base64 strings or data: URLs, not {kind}"),
            ));
            return;
        }
    };
    for ((index, item), forwarded) in items.into_iter().enumerate().zip(into) {
        let path = format!("/{name}/{index}");
        let decoded = match item {
            RawValue::Bytes(bytes) => Ok((bytes, None)),
            RawValue::DecodedBase64(bytes, text) => Ok((bytes, text)),
            RawValue::Json(Value::String(s)) => base64_image::decode(&s)
                .map(|bytes| (bytes, None))
                .map_err(|e| Violation::new(path.clone(), Rule::Base64, e.to_string())),
            other => Err(Violation::new(
                path.clone(),
                Rule::Type,
                format!(
                    "must be a base64 string or a data: URL (in a form: a file), not {}",
                    json_kind(&other)
                ),
            )),
        };
        match decoded
            .and_then(|(bytes, text)| Ok((image_info(&path, &bytes, policy)?, bytes, text)))
        {
            Ok((info, bytes, text)) => values.push((
                forwarded,
                InputValue::Image(InputImage::new(bytes, info, text)),
            )),
            Err(v) => violations.push(v),
        }
    }
}

/// A JSON Schema integer inside `min..=max`: `20.0` is an integer, `20.5` is not.
fn integer_in_range(
    path: &str,
    n: &serde_json::Number,
    min: i64,
    max: i64,
) -> Result<i64, Violation> {
    let too_small =
        || Violation::new(path, Rule::Minimum, format!("must be >= {min}")).with_limit(min);
    let too_big =
        || Violation::new(path, Rule::Maximum, format!("must be <= {max}")).with_limit(max);
    if let Some(i) = n.as_i64() {
        return if i < min {
            Err(too_small())
        } else if i > max {
            Err(too_big())
        } else {
            Ok(i)
        };
    }
    if n.is_u64() {
        return Err(too_big());
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() != 0.0 {
        return Err(Violation::new(
            path,
            Rule::Integer,
            "must be an integer (no fractional part)",
        ));
    }
    #[allow(clippy::cast_precision_loss)]
    if f < min as f64 {
        Err(too_small())
    } else if f > max as f64 {
        Err(too_big())
    } else {
        #[allow(clippy::cast_possible_truncation)]
        Ok(f as i64)
    }
}

/// Rounds half up to a multiple of `m`, staying inside `min..=max`.
fn round_to_nearest_multiple(v: i64, m: i64, min: i64, max: i64) -> i64 {
    let rounded = (v + m / 2) / m * m;
    let lowest = (min + m - 1) / m * m;
    let highest = max / m * m;
    rounded.clamp(lowest, highest)
}

fn image_info(path: &str, bytes: &[u8], policy: &Policy) -> Result<ImageInfo, Violation> {
    let info =
        image::inspect(bytes).map_err(|e| Violation::new(path, Rule::Image, e.to_string()))?;
    let pixels = u64::from(info.width) * u64::from(info.height);
    if pixels > policy.max_image_pixels {
        return Err(Violation::new(
            path,
            Rule::MaxPixels,
            format!(
                "is {}x{} = {pixels} pixels; at most {} are accepted",
                info.width, info.height, policy.max_image_pixels
            ),
        )
        .with_limit(policy.max_image_pixels));
    }
    Ok(info)
}

fn byte_array_violation(path: &str, problem: ByteArrayProblem) -> Violation {
    match problem {
        // A string where bytes go is a base64 text or a data URL meant for `image_b64`.
        ByteArrayProblem::NotAnArray(kind @ "a string") if path == "/image" => Violation::new(
            path,
            Rule::Type,
            format!(
                "must be an array of integers 0-255, not {kind}; send a base64 string or a data \
                 URL as image_b64"
            ),
        ),
        ByteArrayProblem::NotAnArray(kind) => Violation::new(
            path,
            Rule::Type,
            format!("must be an array of integers 0-255, not {kind}"),
        ),
        ByteArrayProblem::Element { index, problem } => {
            let path = format!("{path}/{index}");
            match problem {
                ElementProblem::NotANumber => {
                    Violation::new(path, Rule::Type, "must be an integer 0-255")
                }
                ElementProblem::NotAnInteger => Violation::new(
                    path,
                    Rule::Integer,
                    "must be an integer 0-255 (no fractional part)",
                ),
                ElementProblem::OutOfRange => {
                    Violation::new(path, Rule::Maximum, "must be an integer 0-255").with_limit(255)
                }
            }
        }
    }
}

fn json_kind(v: &RawValue) -> &'static str {
    match v {
        RawValue::Json(Value::Null) => "null",
        RawValue::Json(Value::Bool(_)) => "a boolean",
        RawValue::Json(Value::Number(_)) => "a number",
        RawValue::Json(Value::String(_)) => "a string",
        RawValue::Json(Value::Array(_))
        | RawValue::List { .. }
        | RawValue::Bytes(_)
        | RawValue::BadBytes(_)
        | RawValue::NotInQuery => "an array",
        RawValue::TextForFile | RawValue::DecodedBase64(..) => "a string",
        RawValue::BinaryForText => "a file",
        RawValue::Json(Value::Object(_)) => "an object",
    }
}

fn check_cross_rules(
    spec: &ModelSpec,
    sent: &[&str],
    inputs: &Inputs,
    violations: &mut Vec<Violation>,
) {
    for rule in spec.rules {
        match rule {
            CrossRule::Exclusive(a, b) => {
                if sent.contains(a) && sent.contains(b) {
                    violations.push(Violation::new(
                        format!("/{b}"),
                        Rule::Exclusive,
                        format!("must not be sent together with '/{a}'"),
                    ));
                }
            }
            CrossRule::ExcludesAll { field, others } => {
                let with: Vec<String> = others
                    .iter()
                    .filter(|o| sent.contains(o))
                    .map(|o| format!("'/{o}'"))
                    .collect();
                if sent.contains(field) && !with.is_empty() {
                    violations.push(Violation::new(
                        format!("/{field}"),
                        Rule::Exclusive,
                        format!(
                            "must not be sent together with {}: send the images one way",
                            with.join(", ")
                        ),
                    ));
                }
            }
            CrossRule::RequiredAnyOf(fields) => {
                if !fields.iter().any(|f| sent.contains(f)) {
                    let detail = match fields {
                        [_] => format!("is required by {}", spec.id),
                        [_, rest @ ..] => {
                            let rest: Vec<String> =
                                rest.iter().map(|n| format!("'/{n}'")).collect();
                            format!("(or {}) is required by {}", rest.join(" or "), spec.id)
                        }
                        [] => continue,
                    };
                    violations.push(Violation::new(
                        format!("/{}", fields[0]),
                        Rule::Required,
                        detail,
                    ));
                }
            }
            CrossRule::RequiresOneOf { field, needs } => {
                if sent.contains(field) && !needs.iter().any(|n| sent.contains(n)) {
                    let needs: Vec<String> = needs.iter().map(|n| format!("'/{n}'")).collect();
                    violations.push(Violation::new(
                        format!("/{field}"),
                        Rule::Requires,
                        format!("is only valid together with {}", needs.join(" or ")),
                    ));
                }
            }
            CrossRule::SameDimensions { field, as_field } => {
                if let (Some(a), Some(b)) = (inputs.image(field), inputs.image(as_field)) {
                    if (a.info.width, a.info.height) != (b.info.width, b.info.height) {
                        violations.push(
                            Violation::new(
                                format!("/{field}"),
                                Rule::SameDimensions,
                                format!(
                                    "must have the same dimensions as the input image ({}x{}), not {}x{}",
                                    b.info.width, b.info.height, a.info.width, a.info.height
                                ),
                            )
                            .with_limit(format!("{}x{}", b.info.width, b.info.height)),
                        );
                    }
                }
            }
        }
    }
}

/// How many unknown names the refusal for too many of them quotes, so a client can see which.
const QUOTED_UNKNOWN_FIELDS: usize = 5;

fn too_many_unknown_fields(unknown: &FieldNames<String>) -> Violation {
    let first: Vec<String> = unknown
        .in_order()
        .into_iter()
        .take(QUOTED_UNKNOWN_FIELDS)
        .map(|name| format!("'{}'", echoed_name(name)))
        .collect();
    Violation::whole_request(
        Rule::TooManyUnknownFields,
        format!(
            "the request has more than {MAX_UNKNOWN_FIELDS} distinct fields the model does not \
             have (the first: {}, ...); a request may carry at most {MAX_UNKNOWN_FIELDS}",
            first.join(", ")
        ),
    )
    .with_limit(MAX_UNKNOWN_FIELDS)
}

/// Escapes a field name for use in a JSON pointer (RFC 6901).
fn escape_pointer(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod other_models_tests;

#[cfg(all(test, not(target_arch = "wasm32")))]
mod size_from_input_tests;

#[cfg(test)]
mod flux2_tests;
