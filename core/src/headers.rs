//! Values for response headers built from client input, which must stay short visible ASCII.

use std::fmt::Write as _;

/// How many names `x-ignored-fields` lists before summarising the rest.
pub const MAX_LISTED_FIELDS: usize = 20;
/// Longest name listed whole; longer ones are cut (a header line has a size limit).
const MAX_NAME_LEN: usize = 64;

/// `a, b, c` for the names, percent-encoding anything that is not visible ASCII (and `%`, `,`),
/// listing at most [`MAX_LISTED_FIELDS`] and then `(+N more)`.
#[must_use]
pub fn field_list(names: &[String]) -> String {
    let mut out = String::new();
    for (i, name) in names.iter().take(MAX_LISTED_FIELDS).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let mut end = name.len().min(MAX_NAME_LEN);
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        for byte in name[..end].bytes() {
            if byte.is_ascii_graphic() && byte != b'%' && byte != b',' {
                out.push(char::from(byte));
            } else {
                let _ = write!(out, "%{byte:02X}");
            }
        }
        if end < name.len() {
            out.push_str("...");
        }
    }
    if names.len() > MAX_LISTED_FIELDS {
        let _ = write!(out, ", (+{} more)", names.len() - MAX_LISTED_FIELDS);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(names: &[&str]) -> String {
        field_list(&names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn plain_names_are_listed_as_they_are() {
        assert_eq!(list(&["stpes", "cfg_scale"]), "stpes, cfg_scale");
    }

    #[test]
    fn unsafe_bytes_are_percent_encoded() {
        assert_eq!(
            list(&["a b", "é", "x,y", "100%", "new\nline"]),
            "a%20b, %C3%A9, x%2Cy, 100%25, new%0Aline"
        );
    }

    #[test]
    fn long_lists_and_names_are_cut() {
        let many: Vec<String> = (0..25).map(|i| format!("f{i}")).collect();
        let out = field_list(&many);
        assert!(out.starts_with("f0, f1, "));
        assert!(out.ends_with("f19, (+5 more)"));
        let long = "é".repeat(40); // 80 bytes: cut on a character boundary
        let out = list(&[&long]);
        assert!(out.ends_with("..."));
        assert_eq!(out.matches("%C3%A9").count(), 32);
    }
}
