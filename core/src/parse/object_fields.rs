//! The top-level fields of a JSON object body, read without building a tree of it.
//!
//! The surfaces that wrap a model's fields in their own (a prediction's `input`, OpenAI's
//! generations) used to parse the whole body into `serde_json::Value`s. A parsed array of small
//! numbers costs 8-16 times its text, and the memory budget holds a few times the body: a 14 MiB
//! body padded with zeros grew the process by 400 MB. Here each top-level value stays the body's
//! own text ([`serde_json::value::RawValue`], borrowed), unknown values are skipped without
//! being built, and only small values are ever parsed ([`SmallValues`]), within a total.

use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::Deserializer as _;
use serde_json::value::RawValue as JsonText;
use serde_json::Value;

use super::BodyError;

/// Most top-level fields kept: no surface has half as many, and each costs a name and a slice.
pub const MAX_FIELDS: usize = 128;

/// The top-level fields of an object, each the body's own JSON text of its value, in the order
/// sent (repeats included).
#[derive(Debug, Default)]
pub struct ObjectFields<'a> {
    fields: Vec<(String, &'a JsonText)>,
}

impl<'a> ObjectFields<'a> {
    /// The first value sent for `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a JsonText> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }

    /// Every field, as sent.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &'a JsonText)> {
        self.fields.iter().map(|(n, v)| (n.as_str(), *v))
    }
}

/// Reads the top-level fields of `body`, which must be a JSON object of at most [`MAX_FIELDS`]
/// fields. Nothing but the names and one slice per field is allocated.
///
/// # Errors
/// An empty body, a syntax error, anything but an object, or too many fields.
pub fn object_fields(body: &[u8]) -> Result<ObjectFields<'_>, BodyError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(BodyError::Empty);
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let read = de
        .deserialize_any(FieldsVisitor)
        .and_then(|fields| de.end().map(|()| fields))
        .map_err(BodyError::Syntax)?;
    read.map_err(|refusal| match refusal {
        Refusal::NotAnObject(kind) => BodyError::NotAnObject(kind),
        Refusal::TooMany => BodyError::Unreadable(format!(
            "the request body has more than {MAX_FIELDS} fields"
        )),
    })
}

enum Refusal {
    NotAnObject(&'static str),
    TooMany,
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Result<ObjectFields<'de>, Refusal>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(name) = map.next_key::<String>()? {
            if fields.len() == MAX_FIELDS {
                // Skipped, not kept: the request is refused once the body is known to be JSON.
                map.next_value::<IgnoredAny>()?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(Err(Refusal::TooMany));
            }
            let value: &'de JsonText = map.next_value()?;
            fields.push((name, value));
        }
        Ok(Ok(ObjectFields { fields }))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Err(Refusal::NotAnObject("an array")))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(Err(Refusal::NotAnObject("a string")))
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Err(Refusal::NotAnObject("a number")))
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Err(Refusal::NotAnObject("a number")))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Err(Refusal::NotAnObject("a number")))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Err(Refusal::NotAnObject("a boolean")))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Err(Refusal::NotAnObject("null")))
    }
}

/// Parses small values into `serde_json::Value`s within a total of JSON text, so what a
/// request's parsed values cost stays bounded whatever the body holds.
#[derive(Debug)]
pub struct SmallValues {
    left: usize,
}

/// Most JSON text of one value parsed into a `Value`, and of all of a request's together.
pub const SMALL_VALUE_BYTES: usize = 64 * 1024;
pub const SMALL_VALUES_TOTAL: usize = 256 * 1024;

impl Default for SmallValues {
    fn default() -> Self {
        SmallValues {
            left: SMALL_VALUES_TOTAL,
        }
    }
}

impl SmallValues {
    /// `text` parsed, if it is at most [`SMALL_VALUE_BYTES`] and within what is left of the
    /// total; else `Err` with its length, for the caller to refuse the field by name.
    ///
    /// # Errors
    /// The text's length in bytes, when it is too long to parse.
    pub fn parse(&mut self, text: &JsonText) -> Result<Value, usize> {
        let len = text.get().len();
        if len > SMALL_VALUE_BYTES || len > self.left {
            return Err(len);
        }
        self.left -= len;
        // The text is JSON already checked by the body's parse.
        Ok(serde_json::from_str(text.get()).unwrap_or(Value::Null))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_the_bodys_own_text_in_order() {
        let body = br#" {"b": [1, 2, {"x": "y"}], "a": "t\u0065xt", "b": null} "#;
        let fields = object_fields(body).unwrap();
        let all: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n, v.get())).collect();
        assert_eq!(
            all,
            [
                ("b", r#"[1, 2, {"x": "y"}]"#),
                ("a", r#""t\u0065xt""#),
                ("b", "null")
            ]
        );
        assert_eq!(fields.get("b").unwrap().get(), r#"[1, 2, {"x": "y"}]"#);
    }

    #[test]
    fn anything_but_an_object_is_refused_as_the_native_parser_refuses_it() {
        assert!(matches!(object_fields(b"  "), Err(BodyError::Empty)));
        assert!(matches!(object_fields(b"{"), Err(BodyError::Syntax(_))));
        assert!(matches!(object_fields(b"{} x"), Err(BodyError::Syntax(_))));
        for (body, kind) in [
            (&b"[1]"[..], "an array"),
            (b"\"s\"", "a string"),
            (b"-1", "a number"),
            (b"1.5", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
        ] {
            assert!(
                matches!(object_fields(body), Err(BodyError::NotAnObject(k)) if k == kind),
                "{kind}"
            );
        }
    }

    #[test]
    fn too_many_fields_are_refused_not_kept() {
        let mut body = String::from("{");
        for i in 0..=MAX_FIELDS {
            body.push_str(&format!("\"f{i}\":0,"));
        }
        body.push_str("\"last\":0}");
        assert!(matches!(
            object_fields(body.as_bytes()),
            Err(BodyError::Unreadable(_))
        ));
        assert!(object_fields(br#"{"a":1,"a":2}"#).is_ok());
    }

    #[test]
    fn only_small_values_are_parsed_within_a_total() {
        let zeros = format!("[{}0]", "0,".repeat(40_000));
        let body = format!(r#"{{"big": {zeros}, "small": {{"k": [1, 2]}}}}"#);
        let fields = object_fields(body.as_bytes()).unwrap();
        let mut small = SmallValues::default();
        assert_eq!(
            small.parse(fields.get("big").unwrap()),
            Err(zeros.len()),
            "a value past SMALL_VALUE_BYTES is not parsed"
        );
        assert_eq!(
            small.parse(fields.get("small").unwrap()),
            Ok(serde_json::json!({"k": [1, 2]}))
        );
        let mut total = SmallValues::default();
        let piece = format!("\"{}\"", "x".repeat(SMALL_VALUE_BYTES - 2));
        let piece: Box<JsonText> = serde_json::from_str(&piece).unwrap();
        for _ in 0..SMALL_VALUES_TOTAL / SMALL_VALUE_BYTES {
            assert!(total.parse(&piece).is_ok());
        }
        assert!(total.parse(&piece).is_err(), "the total is spent");
    }
}
