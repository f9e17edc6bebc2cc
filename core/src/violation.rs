//! One broken rule of the contract, named by JSON pointer, rule and bound.

use serde::Serialize;

/// The rule a field broke; serialized as its snake_case name so clients can branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    Required,
    Type,
    MinLength,
    MaxLength,
    Minimum,
    Maximum,
    Integer,
    Base64,
    Image,
    MaxPixels,
    /// A list with more items than the field takes.
    MaxItems,
    Exclusive,
    Requires,
    SameDimensions,
    UnknownField,
    Duplicate,
    NotInQuery,
    /// A value the API defines that these models cannot honour (OpenAI's `background:
    /// "transparent"`, an `output_compression` below 100): refused, never silently ignored.
    Unsupported,
    /// The whole request: more distinct unknown field names than
    /// [`crate::parse::MAX_UNKNOWN_FIELDS`].
    TooManyUnknownFields,
    /// Not a rule broken but the last entry of a cut error list: how many violations were left
    /// out (see [`crate::envelope::MAX_LISTED_VIOLATIONS`]).
    MoreViolations,
}

/// A rule broken by one field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Violation {
    /// JSON pointer of the offending value, e.g. `/num_steps` or `/image/17`; `""` (the whole
    /// document) for a rule about the request as a whole.
    pub path: String,
    pub rule: Rule,
    /// The bound the rule sets, when it has one (e.g. `20` for `maximum`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<serde_json::Value>,
    /// A sentence a person can act on, starting with the quoted path.
    pub message: String,
}

impl Violation {
    pub(crate) fn new(path: impl Into<String>, rule: Rule, detail: impl AsRef<str>) -> Self {
        let path = path.into();
        let message = format!("'{path}' {}", detail.as_ref());
        Violation {
            path,
            rule,
            limit: None,
            message,
        }
    }

    /// A rule broken by the request as a whole: the path is the root pointer `""`, and the
    /// message is a sentence of its own (a quoted empty path would tell nobody anything).
    pub(crate) fn whole_request(rule: Rule, message: impl Into<String>) -> Self {
        Violation {
            path: String::new(),
            rule,
            limit: None,
            message: message.into(),
        }
    }

    pub(crate) fn with_limit(mut self, limit: impl Into<serde_json::Value>) -> Self {
        self.limit = Some(limit.into());
        self
    }
}
