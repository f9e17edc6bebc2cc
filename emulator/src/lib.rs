//! The Workers AI stand-in: what `AI` is bound to in local runs, because the real binding has no
//! local mode. It validates with the same model tables as the gateway, draws a deterministic
//! picture instead of running diffusion, and can be armed to fail in each documented way.
//!
//! The drawing, codecs, ledger and `render` are plain Rust, tested natively; `binding` is the
//! Worker.

pub mod codec;
pub mod ledger;
pub mod multipart;
pub mod paint;
pub mod render;
pub mod thrown;

#[cfg(target_arch = "wasm32")]
mod binding;
