//! Resource limits, checked against the header before any pixel buffer exists.

/// Limits on what an input may cost. Plain data: build it with `Default` and change fields.
///
/// Every limit is checked from the image header (and the chosen decode scale) before the
/// decoder allocates a pixel buffer, so an image bomb is refused in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest input accepted, in bytes. Default: 256 MiB.
    pub max_input_bytes: u64,
    /// Largest width, in pixels, as stored in the file. Default: 65,535.
    pub max_width: u32,
    /// Largest height, in pixels, as stored in the file. Default: 65,535.
    pub max_height: u32,
    /// Largest width × height of the source, in pixels. Default: 300,000,000 (300 MP), which
    /// admits a 20000×14000 (280 MP) scan. sharp's default is 268 MP, imgproxy's 16.8 MP.
    pub max_pixels: u64,
    /// Largest number of frames a file may declare (animated GIF/WebP). Default: 1,000.
    pub max_frames: u32,
    /// Largest frames × canvas pixels an `anim` output decodes (every frame is decoded
    /// and resized once; memory holds only a few frames, this bounds the work). Checked
    /// from the header. Default: 1,000,000,000 (e.g. 1,000 frames of 1 MP).
    pub max_animation_pixels: u64,
    /// Largest pixel memory one render may use, in bytes: the decoded image at the chosen
    /// decode scale, the decoder's whole-image buffers (the coefficients of a progressive or
    /// multi-scan JPEG, the canvas of a GIF or animated WebP), and the resized outputs. It
    /// is computed from the header before decoding, and the decoders' own allocations are
    /// capped by it too (libjpeg's `max_memory_to_use`, `image`'s `max_alloc`). The peak RSS
    /// of a render stays under this plus the input and a fixed overhead (README, "Memory").
    /// Default: 1 GiB.
    pub max_decoded_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_input_bytes: 256 << 20,
            max_width: 65_535,
            max_height: 65_535,
            max_pixels: 300_000_000,
            max_frames: 1_000,
            max_animation_pixels: 1_000_000_000,
            max_decoded_bytes: 1 << 30,
        }
    }
}

/// Parse a byte size: a whole number with an optional unit, `K`, `M`, `G` (powers of
/// 1024; `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB` and a trailing `B` are read the same way),
/// e.g. `256M`, `1G`, `1048576`. `None` when it does not parse or overflows.
///
/// ```
/// assert_eq!(imgcore::parse_byte_size("256M"), Some(256 << 20));
/// assert_eq!(imgcore::parse_byte_size("1 GiB"), Some(1 << 30));
/// assert_eq!(imgcore::parse_byte_size("12x"), None);
/// ```
pub fn parse_byte_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits.parse().ok()?;
    let unit = unit.trim().to_ascii_lowercase();
    let unit = unit.strip_suffix('b').unwrap_or(&unit);
    let unit = unit.strip_suffix('i').unwrap_or(unit);
    let shift = match unit {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return None,
    };
    n.checked_mul(1u64 << shift)
}

impl Limits {
    /// No practical limit (every field at its maximum). For trusted input only.
    pub fn unlimited() -> Self {
        Limits {
            max_input_bytes: u64::MAX,
            max_width: u32::MAX,
            max_height: u32::MAX,
            max_pixels: u64::MAX,
            max_frames: u32::MAX,
            max_animation_pixels: u64::MAX,
            max_decoded_bytes: u64::MAX,
        }
    }

    pub(crate) fn check(what: &'static str, actual: u64, limit: u64) -> crate::Result<()> {
        if actual > limit {
            Err(crate::Error::LimitExceeded {
                what,
                actual,
                limit,
            })
        } else {
            Ok(())
        }
    }

    pub(crate) fn check_input(&self, len: usize) -> crate::Result<()> {
        Self::check("input bytes", len as u64, self.max_input_bytes)
    }

    pub(crate) fn check_header(&self, width: u32, height: u32, frames: u32) -> crate::Result<()> {
        Self::check("width", width.into(), self.max_width.into())?;
        Self::check("height", height.into(), self.max_height.into())?;
        Self::check(
            "pixels",
            u64::from(width) * u64::from(height),
            self.max_pixels,
        )?;
        Self::check("frames", frames.into(), self.max_frames.into())
    }
}
