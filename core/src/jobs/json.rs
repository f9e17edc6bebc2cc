//! The jobs' JSON, written and read by hand: the job as its object stores it, its events, the
//! object's answer to an event, the queue message and the prediction.
//!
//! Why not serde's derives: each derived type is monomorphized for serde_json's reader and writer
//! in the Worker and in its object, and that code was most of what the jobs surface added to the
//! gzipped deploy bundle (BENCHMARKS.md, "Bundle"). Writing is a few lines per type, in the
//! derives' field order, so the bytes are the ones serde wrote (the tests compare them with the
//! derives). Reading goes through `serde_json::Value`, whose parser the Worker links anyway (OpenAI
//! bodies, create requests), then takes each field out of the map: unknown fields are ignored, a
//! missing `Option` is `None`, as the derives read them.

use std::fmt::Write as _;

use serde_json::{Map, Value};
use thiserror::Error;

pub use crate::json_text::push_str;

/// Why a job's JSON could not be read.
#[derive(Debug, Error)]
pub enum JsonError {
    #[error("not JSON: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("{0}: missing or of the wrong type")]
    Field(&'static str),
}

pub type Read<T> = Result<T, JsonError>;

/// A whole number.
pub fn push_u64(out: &mut String, n: u64) {
    // Writing to a `String` cannot fail.
    let _ = write!(out, "{n}");
}

/// `s`, or `null`.
pub fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// `n`, or `null`.
pub fn push_opt_u64(out: &mut String, n: Option<u64>) {
    match n {
        Some(n) => push_u64(out, n),
        None => out.push_str("null"),
    }
}

pub fn push_bool(out: &mut String, b: bool) {
    out.push_str(if b { "true" } else { "false" });
}

/// An object's fields, written in order: `{` before the first, `,` between, `}` at the end.
pub struct ObjectWriter<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> ObjectWriter<'a> {
    pub fn new(out: &'a mut String) -> Self {
        out.push('{');
        ObjectWriter { out, empty: true }
    }

    /// Writes `"name":` and hands back the text for the value. Names are ours: plain ASCII.
    pub fn field(&mut self, name: &str) -> &mut String {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
        self.out.push('"');
        self.out.push_str(name);
        self.out.push_str("\":");
        self.out
    }

    pub fn end(self) {
        self.out.push('}');
    }
}

/// `items` as a JSON array, each written by `item`.
pub fn push_array<T>(out: &mut String, items: &[T], mut item: impl FnMut(&mut String, &T)) {
    out.push('[');
    for (i, x) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, x);
    }
    out.push(']');
}

/// The JSON object of `bytes`.
///
/// # Errors
/// Not JSON, or not an object.
pub fn parse_object(bytes: &[u8], what: &'static str) -> Read<Map<String, Value>> {
    match serde_json::from_slice(bytes)? {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::Field(what)),
    }
}

/// Field `name` of an object, when it is one.
pub fn object<'v>(value: &'v Value, name: &'static str) -> Read<&'v Map<String, Value>> {
    value.as_object().ok_or(JsonError::Field(name))
}

/// A required field.
pub fn get<'m>(map: &'m Map<String, Value>, name: &'static str) -> Read<&'m Value> {
    map.get(name).ok_or(JsonError::Field(name))
}

/// A field that may be missing or `null`.
pub fn get_opt<'m>(map: &'m Map<String, Value>, name: &str) -> Option<&'m Value> {
    map.get(name).filter(|v| !v.is_null())
}

pub fn string(map: &Map<String, Value>, name: &'static str) -> Read<String> {
    get(map, name)?
        .as_str()
        .map(str::to_owned)
        .ok_or(JsonError::Field(name))
}

pub fn opt_string(map: &Map<String, Value>, name: &'static str) -> Read<Option<String>> {
    get_opt(map, name)
        .map(|v| v.as_str().map(str::to_owned).ok_or(JsonError::Field(name)))
        .transpose()
}

pub fn boolean(map: &Map<String, Value>, name: &'static str) -> Read<bool> {
    get(map, name)?.as_bool().ok_or(JsonError::Field(name))
}

pub fn u64_of(value: &Value, name: &'static str) -> Read<u64> {
    value.as_u64().ok_or(JsonError::Field(name))
}

pub fn whole<T: TryFrom<u64>>(map: &Map<String, Value>, name: &'static str) -> Read<T> {
    T::try_from(u64_of(get(map, name)?, name)?).map_err(|_| JsonError::Field(name))
}

pub fn opt_whole<T: TryFrom<u64>>(map: &Map<String, Value>, name: &'static str) -> Read<Option<T>> {
    get_opt(map, name)
        .map(|v| T::try_from(u64_of(v, name)?).map_err(|_| JsonError::Field(name)))
        .transpose()
}

pub fn array<'m>(map: &'m Map<String, Value>, name: &'static str) -> Read<&'m Vec<Value>> {
    get(map, name)?.as_array().ok_or(JsonError::Field(name))
}

/// An externally tagged enum's variant (serde's default): `"name"` for a unit variant,
/// `{"name": {...}}` otherwise.
pub fn variant<'v>(value: &'v Value, what: &'static str) -> Read<(&'v str, Option<&'v Value>)> {
    match value {
        Value::String(name) => Ok((name, None)),
        Value::Object(map) if map.len() == 1 => {
            let (name, content) = map.iter().next().ok_or(JsonError::Field(what))?;
            Ok((name, Some(content)))
        }
        _ => Err(JsonError::Field(what)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_and_arrays() {
        let mut out = String::new();
        let mut o = ObjectWriter::new(&mut out);
        push_u64(o.field("a"), u64::MAX);
        push_opt_str(o.field("b"), None);
        push_array(o.field("c"), &[1u64, 2], |out, n| push_u64(out, *n));
        push_bool(o.field("d"), false);
        o.end();
        assert_eq!(
            out,
            r#"{"a":18446744073709551615,"b":null,"c":[1,2],"d":false}"#
        );
        let mut empty = String::new();
        ObjectWriter::new(&mut empty).end();
        assert_eq!(empty, "{}");
    }

    #[test]
    fn fields_are_read_strictly() {
        let map = parse_object(br#"{"n":4294967296,"f":1.5,"s":"x","z":null}"#, "t").unwrap();
        assert!(whole::<u32>(&map, "n").is_err());
        assert_eq!(whole::<u64>(&map, "n").unwrap(), 4_294_967_296);
        assert!(whole::<u64>(&map, "f").is_err());
        assert!(whole::<u64>(&map, "s").is_err());
        assert!(string(&map, "missing").is_err());
        assert_eq!(opt_string(&map, "z").unwrap(), None);
        assert_eq!(opt_string(&map, "missing").unwrap(), None);
        assert!(opt_string(&map, "n").is_err());
        assert!(parse_object(b"[1]", "t").is_err());
        assert!(parse_object(b"{", "t").is_err());
    }
}
