//! The shape of a model table: every field a model accepts, its rule and its default.
//!
//! A table is the single source of truth: the validator, the stand-in and the documentation all
//! read it, so a bound changes in exactly one place.

/// One Workers AI model as this gateway exposes it.
#[derive(Debug)]
pub struct ModelSpec {
    /// The Workers AI model id, e.g. `@cf/bytedance/stable-diffusion-xl-lightning`.
    pub id: &'static str,
    /// How `env.AI.run` takes the inputs.
    pub input: Input,
    /// Every accepted field, in the order they are documented and forwarded.
    pub fields: &'static [FieldSpec],
    /// Rules that span more than one field.
    pub rules: &'static [CrossRule],
    /// One line on what the model does, for documentation.
    pub summary: &'static str,
    /// What the binding answers on success.
    pub output: Output,
    /// Whether fields outside the table are left to the operator's policy or always refused.
    pub additional_fields: AdditionalFields,
    /// The side of a text-to-image answer when `width` and `height` are not sent, where the
    /// model's documentation gives one. Not forwarded (the model applies it itself): the cache
    /// key counts it, so a request that leaves a side out and one that sends the default share
    /// a key (`crate::cache_key`).
    pub default_side: Option<i64>,
    /// What Workers AI charges for a run (`crate::cost`).
    pub price: crate::cost::Price,
    /// The date (`YYYY-MM-DD`) Workers AI plans to retire the model, where its catalog gives
    /// one: the property `planned_deprecation_date` of the model's entry in Cloudflare's docs
    /// repository (`src/content/workers-ai-models/<model>.json`), the catalog the dashboard and
    /// the models API are built from. Shown in `/models` and `/v1/models`.
    pub planned_deprecation: Option<&'static str>,
}

/// How a model takes its inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A plain object of the fields (images as byte arrays or base64 text, as the table says).
    Json,
    /// `{multipart: {body, contentType}}`: the fields as a `multipart/form-data` body, images as
    /// binary file parts, even for a prompt alone (the FLUX.2 family). The REST API takes the same
    /// form as the request's own body.
    Multipart,
}

/// What `env.AI.run` resolves to for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// A `ReadableStream` of image bytes. `documented` is the type the docs claim; the bytes
    /// decide the type actually served.
    ImageStream { documented: &'static str },
    /// A JSON object whose `image` member is the base64 of the image (FLUX, Lucid Origin).
    JsonImageBase64,
}

/// How a model's schema treats fields it does not list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdditionalFields {
    /// The schema is silent: the operator's [`crate::UnknownFields`] policy decides.
    Policy,
    /// The schema sets `additionalProperties: false`: the model refuses them, so do we.
    Refused,
}

/// Largest integer a JavaScript number (and so the binding) carries exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

impl ModelSpec {
    /// The field called `name`, if the model has one.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// One input field.
#[derive(Debug)]
pub struct FieldSpec {
    pub name: &'static str,
    pub kind: FieldKind,
    pub required: bool,
    pub description: &'static str,
}

/// What a field holds and the rule it must meet.
#[derive(Debug)]
pub enum FieldKind {
    /// A string of `min_chars` Unicode scalar values or more (JSON Schema counts code points),
    /// and at most `max_chars` when the schema sets a bound (the operator's bound applies too).
    Text {
        min_chars: usize,
        max_chars: Option<usize>,
    },
    /// A JSON Schema integer: a number with no fractional part, inside `min..=max`.
    Integer {
        min: i64,
        max: i64,
        default: IntegerDefault,
        /// Values are rounded to the nearest multiple of this before forwarding.
        round_to_multiple: Option<i64>,
    },
    /// A finite number, optionally bounded.
    Number {
        min: Option<f64>,
        max: Option<f64>,
        default: Option<f64>,
    },
    /// An array of integers 0–255 whose bytes are a PNG, JPEG or WebP image.
    ImageBytes,
    /// Base64 (or a `data:` URL) of an image; decoded and forwarded as the field `into`.
    ImageBase64 { into: &'static str },
    /// A list of images, each base64 or a `data:` URL (in a form: a file part, or such a text,
    /// the field repeated), forwarded in order as `into[0]`, `into[1]`, ...: at most
    /// `into.len()` of them.
    ImageList { into: &'static [&'static str] },
}

/// What an absent integer becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegerDefault {
    /// Absent stays absent (the model decides).
    None,
    /// Absent becomes this value.
    Value(i64),
    /// Absent is drawn at random by the gateway, so every result is reproducible.
    Drawn,
}

/// A rule over several fields.
#[derive(Debug)]
pub enum CrossRule {
    /// At most one of the two may be sent.
    Exclusive(&'static str, &'static str),
    /// `field` is only valid when one of `needs` is sent too.
    RequiresOneOf {
        field: &'static str,
        needs: &'static [&'static str],
    },
    /// `field` must not be sent together with any of `others` (a list of images and the
    /// fields it stands for).
    ExcludesAll {
        field: &'static str,
        others: &'static [&'static str],
    },
    /// At least one of these must be sent (an image model needs its image, in either encoding).
    RequiredAnyOf(&'static [&'static str]),
    /// The image in `field` must have the same dimensions as the image in `as_field`
    /// (after normalization, so `as_field` is the forwarded name).
    SameDimensions {
        field: &'static str,
        as_field: &'static str,
    },
}

// Tables are statics: two references are the same table exactly when they point to the same place.
impl PartialEq for ModelSpec {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

impl PartialEq for FieldSpec {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}
