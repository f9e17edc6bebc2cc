//! The operator's settings (`sdxl_core::config::Config`), read once per isolate: this module only
//! supplies the lookup of vars and secrets on `env`.

use std::cell::OnceCell;
use std::rc::Rc;

pub use sdxl_core::config::Config;
use worker::Env;

thread_local! {
    /// The settings, read once per isolate: vars and secrets are fixed for a deployment's
    /// lifetime (a change deploys a new version, in new isolates), and reading them per request
    /// re-hashed every token.
    static CACHED: OnceCell<Rc<Result<Config, String>>> = const { OnceCell::new() };
}

/// This isolate's settings, or why they cannot be read.
pub fn cached(env: &Env) -> Rc<Result<Config, String>> {
    CACHED.with(|cell| {
        cell.get_or_init(|| {
            Rc::new(Config::from_vars(|name| lookup(env, name)).map_err(|e| e.to_string()))
        })
        .clone()
    })
}

/// A setting's text: secrets and vars are both plain strings on `env`, under one name each (a
/// secret is the right home for tokens and the permalink secret).
pub(crate) fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .or_else(|| env.var(name).ok())
        .map(|value| value.to_string())
}
