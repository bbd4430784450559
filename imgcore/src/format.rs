//! Image formats, detected from magic bytes (never from file names).

use serde::Serialize;

/// An image container format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ImageFormat {
    /// JPEG / JFIF / EXIF.
    Jpeg,
    /// PNG.
    Png,
    /// WebP (lossy, lossless, animated).
    #[serde(rename = "webp")]
    WebP,
    /// GIF (the first frame is decoded).
    Gif,
    /// TIFF.
    Tiff,
    /// Windows BMP.
    Bmp,
    /// AVIF (decoded with the `avif` feature, by dav1d; the primary image, grids assembled,
    /// or the first frame of a sequence without one).
    Avif,
    /// HEIC/HEIF with HEVC images (decoded with the `heic` feature, by heic-decoder; the
    /// primary image, or the first frame of an image sequence).
    Heic,
    /// JPEG XL, bare codestream or ISO BMFF container (decoded with the `jxl` feature, by
    /// jxl-oxide; the first frame of an animation).
    Jxl,
}

impl ImageFormat {
    /// Detect the format from the first bytes of a file. `None` when no known signature matches.
    pub fn sniff(bytes: &[u8]) -> Option<ImageFormat> {
        let b = bytes;
        if b.starts_with(&[0xFF, 0xD8, 0xFF]) {
            return Some(ImageFormat::Jpeg);
        }
        if b.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Some(ImageFormat::Png);
        }
        if b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a") {
            return Some(ImageFormat::Gif);
        }
        if b.len() >= 12 && &b[0..4] == b"RIFF" && &b[8..12] == b"WEBP" {
            return Some(ImageFormat::WebP);
        }
        if b.starts_with(b"II*\0") || b.starts_with(b"MM\0*") {
            return Some(ImageFormat::Tiff);
        }
        if b.len() >= 14 && b.starts_with(b"BM") {
            return Some(ImageFormat::Bmp);
        }
        if b.starts_with(&[0xFF, 0x0A])
            || b.starts_with(&[
                0, 0, 0, 0x0C, b'J', b'X', b'L', b' ', 0x0D, 0x0A, 0x87, 0x0A,
            ])
        {
            return Some(ImageFormat::Jxl);
        }
        if b.len() >= 12 && &b[4..8] == b"ftyp" {
            return ftyp_format(b);
        }
        None
    }

    /// Lower-case name, as used in specs, records and messages.
    pub fn name(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpeg",
            ImageFormat::Png => "png",
            ImageFormat::WebP => "webp",
            ImageFormat::Gif => "gif",
            ImageFormat::Tiff => "tiff",
            ImageFormat::Bmp => "bmp",
            ImageFormat::Avif => "avif",
            ImageFormat::Heic => "heic",
            ImageFormat::Jxl => "jxl",
        }
    }

    /// The usual file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "jpg",
            ImageFormat::Tiff => "tif",
            other => other.name(),
        }
    }

    /// The MIME type.
    pub fn mime_type(self) -> &'static str {
        match self {
            ImageFormat::Jpeg => "image/jpeg",
            ImageFormat::Png => "image/png",
            ImageFormat::WebP => "image/webp",
            ImageFormat::Gif => "image/gif",
            ImageFormat::Tiff => "image/tiff",
            ImageFormat::Bmp => "image/bmp",
            ImageFormat::Avif => "image/avif",
            ImageFormat::Heic => "image/heic",
            ImageFormat::Jxl => "image/jxl",
        }
    }

    /// Whether the engine can decode this format.
    pub fn can_decode(self) -> bool {
        match self {
            ImageFormat::Avif => cfg!(feature = "avif"),
            ImageFormat::Heic => cfg!(feature = "heic"),
            ImageFormat::Jxl => cfg!(feature = "jxl"),
            _ => true,
        }
    }
}

