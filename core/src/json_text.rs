//! A `serde_json::Value` as JSON text, by the one serializer the Worker links for it:
//! `serde_json::to_string`'s (a `Vec<u8>` with the compact formatter, which the envelopes and the
//! log line use). `Value`'s `Display` (`value.to_string()`, `format!("{value}")`) is another: a
//! `fmt::Write` adapter with the compact and the pretty formatter (for `{:#}`), both compiled into
//! the bundle. The text is the same byte for byte (a test). Strings alone are written by
//! [`push_str`], without a `Value` around them.

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

/// `s` as a JSON string, escaped as serde_json escapes it: `"` and `\`, the short escapes of
/// `\b \t \n \f \r`, other control characters as `\u00xx`; everything else as is (no escaping of
/// `/`, DEL or non-ASCII).
pub fn push_str(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push('"');
    let mut start = 0;
    for (i, byte) in s.bytes().enumerate() {
        let escape = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0xf)]));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// The length of what [`push_str`] writes for `s`, without writing it: a job's input is sized
/// for its queue message without a copy of it.
#[must_use]
pub fn escaped_len(s: &str) -> usize {
    2 + s
        .bytes()
        .map(|byte| match byte {
            b'"' | b'\\' | b'\n' | b'\r' | b'\t' | 0x08 | 0x0c => 2,
            0..=0x1f => 6,
            _ => 1,
        })
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn escaped_len_is_what_push_str_writes() {
        for s in [
            "",
            "plain",
            "q\"uote\\ \n\r\t\u{8}\u{c}\u{1}\u{1f} é 🐈",
            "\u{7f}\u{0}",
        ] {
            let mut out = String::new();
            push_str(&mut out, s);
            assert_eq!(escaped_len(s), out.len(), "{s:?}");
        }
    }

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

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let mut samples: Vec<String> = (0u8..=0x7f).map(|b| char::from(b).to_string()).collect();
        samples.extend(
            [
                "",
                "plain",
                "quote \" and backslash \\ and slash /",
                "tab\tnew\nline\r\u{8}\u{c}\u{0}\u{1f}\u{7f}",
                "é, 猫, 🐈, \u{2028}\u{2029}",
                "\"\"\\\\",
            ]
            .map(str::to_owned),
        );
        for s in samples {
            let mut out = String::new();
            push_str(&mut out, &s);
            assert_eq!(out, serde_json::to_string(&s).unwrap(), "{s:?}");
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s);
        }
    }
}
