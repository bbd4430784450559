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
    /// Largest pixel memory the decoder may need, in bytes, computed from the header at the
    /// chosen decode scale (JPEG shrink-on-load makes big JPEGs cheap; a progressive JPEG also
    /// needs its full-size coefficient buffer). Default: 1 GiB.
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
            max_decoded_bytes: 1 << 30,
        }
    }
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
