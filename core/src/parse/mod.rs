//! One pass over a JSON request body, guided by a model table.
//!
//! `image` and `mask` can be megabytes of JSON numbers, so their arrays are read straight into
//! bytes as they are parsed: no intermediate value per element. Other known fields become small
//! JSON values for the validator; unknown fields are skipped and only their names kept.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use thiserror::Error;

use crate::model::{FieldKind, FieldSpec, ModelSpec};

mod base64_stream;
mod body_encoding;
pub use body_encoding::{media_type_essence, BodyEncoding};
mod byte_arrays;
pub mod scan;
pub mod windowed;

use byte_arrays::Taken;
pub use windowed::ByteSource;
use windowed::{Cut, Spliced, WINDOW};
mod field_names;
pub mod object_fields;

pub use field_names::{FieldNames, MAX_UNKNOWN_FIELDS};

/// A field's value as sent, before validation.
#[derive(Debug, Clone, PartialEq)]
pub enum RawValue {
    Json(serde_json::Value),
    /// An array that held only integers 0–255.
    Bytes(Vec<u8>),
    /// An `image_b64` string that was plainly valid base64, decoded as it was read (the fast
    /// path); any other string stays [`RawValue::Json`] and is decoded by the validator.
    /// The text is the body source's copy of it, when that is the bytes' standard base64.
    DecodedBase64(Vec<u8>, Option<crate::inputs::SourceText>),
    /// An image field that is not an array of integers 0–255.
    BadBytes(ByteArrayProblem),
    /// A field that a query string cannot carry (byte arrays need a body).
    NotInQuery,
    /// An image sent as a text part of a form instead of a file.
    TextForFile,
    /// A text field sent as a file that is not UTF-8.
    BinaryForText,
    /// A list of images: each item a value as above (base64 text, decoded or not, or a file's
    /// bytes), at most the field's count of them kept; `sent` says how many were sent.
    List {
        items: Vec<RawValue>,
        sent: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteArrayProblem {
    /// The value is not an array; the JSON type it is instead.
    NotAnArray(&'static str),
    /// The first element that is not an integer 0–255.
    Element {
        index: usize,
        problem: ElementProblem,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElementProblem {
    NotANumber,
    NotAnInteger,
    OutOfRange,
}

/// The fields of one request, as sent.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawRequest {
    /// Known fields in the order they were sent.
    pub fields: Vec<(&'static FieldSpec, RawValue)>,
    /// Names the model does not have, each once (at most [`MAX_UNKNOWN_FIELDS`]).
    pub unknown: FieldNames<String>,
    /// Known fields sent more than once (only the first is kept).
    pub duplicates: FieldNames<&'static str>,
}

impl RawRequest {
    /// Takes the value sent for `name`, if any.
    pub fn take(&mut self, name: &str) -> Option<RawValue> {
        let at = self.fields.iter().position(|(f, _)| f.name == name)?;
        Some(self.fields.remove(at).1)
    }

    /// Whether `name` was sent. A search, but only of the known fields kept: each is kept once,
    /// so there are at most a model table's few, however many fields a request sends.
    #[must_use]
    pub fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(f, _)| f.name == name)
    }

    /// Adds a field unless it is already there, recording the repeat.
    pub fn insert(&mut self, field: &'static FieldSpec, value: RawValue) {
        if self.has(field.name) {
            self.duplicates.note(field.name);
        } else {
            self.fields.push((field, value));
        }
    }

    /// [`RawRequest::insert`], but a list field sent once per item (a form's or a query's
    /// repeated name) gathers its items: at most the field's count are kept, all are counted.
    pub fn insert_or_append(&mut self, field: &'static FieldSpec, value: RawValue) {
        let FieldKind::ImageList { into } = field.kind else {
            return self.insert(field, value);
        };
        let at = match self.fields.iter().position(|(f, _)| f.name == field.name) {
            Some(at) => at,
            None => {
                let empty = RawValue::List {
                    items: Vec::new(),
                    sent: 0,
                };
                self.fields.push((field, empty));
                self.fields.len() - 1
            }
        };
        if let RawValue::List { items, sent } = &mut self.fields[at].1 {
            if items.len() < into.len() {
                items.push(value);
            }
            *sent += 1;
        }
    }
}

/// Why a body could not be read as a request at all.
#[derive(Debug, Error)]
pub enum BodyError {
    #[error("the request body is empty; send a JSON object such as {{\"prompt\":\"...\"}}")]
    Empty,
    #[error("the request body is not valid JSON: {0}")]
    Syntax(#[source] serde_json::Error),
    #[error("the request body must be a JSON object, not {0}")]
    NotAnObject(&'static str),
    #[error("the request body could not be read: {0}")]
    Unreadable(String),
}

/// Reads a JSON body for the model `spec`.
///
/// # Errors
/// When the body is empty, is not JSON, or is JSON but not an object.
pub fn parse_json(spec: &'static ModelSpec, body: &[u8]) -> Result<RawRequest, BodyError> {
    parse_json_from(spec, body, WINDOW)
}

/// [`parse_json`] of a body that lives elsewhere (in the Worker: the JS heap), read a window of
/// at most `window` bytes at a time: the body is never copied whole into this memory, and what
/// stays is what the request is made of (its images' bytes, its small fields).
///
/// # Errors
/// As [`parse_json`].
pub fn parse_json_from<S: ByteSource + ?Sized>(
    spec: &'static ModelSpec,
    body: &S,
    window: usize,
) -> Result<RawRequest, BodyError> {
    parse_json_fast(spec, body, window).unwrap_or_else(|| parse_json_whole(spec, body))
}

/// The fast path alone: `None` when it does not apply and [`parse_json_whole`] must read the
/// body (which holds more memory: the caller may want to know first).
pub fn parse_json_fast<S: ByteSource + ?Sized>(
    spec: &'static ModelSpec,
    body: &S,
    window: usize,
) -> Option<Result<RawRequest, BodyError>> {
    let split = byte_arrays::split(spec, body, window)?;
    // The rest parses as the body would, but with other positions in syntax errors: on any
    // error, the whole body is parsed again for the exact message.
    let mut request = parse_with_serde(spec, body, &split.cuts).ok()?;
    for (field, taken) in split.taken {
        if let Some((_, value)) = request.fields.iter_mut().find(|(f, _)| f == &field) {
            *value = match taken {
                Taken::Bytes(bytes) => RawValue::Bytes(bytes),
                Taken::Base64(bytes, text) => RawValue::DecodedBase64(bytes, text),
                Taken::List(decoded) => RawValue::List {
                    sent: decoded.len(),
                    items: decoded
                        .into_iter()
                        .map(|(bytes, text)| RawValue::DecodedBase64(bytes, text))
                        .collect(),
                },
            };
        }
    }
    Some(Ok(request))
}

/// The whole body read by serde_json, as a stream.
///
/// # Errors
/// As [`parse_json`].
pub fn parse_json_whole<S: ByteSource + ?Sized>(
    spec: &'static ModelSpec,
    body: &S,
) -> Result<RawRequest, BodyError> {
    parse_with_serde(spec, body, &[])
}

/// [`parse_json`] without the fast path: serde_json reads everything.
///
/// # Errors
/// As [`parse_json`].
pub fn parse_json_with_serde(
    spec: &'static ModelSpec,
    body: &[u8],
) -> Result<RawRequest, BodyError> {
    parse_with_serde(spec, body, &[])
}

/// serde_json reads `body` as a stream, through a buffer of its own, with `cuts` replaced.
fn parse_with_serde<S: ByteSource + ?Sized>(
    spec: &'static ModelSpec,
    body: &S,
    cuts: &[Cut],
) -> Result<RawRequest, BodyError> {
    if is_blank(body) {
        return Err(BodyError::Empty);
    }
    let reader =
        std::io::BufReader::with_capacity(SERDE_BUFFER.min(body.len()), Spliced::new(body, cuts));
    let mut de = serde_json::Deserializer::from_reader(reader);
    let parsed = RequestSeed(spec)
        .deserialize(&mut de)
        .and_then(|outcome| de.end().map(|()| outcome))
        .map_err(BodyError::Syntax)?;
    parsed.map_err(BodyError::NotAnObject)
}

/// The serde pass's read buffer.
const SERDE_BUFFER: usize = 64 * 1024;

/// Whether the body is only whitespace (or nothing), looking no further than its first other byte.
fn is_blank<S: ByteSource + ?Sized>(body: &S) -> bool {
    let mut buf = [0u8; 256];
    let mut at = 0;
    while at < body.len() {
        let n = buf.len().min(body.len() - at);
        body.copy_to(at, &mut buf[..n]);
        if !buf[..n].iter().all(u8::is_ascii_whitespace) {
            return false;
        }
        at += n;
    }
    true
}

/// `request` with every `image_b64` string that decodes shown decoded, as the fast path leaves
/// plainly valid base64, and without the source's texts: how the property test and the fuzzer
/// compare the two paths.
#[doc(hidden)]
#[must_use]
pub fn with_base64_decoded(mut request: RawRequest) -> RawRequest {
    for (field, value) in &mut request.fields {
        match (&field.kind, value) {
            (FieldKind::ImageBase64 { .. }, value) => decoded_as_read(value),
            (FieldKind::ImageList { .. }, RawValue::List { items, .. }) => {
                items.iter_mut().for_each(decoded_as_read);
            }
            _ => {}
        }
    }
    request
}

/// A base64 text shown decoded, as the fast path leaves it, without the source's text.
fn decoded_as_read(value: &mut RawValue) {
    if let RawValue::Json(serde_json::Value::String(s)) = &*value {
        if let Ok(bytes) = crate::base64_image::decode(s) {
            *value = RawValue::DecodedBase64(bytes, None);
        }
    }
    // Which path kept the client's text is not part of what the request says.
    if let RawValue::DecodedBase64(_, text) = value {
        *text = None;
    }
}

/// Reads a query string's `(name, value)` pairs for the model `spec`, typed by exactly the rules
/// JSON bodies follow: numeric fields must parse as JSON numbers (`20`, `20.0`, `7.5`), text
/// fields are taken as they are, and byte-array fields cannot be sent this way.
#[must_use]
pub fn parse_query<I, K, V>(spec: &'static ModelSpec, pairs: I) -> RawRequest
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut request = RawRequest::default();
    for (key, value) in pairs {
        let (key, value) = (key.as_ref(), value.as_ref());
        let Some(field) = spec.field(key) else {
            request.unknown.note(key);
            continue;
        };
        let raw = match field.kind {
            FieldKind::ImageBytes => RawValue::NotInQuery,
            _ => text_value(field, value),
        };
        request.insert_or_append(field, raw);
    }
    request
}

/// A value sent as text, typed by the JSON rules: numeric fields must parse as JSON numbers,
/// text fields are taken as they are.
fn text_value(field: &FieldSpec, value: &str) -> RawValue {
    match field.kind {
        FieldKind::Integer { .. } | FieldKind::Number { .. } => {
            match serde_json::from_str::<serde_json::Number>(value.trim()) {
                Ok(n) => RawValue::Json(serde_json::Value::Number(n)),
                // Left a string, so it fails the type rule with the JSON wording.
                Err(_) => RawValue::Json(serde_json::Value::String(value.to_owned())),
            }
        }
        _ => RawValue::Json(serde_json::Value::String(value.to_owned())),
    }
}

/// One part of a `multipart/form-data` body.
#[derive(Debug, Clone, PartialEq)]
pub enum FormPart {
    Text(String),
    /// A file part's bytes (its name and type say nothing the bytes do not).
    File(Vec<u8>),
}

/// Reads the parts of a `multipart/form-data` (or url-encoded) body for the model `spec`, by the
/// rules of a query string, with images as file parts. An empty part is an absent field: an HTML
/// form sends every input, filled or not, and an empty file input as a nameless empty file.
#[must_use]
pub fn parse_form<I, K>(spec: &'static ModelSpec, parts: I) -> RawRequest
where
    I: IntoIterator<Item = (K, FormPart)>,
    K: AsRef<str>,
{
    let mut request = RawRequest::default();
    for (key, part) in parts {
        let key = key.as_ref();
        let empty = match &part {
            FormPart::Text(t) => t.is_empty(),
            FormPart::File(bytes) => bytes.is_empty(),
        };
        let Some(field) = spec.field(key) else {
            request.unknown.note(key);
            continue;
        };
        if empty {
            continue;
        }
        let raw = match (&field.kind, part) {
            (FieldKind::ImageBytes, FormPart::File(bytes)) => RawValue::Bytes(bytes),
            (FieldKind::ImageBytes, FormPart::Text(_)) => RawValue::TextForFile,
            (_, FormPart::Text(text)) => text_value(field, &text),
            (FieldKind::ImageList { .. }, FormPart::File(bytes)) => RawValue::Bytes(bytes),
            (_, FormPart::File(bytes)) => match String::from_utf8(bytes) {
                Ok(text) => text_value(field, &text),
                Err(_) => RawValue::BinaryForText,
            },
        };
        request.insert_or_append(field, raw);
    }
    request
}

/// The JSON type names used in messages.
fn kind_of_unexpected(u: &de::Unexpected<'_>) -> &'static str {
    match u {
        de::Unexpected::Bool(_) => "a boolean",
        de::Unexpected::Unsigned(_) | de::Unexpected::Signed(_) | de::Unexpected::Float(_) => {
            "a number"
        }
        de::Unexpected::Str(_) => "a string",
        de::Unexpected::Unit => "null",
        de::Unexpected::Seq => "an array",
        de::Unexpected::Map => "an object",
        _ => "another type",
    }
}

/// Consumes the rest of an array or object we are not going to use.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the scalar `visit_*` methods of a visitor whose answer for "not what I wanted" is
/// `$wrong(kind)`, so bad shapes become findings instead of parse errors.
macro_rules! wrong_shapes {
    ($wrong:expr) => {
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok($wrong(kind_of_unexpected(&de::Unexpected::Bool(v))))
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($wrong("a string"))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($wrong("null"))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            drain_map(map)?;
            Ok($wrong("an object"))
        }
    };
}

/// The visitor methods of a value that cannot be a number: each answers `$wrong("a number")`.
macro_rules! numbers_are_wrong {
    ($wrong:expr) => {
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($wrong("a number"))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($wrong("a number"))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($wrong("a number"))
        }
    };
}

struct RequestSeed(&'static ModelSpec);

impl<'de> DeserializeSeed<'de> for RequestSeed {
    /// `Err` holds the JSON type the body had instead of an object.
    type Value = Result<RawRequest, &'static str>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(RequestVisitor(self.0))
    }
}

struct RequestVisitor(&'static ModelSpec);

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Result<RawRequest, &'static str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut request = RawRequest::default();
        while let Some(key) = map.next_key::<String>()? {
            let Some(field) = self.0.field(&key) else {
                map.next_value::<IgnoredAny>()?;
                request.unknown.note(key);
                continue;
            };
            if request.has(field.name) {
                map.next_value::<IgnoredAny>()?;
                request.duplicates.note(field.name);
                continue;
            }
            let value = match field.kind {
                FieldKind::ImageBytes => map.next_value_seed(ByteArraySeed)?,
                FieldKind::ImageList { into } => map.next_value_seed(ImageListSeed(into.len()))?,
                _ => RawValue::Json(map.next_value()?),
            };
            request.insert(field, value);
        }
        Ok(Ok(request))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Err("an array"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err("null"))
    }
}

struct ByteArraySeed;

impl<'de> DeserializeSeed<'de> for ByteArraySeed {
    type Value = RawValue;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        d.deserialize_any(ByteArrayVisitor)
    }
}

struct ByteArrayVisitor;

fn not_an_array(kind: &'static str) -> RawValue {
    RawValue::BadBytes(ByteArrayProblem::NotAnArray(kind))
}

impl<'de> Visitor<'de> for ByteArrayVisitor {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of integers 0-255")
    }

    wrong_shapes!(not_an_array);
    numbers_are_wrong!(not_an_array);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 20));
        let mut index = 0;
        while let Some(element) = seq.next_element_seed(ByteSeed)? {
            match element {
                Ok(byte) => bytes.push(byte),
                Err(problem) => {
                    // Report the first bad element; keep reading so the JSON stays in step.
                    drain_seq(seq)?;
                    return Ok(RawValue::BadBytes(ByteArrayProblem::Element {
                        index,
                        problem,
                    }));
                }
            }
            index += 1;
        }
        Ok(RawValue::Bytes(bytes))
    }
}

