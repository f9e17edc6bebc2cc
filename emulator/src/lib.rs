//! The Workers AI stand-in: what `AI` is bound to in local runs, because the real binding has no
//! local mode. It validates with the same model tables as the gateway, draws a deterministic
//! picture instead of running diffusion, and can be armed to fail in each documented way.
//!
//! The drawing, codecs, ledger, `render` and what a multipart run refuses (`multipart`) are plain
//! Rust, tested natively; `binding`, `multipart_run` and `over_http` are the Worker.

pub mod codec;
pub mod ledger;
pub mod multipart;
pub mod paint;
pub mod render;
pub mod thrown;

#[cfg(target_arch = "wasm32")]
mod binding;
#[cfg(target_arch = "wasm32")]
mod multipart_run;
#[cfg(target_arch = "wasm32")]
mod over_http;
