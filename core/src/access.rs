//! Who may call the gateway: bearer tokens compared in constant time, and the CORS allow-list.

use sha2::{Digest, Sha256};

use crate::cache_key::hex;
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The configured API tokens, kept only as SHA-256 digests so every comparison is over 32 bytes
/// whatever the tokens' lengths, and made in constant time.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    digests: Vec<[u8; 32]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AuthError {
    #[error("send an API token: Authorization: Bearer <token>")]
    Missing,
    #[error("the Authorization header must be `Bearer <token>`")]
    Malformed,
    #[error("the API token is not valid")]
    Invalid,
    #[error("no API token is configured; the operator must set API_TOKENS (or ALLOW_ANONYMOUS)")]
    NoneConfigured,
    #[error(
        "reading another caller's usage takes an operator's token, and none is configured \
         (ADMIN_TOKENS)"
    )]
    NoAdminToken,
}

impl Tokens {
    /// Tokens separated by commas, whitespace or newlines; empty entries are ignored.
    #[must_use]
    pub fn parse(list: &str) -> Tokens {
        let digests = list
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
            .map(digest)
            .collect();
        Tokens { digests }
    }

    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Checks an `Authorization` header value. On success answers a short, stable id of the token
    /// (for rate-limit keys and logs, never the token itself).
    ///
    /// # Errors
    /// Why the request is not authorized.
    pub fn check(&self, authorization: Option<&str>) -> Result<String, AuthError> {
        if self.digests.is_empty() {
            return Err(AuthError::NoneConfigured);
        }
        let value = authorization.map(str::trim).filter(|v| !v.is_empty());
        let value = value.ok_or(AuthError::Missing)?;
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Malformed)?;
        if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
            return Err(AuthError::Malformed);
        }
        let presented = digest(token.trim());
        // Compare against every token, without stopping early, so timing says nothing.
        let mut matched = subtle::Choice::from(0);
        for known in &self.digests {
            matched |= known.ct_eq(&presented);
        }
        if bool::from(matched) {
            Ok(hex_prefix(&presented))
        } else {
            Err(AuthError::Invalid)
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

fn hex_prefix(digest: &[u8; 32]) -> String {
    hex(&digest[..8])
}

/// What a rate-limit check decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    /// Within the limit (or nothing to limit).
    Pass,
    /// Over the limit: 429 with `Retry-After`.
    Over,
    /// No limiter is bound where tokens are required: every token would go unlimited, so it
    /// is the operator's to fix, said at once (a 500 naming the binding).
    Unbound,
}

impl Limited {
    /// The decision for the limiter's answer (`None`: no limiter bound).
    #[must_use]
    pub fn of(counted: Option<bool>, allow_anonymous: bool) -> Limited {
        match counted {
            Some(true) => Limited::Pass,
            Some(false) => Limited::Over,
            None if allow_anonymous => Limited::Pass,
            None => Limited::Unbound,
        }
    }
}

/// Which browser origins may call the gateway.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum CorsPolicy {
    /// No CORS headers for anyone (the default).
    #[default]
    None,
    /// Any origin (`*`), only when the operator chose it.
    Any,
    /// Exactly these origins (scheme://host[:port], compared case-insensitively).
    List(Vec<String>),
}

/// Response headers browsers may read.
pub const CORS_EXPOSED_HEADERS: &str = "x-seed, x-cache, x-cache-tier, etag, x-request-id, \
content-location, x-ignored-fields, x-requested-width, x-requested-height, retry-after, server-timing";
/// Methods a preflight allows.
pub const CORS_ALLOWED_METHODS: &str = "GET, POST, OPTIONS";
/// Request headers a preflight allows.
pub const CORS_ALLOWED_HEADERS: &str = "authorization, content-type, cache-control, if-none-match";

