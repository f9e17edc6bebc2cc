//! What the gateway reads of a request, read once at the door: the method, the URL's parts and
//! the few headers any decision needs. Every decision downstream takes this, not the runtime's
//! request, so it is tested natively and no module goes back to the request for one more header.

use crate::access::AuthError;
use crate::config::Config;
use crate::headers::{any_current, ClientCaching};
use crate::route::Surface;

/// The request methods the gateway tells apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Options,
    Delete,
    /// Any other, by its name as sent.
    Other(String),
}

impl Method {
    /// The method named `name` (methods are case-sensitive, RFC 9110 §9.1).
    #[must_use]
    pub fn parse(name: &str) -> Method {
        match name {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "OPTIONS" => Method::Options,
            "DELETE" => Method::Delete,
            other => Method::Other(other.to_owned()),
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Options => "OPTIONS",
            Method::Delete => "DELETE",
            Method::Other(name) => name,
        }
    }
}

/// The request, as far as the gateway reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: Method,
    /// The URL's path, still percent-encoded.
    pub path: String,
    /// The surface the path belongs to, decided once here: the shape of every refusal.
    pub surface: Surface,
    /// The URL's `scheme://host[:port]`: where the Cache API keys of this deployment live.
    pub url_origin: String,
    /// The URL's query string, without `?`, when it has one.
    pub query: Option<String>,
    /// The `Origin` header (for CORS).
    pub origin: Option<String>,
    pub accept: Option<String>,
    pub if_none_match: Option<String>,
    pub cache_control: Option<String>,
    /// Legacy `Pragma: no-cache`, read as `Cache-Control: no-cache`.
    pub pragma: Option<String>,
    pub authorization: Option<String>,
    /// `cf-connecting-ip`, set by Cloudflare's edge (which overwrites what a client sends).
    pub client_address: Option<String>,
    pub content_type: Option<String>,
    /// The declared `Content-Length`, when readable.
    pub content_length: Option<u64>,
}

impl RequestHead {
    /// A head for `method` on `url` (absolute, as Workers hand it over) with no headers; the
    /// adapter fills in the headers it reads.
    #[must_use]
    pub fn new(method: &str, url: &str) -> RequestHead {
        let (origin, query) = crate::route::origin_and_query(url);
        let rest = &url[origin.len().min(url.len())..];
        let path = rest.split(['?', '#']).next().unwrap_or_default();
        let path = if path.is_empty() { "/" } else { path };
        RequestHead {
            method: Method::parse(method),
            path: path.to_owned(),
            surface: Surface::of(path),
            url_origin: origin.to_owned(),
            query: query.map(str::to_owned),
            origin: None,
            accept: None,
            if_none_match: None,
            cache_control: None,
            pragma: None,
            authorization: None,
            client_address: None,
            content_type: None,
            content_length: None,
        }
    }

    /// What the client's `Cache-Control` and `Pragma` allow.
    #[must_use]
    pub fn caching(&self) -> ClientCaching {
        ClientCaching::from_headers(self.cache_control.as_deref(), self.pragma.as_deref())
    }

    /// `If-None-Match: *`: a 304 only if the image already exists.
    #[must_use]
    pub fn unless_exists(&self) -> bool {
        self.if_none_match.as_deref().is_some_and(any_current)
    }

    /// Rate-limit identity of a caller without a token: `ip:<address>`.
    #[must_use]
    pub fn client_id(&self) -> String {
        match self.client_address.as_deref() {
            Some(ip) if !ip.is_empty() => format!("ip:{ip}"),
            _ => "ip:unknown".to_owned(),
        }
    }

    /// Checks credentials (unless anonymous access is allowed) and answers who the caller is,
    /// for rate limiting: `token:<id>` or `ip:<address>`.
    ///
    /// # Errors
    /// A missing or unknown token.
    pub fn caller(&self, config: &Config) -> Result<String, AuthError> {
        if config.allow_anonymous {
            // Credentials are not checked at all: an SDK that always sends one still works.
            return Ok(self.client_id());
        }
        let id = config.tokens.check(self.authorization.as_deref())?;
        Ok(format!("token:{id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_is_split_once() {
        let head = RequestHead::new("GET", "http://127.0.0.1:8787/ai/run/@cf/x?prompt=a#f");
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.path, "/ai/run/@cf/x");
        assert_eq!(head.url_origin, "http://127.0.0.1:8787");
        assert_eq!(head.query.as_deref(), Some("prompt=a"));
        let bare = RequestHead::new("PATCH", "https://h.example");
        assert_eq!(bare.path, "/");
        assert_eq!(bare.query, None);
        assert_eq!(bare.method, Method::Other("PATCH".into()));
        assert_eq!(bare.method.as_str(), "PATCH");
        assert_eq!(Method::parse("get"), Method::Other("get".into()));
    }

    #[test]
    fn callers_are_named_by_token_or_address() {
        let config = |vars: &[(&str, &str)]| {
            let vars = vars.to_vec();
            Config::from_vars(move |name| {
                vars.iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            })
            .unwrap()
        };
        let mut head = RequestHead::new("POST", "https://h.example/");
        assert_eq!(head.client_id(), "ip:unknown");
        head.client_address = Some(String::new());
        assert_eq!(head.client_id(), "ip:unknown");
        head.client_address = Some("203.0.113.9".into());
        let anonymous = config(&[("ALLOW_ANONYMOUS", "true")]);
        assert_eq!(head.caller(&anonymous).unwrap(), "ip:203.0.113.9");
        let guarded = config(&[("API_TOKENS", "secret-token")]);
        assert!(head.caller(&guarded).is_err());
        head.authorization = Some("Bearer secret-token".into());
        assert!(head.caller(&guarded).unwrap().starts_with("token:"));
    }

    #[test]
    fn caching_and_star() {
        let mut head = RequestHead::new("GET", "https://h.example/");
        assert!(head.caching().read && head.caching().store && !head.unless_exists());
        head.pragma = Some("no-cache".into());
        head.if_none_match = Some("*".into());
        assert!(!head.caching().read && head.caching().store && head.unless_exists());
    }
}
