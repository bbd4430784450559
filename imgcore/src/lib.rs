#![doc = include_str!("../README.md")]
#![warn(missing_docs)]
#![forbid(unsafe_op_in_unsafe_fn)]

mod alloc;
mod anim;
#[cfg(feature = "aom")]
mod aom_enc;
#[cfg(feature = "avif")]
mod avif;
#[cfg(feature = "avif")]
mod avif_enc;
mod color;
mod container;
mod encode;
mod error;
mod format;
pub mod geometry;
#[cfg(feature = "heic")]
mod heic;
#[cfg(any(feature = "heic", feature = "avif"))]
mod heif;
mod ifd;
mod jpeg;
#[cfg(feature = "jxl")]
mod jxl;
mod limits;
mod probe;
mod render;
pub mod spec;
#[doc(hidden)]
pub mod synth;
mod thumb;

pub use alloc::tune_allocator;
pub use error::{Error, ErrorKind, Result};
pub use format::{ImageFormat, OutputFormat};
pub use limits::{parse_byte_size, Limits};
pub use probe::{probe, probe_with_limits, ColorModel, ImageInfo};
pub use render::{estimate_memory, output_size, render, MemoryEstimate, Plan, Rendered, Rendition};
pub use spec::{AvifEncoder, Filter, Fit, Gravity, OutputSpec};

/// The version of the libaom this build links (`3.14.1`), or `None` in a build without the
/// `aom` feature. libaom 3.12 and later encode with `tune=iq` (spec flag `aom`).
#[cfg(feature = "aom")]
pub fn libaom_version() -> Option<String> {
    Some(aom_enc::version())
}

/// The version of the libaom this build links: `None`, as this build has no `aom` feature.
#[cfg(not(feature = "aom"))]
pub fn libaom_version() -> Option<String> {
    None
}

/// The engine's version, recorded with every output.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
