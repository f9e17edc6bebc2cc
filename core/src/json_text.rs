//! A `serde_json::Value` as JSON text, by the one serializer the Worker links for it:
//! `serde_json::to_string`'s (a `Vec<u8>` with the compact formatter, which the envelopes and the
//! log line use). `Value`'s `Display` (`value.to_string()`, `format!("{value}")`) is another: a
//! `fmt::Write` adapter with the compact and the pretty formatter (for `{:#}`), both compiled into
//! the bundle. The text is the same byte for byte (a test).

use serde_json::Value;

/// `value` as compact JSON text.
#[must_use]
pub fn text(value: &Value) -> String {
    let mut out = String::new();
    push(&mut out, value);
    out
}

/// Appends `value` as compact JSON text to `out`.
pub fn push(out: &mut String, value: &Value) {
    let mut bytes = std::mem::take(out).into_bytes();
    // Writing a `Value` into a `Vec` cannot fail (its map keys are strings), and serde_json
    // writes UTF-8 only.
    let _ = serde_json::to_writer(&mut bytes, value);
    *out = String::from_utf8(bytes).unwrap_or_else(|e| {
        let valid = e.utf8_error().valid_up_to();
        let mut bytes = e.into_bytes();
        bytes.truncate(valid);
        String::from_utf8(bytes).unwrap_or_default()
    });
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_text_is_displays() {
        for value in [
            json!(null),
            json!(0.1),
            json!(1e300),
            json!(-0.0),
            json!(u64::MAX),
            json!(i64::MIN),
            json!("quote \" back \\ \u{0} \u{1f} \u{7f} é 🐈 \u{2028}"),
            json!({"b": [1, 2.5, {"c": null}], "a": true, "é": "x"}),
            json!([]),
            json!({}),
        ] {
            assert_eq!(text(&value), value.to_string());
            let mut out = String::from("prefix:");
            push(&mut out, &value);
            assert_eq!(out, format!("prefix:{value}"));
        }
    }
}
