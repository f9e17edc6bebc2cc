//! What a failed `AI.run` means for the client.
//!
//! The binding throws errors whose message is `"<code>: <reason>"`, sometimes behind a name
//! such as `AiError: ` (workerd `ai-api.ts`, `_parseError`). The code decides the HTTP status a
//! client can act on.

/// A failure reported by the AI binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamError {
    /// The Workers AI internal code, when the message carried one.
    pub code: Option<u32>,
    /// The message without its code and error-name prefixes.
    pub reason: String,
}

/// What kind of failure it is, from the client's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamKind {
    /// The model refused the inputs (`5006`, `3030`, `5004`, `3003`): the client's to fix.
    BadInput,
    /// Out of capacity (`3040`): retry later.
    Capacity,
    /// A rate limit or allocation ran out (`3036`, `3021`, `4006`).
    RateLimited,
    /// Timed out or aborted (`3007`, `3008`).
    Timeout,
    /// Input too large for the service (`3006`).
    TooLarge,
    /// Anything else: the gateway cannot vouch for the upstream.
    Other,
}

impl UpstreamError {
    /// Reads a thrown error's message.
    #[must_use]
    pub fn parse(message: &str) -> Self {
        let mut rest = message.trim();
        // Peel `AiError: `, `InferenceUpstreamError: `, `Error: ` and repeats of them.
        while let Some((name, tail)) = rest.split_once(": ") {
            let is_error_name = !name.is_empty()
                && name.len() <= 40
                && name.ends_with("Error")
                && name.chars().all(|c| c.is_ascii_alphanumeric());
            if !is_error_name {
                break;
            }
            rest = tail;
        }
        if let Some((code, reason)) = rest.split_once(':') {
            if let Ok(code) = code.trim().parse::<u32>() {
                return UpstreamError {
                    code: Some(code),
                    reason: reason.trim().to_owned(),
                };
            }
        }
        UpstreamError {
            code: None,
            reason: rest.to_owned(),
        }
    }

    #[must_use]
    pub fn kind(&self) -> UpstreamKind {
        match self.code {
            Some(5006 | 3030 | 5004 | 3003) => UpstreamKind::BadInput,
            Some(3040) => UpstreamKind::Capacity,
            Some(3036 | 3021 | 4006) => UpstreamKind::RateLimited,
            Some(3007 | 3008) => UpstreamKind::Timeout,
            Some(3006) => UpstreamKind::TooLarge,
            _ => UpstreamKind::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_binding_messages() {
        let e = UpstreamError::parse("AiError: 5006: Error: '/num_steps' must be <= 20");
        assert_eq!(e.code, Some(5006));
        assert_eq!(e.reason, "Error: '/num_steps' must be <= 20");
        assert_eq!(e.kind(), UpstreamKind::BadInput);

        let e = UpstreamError::parse("InferenceUpstreamError: 3040: Capacity temporarily exceeded");
        assert_eq!((e.code, e.kind()), (Some(3040), UpstreamKind::Capacity));

        let e = UpstreamError::parse("AiError: AiError: 3030: missing required input mask_image");
        assert_eq!((e.code, e.kind()), (Some(3030), UpstreamKind::BadInput));

        let e = UpstreamError::parse("3007: Timeout");
        assert_eq!((e.code, e.kind()), (Some(3007), UpstreamKind::Timeout));
    }

    #[test]
    fn messages_without_codes_are_other() {
        let e = UpstreamError::parse("Error: network connection lost");
        assert_eq!(e.code, None);
        assert_eq!(e.reason, "network connection lost");
        assert_eq!(e.kind(), UpstreamKind::Other);
        assert_eq!(UpstreamError::parse("").kind(), UpstreamKind::Other);
    }
}
