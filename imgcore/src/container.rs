//! Small container walkers for facts the decoders do not report (frame counts). They read
//! block headers only, never allocate per block, and stop at the first inconsistency.

use crate::format::ImageFormat;
use crate::{Error, Result};

fn truncated(format: ImageFormat, what: &str) -> Error {
    Error::Truncated {
        format,
        reason: what.into(),
    }
}

/// Skip GIF data sub-blocks starting at `i`; returns the index after the terminator.
fn skip_sub_blocks(b: &[u8], mut i: usize) -> Result<usize> {
    loop {
        let n = *b
            .get(i)
            .ok_or_else(|| truncated(ImageFormat::Gif, "the data ends inside a block"))?;
        i += 1;
        if n == 0 {
            return Ok(i);
        }
        i += usize::from(n);
    }
}

/// Count the frames of a GIF and say whether the first is interlaced.
pub(crate) fn gif_frames(b: &[u8]) -> Result<(u32, bool)> {
    const G: ImageFormat = ImageFormat::Gif;
    if b.len() < 13 {
        return Err(truncated(G, "the header is incomplete"));
    }
    let flags = b[10];
    let mut i = 13usize;
    if flags & 0x80 != 0 {
        i += 3 << ((flags & 7) + 1);
    }
    let mut frames = 0u32;
    let mut first_interlaced = false;
    loop {
        match b.get(i) {
            None => {
                // No trailer: the frames seen so far still count; the decoder decides
                // whether the first frame is complete.
                return if frames == 0 {
                    Err(truncated(G, "the data ends before the first frame"))
                } else {
                    Ok((frames, first_interlaced))
                };
            }
            Some(0x3B) => return Ok((frames.max(1), first_interlaced)),
            Some(0x21) => {
                i = skip_sub_blocks(b, i + 2)?;
            }
            Some(0x2C) => {
                let desc = b
                    .get(i + 1..i + 10)
                    .ok_or_else(|| truncated(G, "the data ends inside an image descriptor"))?;
                let f = desc[8];
                if frames == 0 {
                    first_interlaced = f & 0x40 != 0;
                }
                i += 10;
                if f & 0x80 != 0 {
                    i += 3 << ((f & 7) + 1);
                }
                i = skip_sub_blocks(b, i + 1)?; // +1: LZW minimum code size
                frames = frames.saturating_add(1);
            }
            Some(&other) => {
                return Err(Error::corrupt(G, format!("unexpected block 0x{other:02X}")));
            }
        }
    }
}

/// Count the frames (`ANMF` chunks) of a WebP; 1 for a still image.
pub(crate) fn webp_frames(b: &[u8]) -> Result<u32> {
    const W: ImageFormat = ImageFormat::WebP;
    let mut i = 12usize;
    let mut frames = 0u32;
    while i + 8 <= b.len() {
        let id = &b[i..i + 4];
        let len = u32::from_le_bytes([b[i + 4], b[i + 5], b[i + 6], b[i + 7]]) as usize;
        if id == b"ANMF" {
            frames = frames.saturating_add(1);
        }
        i = i
            .saturating_add(8)
            .saturating_add(len)
            .saturating_add(len & 1);
    }
    if i == 12 {
        return Err(truncated(W, "no chunks after the RIFF header"));
    }
    Ok(frames.max(1))
}

fn u16le(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([*b.get(i)?, *b.get(i + 1)?])))
}

fn u24le(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes([
        *b.get(i)?,
        *b.get(i + 1)?,
        *b.get(i + 2)?,
        0,
    ]))
}