/// An ISO BMFF file by its `ftyp` box: the major brand, else the compatible brands (a
/// file whose major brand is the generic `mif1`/`msf1` says AVIF or HEVC among them).
fn ftyp_format(b: &[u8]) -> Option<ImageFormat> {
    const AVIF: [&[u8]; 2] = [b"avif", b"avis"];
    const HEIC: [&[u8]; 6] = [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"];
    const GENERIC: [&[u8]; 3] = [b"mif1", b"msf1", b"miaf"];
    let size = u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize;
    let brands = std::iter::once(&b[8..12])
        .chain(b.get(16..size.min(b.len())).unwrap_or(&[]).chunks_exact(4));
    let mut generic = false;
    for brand in brands {
        if AVIF.contains(&brand) {
            return Some(ImageFormat::Avif);
        }
        if HEIC.contains(&brand) {
            return Some(ImageFormat::Heic);
        }
        generic |= GENERIC.contains(&brand);
    }
    // A generic HEIF without a codec brand: the decoder says what it holds.
    generic.then_some(ImageFormat::Heic)
}

impl std::fmt::Display for ImageFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The format of an output rendition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum OutputFormat {
    /// Baseline or progressive JPEG (through mozjpeg/libjpeg-turbo).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (through libwebp).
    #[serde(rename = "webp")]
    WebP,
    /// AVIF (through rav1e, or libaom in builds with the `aom` feature).
    Avif,
    /// The input's format when it is JPEG, PNG or WebP; WebP for HEIC, AVIF and JPEG XL
    /// (photos a browser may not show: a lossy web format that keeps alpha); PNG for GIF,
    /// TIFF and BMP.
    #[default]
    Same,
}

impl OutputFormat {
    /// The concrete format written for an input of format `input`.
    pub fn resolve(self, input: ImageFormat) -> ImageFormat {
        match self {
            OutputFormat::Jpeg => ImageFormat::Jpeg,
            OutputFormat::Png => ImageFormat::Png,
            OutputFormat::WebP => ImageFormat::WebP,
            OutputFormat::Avif => ImageFormat::Avif,
            OutputFormat::Same => match input {
                ImageFormat::Jpeg => ImageFormat::Jpeg,
                // Camera formats a browser may not show become WebP (lossy, with alpha).
                ImageFormat::WebP | ImageFormat::Heic | ImageFormat::Avif | ImageFormat::Jxl => {
                    ImageFormat::WebP
                }
                _ => ImageFormat::Png,
            },
        }
    }

    /// Parse a name (`jpeg`, `jpg`, `png`, `webp`, `avif`, `same`).
    pub fn from_name(name: &str) -> Option<OutputFormat> {
        Some(match name.to_ascii_lowercase().as_str() {
            "jpeg" | "jpg" => OutputFormat::Jpeg,
            "png" => OutputFormat::Png,
            "webp" => OutputFormat::WebP,
            "avif" => OutputFormat::Avif,
            "same" | "auto" => OutputFormat::Same,
            _ => return None,
        })
    }

    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Jpeg => "jpeg",
            OutputFormat::Png => "png",
            OutputFormat::WebP => "webp",
            OutputFormat::Avif => "avif",
            OutputFormat::Same => "same",
        }
    }
}

impl std::fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::ImageFormat;

    #[test]
    fn jpeg_xl_is_recognised_as_a_codestream_or_a_container() {
        assert_eq!(
            ImageFormat::sniff(&[0xFF, 0x0A, 0xFA, 0x1F]),
            Some(ImageFormat::Jxl)
        );
        let container = [
            0, 0, 0, 0x0C, b'J', b'X', b'L', b' ', 0x0D, 0x0A, 0x87, 0x0A, 0, 0,
        ];
        assert_eq!(ImageFormat::sniff(&container), Some(ImageFormat::Jxl));
        // Not a JPEG (FF D8 FF), not anything else.
        assert_eq!(ImageFormat::sniff(&[0xFF, 0x0B]), None);
        assert_eq!(ImageFormat::Jxl.mime_type(), "image/jxl");
        assert_eq!(ImageFormat::Jxl.can_decode(), cfg!(feature = "jxl"));
    }
}
