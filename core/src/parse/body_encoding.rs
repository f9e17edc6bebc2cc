//! How a body is encoded, by its media type, and what reading it holds in the memory budget.

use crate::budget::Phase;
use crate::envelope::ApiError;

/// How a body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    Json,
    /// `application/x-www-form-urlencoded`: an HTML form, or JSON from `curl -d '{...}'`, which
    /// sends this type by default (the Workers AI REST API reads such bodies as JSON too).
    FormOrJson,
    Multipart,
}

impl BodyEncoding {
    /// The shape of a body sent as `content_type` (none at all is JSON, as the REST API takes).
    ///
    /// # Errors
    /// 415 for any other media type.
    pub fn of(content_type: &str) -> Result<BodyEncoding, ApiError> {
        let essence = media_type_essence(content_type);
        match essence.as_str() {
            "" | "application/json" => Ok(BodyEncoding::Json),
            "application/x-www-form-urlencoded" => Ok(BodyEncoding::FormOrJson),
            "multipart/form-data" => Ok(BodyEncoding::Multipart),
            other if other.ends_with("+json") => Ok(BodyEncoding::Json),
            _ => Err(ApiError::UnsupportedMediaType {
                sent: content_type.to_owned(),
                accepted: crate::envelope::NATIVE_MEDIA_TYPES,
            }),
        }
    }

    /// What reading a body of this shape holds at `body` bytes read, before it is parsed: JSON
    /// by the fast path, forms by the runtime's parser.
    #[must_use]
    pub fn reading(self, body: u64) -> Phase {
        match self {
            BodyEncoding::Json => Phase::JsonFast { body },
            BodyEncoding::FormOrJson | BodyEncoding::Multipart => Phase::Form { body },
        }
    }

    /// Whether a body of this shape whose first byte other than whitespace is `first` is parsed
    /// as JSON: a url-encoded body that is really JSON starts with `{` (url-encoded names cannot).
    #[must_use]
    pub fn parses_as_json(self, first: Option<u8>) -> bool {
        match self {
            BodyEncoding::Json => true,
            BodyEncoding::FormOrJson => first == Some(b'{'),
            BodyEncoding::Multipart => false,
        }
    }
}

/// The media type of a `Content-Type` value without its parameters, lower-cased: what decides
/// how a body is read.
#[must_use]
pub fn media_type_essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_pick_a_shape() {
        for (content_type, shape) in [
            ("", BodyEncoding::Json),
            ("application/json", BodyEncoding::Json),
            ("Application/JSON; charset=utf-8", BodyEncoding::Json),
            ("application/merge-patch+json", BodyEncoding::Json),
            (
                "application/x-www-form-urlencoded",
                BodyEncoding::FormOrJson,
            ),
            ("multipart/form-data; boundary=x", BodyEncoding::Multipart),
        ] {
            assert_eq!(
                BodyEncoding::of(content_type).ok(),
                Some(shape),
                "{content_type}"
            );
        }
        let refused = BodyEncoding::of("text/plain").err().unwrap();
        assert_eq!(refused.status(), 415);
        assert!(refused
            .to_string()
            .contains("application/x-www-form-urlencoded"));
    }

    #[test]
    fn url_encoded_json_is_parsed_as_json() {
        assert!(BodyEncoding::FormOrJson.parses_as_json(Some(b'{')));
        assert!(!BodyEncoding::FormOrJson.parses_as_json(Some(b'p')));
        assert!(!BodyEncoding::FormOrJson.parses_as_json(None));
        assert!(BodyEncoding::Json.parses_as_json(None));
        assert!(!BodyEncoding::Multipart.parses_as_json(Some(b'{')));
    }

    #[test]
    fn reading_holds_by_shape() {
        assert_eq!(BodyEncoding::Json.reading(9), Phase::JsonFast { body: 9 });
        assert_eq!(BodyEncoding::FormOrJson.reading(9), Phase::Form { body: 9 });
        assert_eq!(BodyEncoding::Multipart.reading(9), Phase::Form { body: 9 });
    }
}
