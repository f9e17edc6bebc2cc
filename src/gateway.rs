//! What every handler works with besides the request: the Worker's bindings and context, the
//! isolate's settings, and the request's trace.

use worker::{Context, Env};

use crate::config::Config;
use crate::trace::Trace;

pub struct Gateway<'a> {
    pub env: &'a Env,
    pub ctx: &'a Context,
    pub config: &'a Config,
    pub trace: &'a mut Trace,
}