/// A list of images, its first `.0` items kept as JSON values (the validator decodes them), the
/// rest only counted: a list longer than the field takes holds no more than one that fits.
struct ImageListSeed(usize);

impl<'de> DeserializeSeed<'de> for ImageListSeed {
    type Value = RawValue;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ImageListSeed {
    type Value = RawValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of base64 strings")
    }

    wrong_shapes!(not_an_array);
    numbers_are_wrong!(not_an_array);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawValue, A::Error> {
        let mut items = Vec::new();
        let mut sent = 0;
        while items.len() < self.0 {
            match seq.next_element::<serde_json::Value>()? {
                Some(item) => items.push(RawValue::Json(item)),
                None => {
                    let sent = items.len();
                    return Ok(RawValue::List { items, sent });
                }
            }
        }
        while seq.next_element::<IgnoredAny>()?.is_some() {
            sent += 1;
        }
        sent += items.len();
        Ok(RawValue::List { items, sent })
    }
}

struct ByteSeed;

impl<'de> DeserializeSeed<'de> for ByteSeed {
    type Value = Result<u8, ElementProblem>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ByteVisitor)
    }
}

struct ByteVisitor;

impl<'de> Visitor<'de> for ByteVisitor {
    type Value = Result<u8, ElementProblem>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer 0-255")
    }

    wrong_shapes!(|_| Err(ElementProblem::NotANumber));

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        drain_seq(seq)?;
        Ok(Err(ElementProblem::NotANumber))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(u8::try_from(v).map_err(|_| ElementProblem::OutOfRange))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(u8::try_from(v).map_err(|_| ElementProblem::OutOfRange))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // JSON Schema: 7.0 is an integer; 7.5 is not.
        if v.fract() != 0.0 {
            Ok(Err(ElementProblem::NotAnInteger))
        } else if (0.0..=255.0).contains(&v) {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Ok(Ok(v as u8))
        } else {
            Ok(Err(ElementProblem::OutOfRange))
        }
    }
}

#[cfg(test)]
mod tests;