impl CorsPolicy {
    /// `*`, or a comma-separated list of origins; empty means none.
    #[must_use]
    pub fn parse(value: &str) -> CorsPolicy {
        let origins: Vec<String> = value
            .split(',')
            .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
            .filter(|o| !o.is_empty())
            .collect();
        if origins.iter().any(|o| o == "*") {
            CorsPolicy::Any
        } else if origins.is_empty() {
            CorsPolicy::None
        } else {
            CorsPolicy::List(origins)
        }
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    ///
    /// `*` is answered whether or not the request names an origin: then the response does not
    /// depend on the origin at all, and a shared cache may hand one copy to every client.
    #[must_use]
    pub fn allow_origin(&self, origin: Option<&str>) -> Option<String> {
        match self {
            CorsPolicy::None => None,
            CorsPolicy::Any => Some("*".to_owned()),
            CorsPolicy::List(list) => {
                let origin = origin?;
                let wanted = origin.trim_end_matches('/').to_ascii_lowercase();
                list.contains(&wanted).then(|| origin.to_owned())
            }
        }
    }

    /// Whether responses depend on the request's `Origin` (and so must say `Vary: Origin`, or a
    /// shared cache could serve one origin's copy to another): only with a list, where the
    /// answer echoes the origin to some and says nothing to others.
    #[must_use]
    pub fn varies_by_origin(&self) -> bool {
        matches!(self, CorsPolicy::List(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_limiter_is_refused_only_where_tokens_are_required() {
        assert_eq!(Limited::of(Some(true), false), Limited::Pass);
        assert_eq!(Limited::of(Some(false), true), Limited::Over);
        assert_eq!(Limited::of(None, true), Limited::Pass, "local, anonymous");
        assert_eq!(
            Limited::of(None, false),
            Limited::Unbound,
            "tokens required"
        );
    }

    #[test]
    fn bearer_tokens() {
        let tokens = Tokens::parse("alpha, beta\n gamma-123");
        let id = tokens.check(Some("Bearer beta")).unwrap();
        assert_eq!(id.len(), 16);
        assert_eq!(tokens.check(Some("bearer   gamma-123 ")).unwrap().len(), 16);
        assert_ne!(
            tokens.check(Some("Bearer alpha")).unwrap(),
            id,
            "ids tell tokens apart"
        );
        assert_eq!(tokens.check(None), Err(AuthError::Missing));
        assert_eq!(tokens.check(Some("  ")), Err(AuthError::Missing));
        assert_eq!(tokens.check(Some("beta")), Err(AuthError::Malformed));
        assert_eq!(
            tokens.check(Some("Basic YmV0YQ==")),
            Err(AuthError::Malformed)
        );
        assert_eq!(tokens.check(Some("Bearer ")), Err(AuthError::Malformed));
        assert_eq!(tokens.check(Some("Bearer bet")), Err(AuthError::Invalid));
        assert_eq!(tokens.check(Some("Bearer betaa")), Err(AuthError::Invalid));
        assert_eq!(
            tokens.check(Some("Bearer alpha,beta")),
            Err(AuthError::Invalid)
        );
    }

    #[test]
    fn no_tokens_refuses_everything() {
        let none = Tokens::parse(" , \n");
        assert!(none.is_empty());
        assert_eq!(
            none.check(Some("Bearer anything")),
            Err(AuthError::NoneConfigured)
        );
    }

    #[test]
    fn cors_policies() {
        assert_eq!(CorsPolicy::parse(""), CorsPolicy::None);
        assert_eq!(
            CorsPolicy::None.allow_origin(Some("https://a.example")),
            None
        );
        let any = CorsPolicy::parse("*");
        assert_eq!(
            any.allow_origin(Some("https://x.example")),
            Some("*".into())
        );
        assert_eq!(
            any.allow_origin(None),
            Some("*".into()),
            "the same answer with or without an origin"
        );
        assert!(!any.varies_by_origin());
        assert!(!CorsPolicy::None.varies_by_origin());
        let list = CorsPolicy::parse("https://app.example, http://localhost:5173/");
        assert_eq!(
            list.allow_origin(Some("https://APP.example")),
            Some("https://APP.example".into())
        );
        assert_eq!(
            list.allow_origin(Some("http://localhost:5173")),
            Some("http://localhost:5173".into())
        );
        assert_eq!(list.allow_origin(Some("https://evil.example")), None);
        assert_eq!(list.allow_origin(Some("https://app.example.evil")), None);
        assert_eq!(list.allow_origin(None), None);
        assert!(list.varies_by_origin());
    }
}