fn u32be(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// Check that a PNG starts with a well-formed IHDR chunk (type, length 13, CRC) before any
/// of its fields is trusted: noise after the signature is corrupt data, not a huge image.
pub(crate) fn png_check_ihdr(b: &[u8]) -> Result<()> {
    const P: ImageFormat = ImageFormat::Png;
    let Some(head) = b.get(8..33) else {
        return Err(truncated(P, "the data ends inside the IHDR chunk"));
    };
    if &head[4..8] != b"IHDR" {
        return Err(Error::corrupt(P, "the first chunk is not IHDR"));
    }
    if u32be(head, 0) != Some(13) {
        return Err(Error::corrupt(P, "the IHDR chunk is not 13 bytes long"));
    }
    let stored = u32be(head, 21).unwrap_or(0);
    if crc32fast::hash(&head[4..21]) != stored {
        return Err(Error::corrupt(P, "the IHDR chunk's CRC does not match"));
    }
    Ok(())
}

/// Check the PNG's palette, if it has one before the image data: 1 to 256 entries of 3
/// bytes. (png 0.18 panics building its lookup table from a PLTE whose length is not a
/// multiple of 3: a fuzz finding, `fixtures/fuzz/render-png-plte-28-bytes.png`.)
pub(crate) fn png_check_plte(b: &[u8]) -> Result<()> {
    let mut i = 8;
    while let (Some(len), Some(kind)) = (u32be(b, i), b.get(i + 4..i + 8)) {
        if kind == b"IDAT" || kind == b"IEND" {
            break;
        }
        if kind == b"PLTE" && (len == 0 || len > 768 || len % 3 != 0) {
            return Err(Error::corrupt(
                ImageFormat::Png,
                format!("the PLTE chunk is {len} bytes, not 1 to 256 entries of 3"),
            ));
        }
        i = match i.checked_add(12).and_then(|n| n.checked_add(len as usize)) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(())
}

/// The image size a container's header declares, read from fixed offsets, so limits can be
/// checked before a decoder exists. `None` when the header is too short to say (the
/// decoder then reports the problem) or the format keeps it elsewhere (TIFF).
pub(crate) fn declared_size(format: ImageFormat, b: &[u8]) -> Option<(u32, u32)> {
    match format {
        ImageFormat::Png => Some((u32be(b, 16)?, u32be(b, 20)?)),
        ImageFormat::Gif => Some((u16le(b, 6)?, u16le(b, 8)?)),
        ImageFormat::Bmp => {
            let header = u32::from_le_bytes(b.get(14..18)?.try_into().ok()?);
            if header == 12 {
                Some((u16le(b, 18)?, u16le(b, 20)?))
            } else {
                let w = i32::from_le_bytes(b.get(18..22)?.try_into().ok()?);
                let h = i32::from_le_bytes(b.get(22..26)?.try_into().ok()?);
                Some((w.unsigned_abs(), h.unsigned_abs()))
            }
        }
        ImageFormat::WebP => match b.get(12..16)? {
            b"VP8X" => Some((u24le(b, 24)? + 1, u24le(b, 27)? + 1)),
            b"VP8L" => {
                let v = u32::from_le_bytes(b.get(21..25)?.try_into().ok()?);
                Some(((v & 0x3FFF) + 1, ((v >> 14) & 0x3FFF) + 1))
            }
            b"VP8 " => Some((u16le(b, 26)? & 0x3FFF, u16le(b, 28)? & 0x3FFF)),
            _ => None,
        },
        _ => None,
    }
}

/// The largest ICC profile a PNG may carry once inflated: as much as a JPEG can hold
/// (255 APP2 segments). Real profiles are well under 1 MB.
pub(crate) const MAX_ICC_BYTES: usize = 255 * 65519;

/// The byte range of a PNG's iCCP chunk when its profile inflates past [`MAX_ICC_BYTES`]
/// or does not inflate at all (a zlib bomb, or noise). The PNG decoder would inflate it
/// whole before the first pixel, so such a chunk is cut out before decoding.
pub(crate) fn png_bad_iccp(b: &[u8]) -> Option<std::ops::Range<usize>> {
    let mut i = 8;
    while i + 12 <= b.len() {
        let len = u32::from_be_bytes(b[i..i + 4].try_into().ok()?) as usize;
        let kind = &b[i + 4..i + 8];
        let end = i.checked_add(12)?.checked_add(len)?;
        if kind == b"IDAT" || kind == b"IEND" || end > b.len() {
            return None;
        }
        if kind == b"iCCP" {
            let data = &b[i + 8..i + 8 + len];
            let name_end = data.iter().position(|&c| c == 0)?;
            let zlib = data.get(name_end + 2..)?; // after the name's NUL and the method byte
            return match miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(
                zlib,
                MAX_ICC_BYTES,
            ) {
                Ok(_) => None,
                Err(_) => Some(i..end),
            };
        }
        i = end;
    }
    None
}
