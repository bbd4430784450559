//! A bounded reader for the first IFD of a TIFF structure: an EXIF block is one (after its
//! optional `Exif\0\0` prefix) and so is a TIFF file's header. Only IFD0 is read: the tags
//! the engine needs (Orientation, ExtraSamples) live there, so no offset chain is followed
//! and a looping or truncated file cannot make the walk run long. Every read is checked;
//! a malformed block answers `None`, never a panic.
//!
//! A general EXIF crate would parse the whole block; the engine needs one or two values and
//! the byte position of Orientation (to reset it in place when the EXIF is kept), which
//! those crates do not expose.

/// One IFD entry: its tag, field type, count and where its value (or value offset) sits.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Entry {
    pub tag: u16,
    pub kind: u16,
    pub count: u32,
    /// Byte position of the 4-byte value field within the block.
    pub value_at: usize,
}

/// A TIFF structure: byte order and the position of IFD0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tiff<'a> {
    data: &'a [u8],
    big_endian: bool,
    ifd0: usize,
}

impl<'a> Tiff<'a> {
    /// Parse the 8-byte header. Accepts a leading `Exif\0\0` (as JPEG APP1 has, and as some
    /// writers leave in WebP `EXIF` and PNG `eXIf` chunks); see [`strip_exif_prefix`].
    pub fn new(data: &'a [u8]) -> Option<Tiff<'a>> {
        let data = strip_exif_prefix(data);
        let big_endian = match data.get(0..4)? {
            b"II*\0" => false,
            b"MM\0*" => true,
            _ => return None,
        };
        let t = Tiff {
            data,
            big_endian,
            ifd0: 0,
        };
        let ifd0 = t.u32_at(4)? as usize;
        Some(Tiff { ifd0, ..t })
    }

    fn u16_at(&self, i: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(i..i.checked_add(2)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32_at(&self, i: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(i..i.checked_add(4)?)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    /// The IFD0 entry for `tag`, if present.
    pub fn find(&self, tag: u16) -> Option<Entry> {
        let n = usize::from(self.u16_at(self.ifd0)?);
        (0..n).find_map(|k| {
            let at = self.ifd0 + 2 + 12 * k;
            let e = Entry {
                tag: self.u16_at(at)?,
                kind: self.u16_at(at + 2)?,
                count: self.u32_at(at + 4)?,
                value_at: at + 8,
            };
            (e.tag == tag).then_some(e)
        })
    }

    /// Bytes per value of an integer field type.
    fn type_size(kind: u16) -> Option<usize> {
        match kind {
            1 | 6 | 7 => Some(1),
            3 | 8 => Some(2),
            4 | 9 => Some(4),
            _ => None,
        }
    }

    /// Where the first value of an integer entry sits: inline when all its values fit in
    /// four bytes, else at the offset stored there.
    fn value_pos(&self, e: Entry) -> Option<usize> {
        let total = Self::type_size(e.kind)?.checked_mul(e.count as usize)?;
        if total <= 4 {
            Some(e.value_at)
        } else {
            Some(self.u32_at(e.value_at)? as usize)
        }
    }

    /// The first value of an integer entry, whatever its integer type
    /// (BYTE, SHORT, LONG and their signed forms: writers differ). `None` for other types,
    /// a zero count, or a negative value.
    pub fn first_uint(&self, e: Entry) -> Option<u32> {
        if e.count == 0 {
            return None;
        }
        let at = self.value_pos(e)?;
        let v: i64 = match e.kind {
            1 | 7 => i64::from(*self.data.get(at)?),
            6 => i64::from(*self.data.get(at)? as i8),
            3 => i64::from(self.u16_at(at)?),
            8 => i64::from(self.u16_at(at)? as i16),
            4 => i64::from(self.u32_at(at)?),
            9 => i64::from(self.u32_at(at)? as i32),
            _ => return None,
        };
        u32::try_from(v).ok()
    }

    /// The value of `tag` as an unsigned integer (see [`Tiff::first_uint`]).
    pub fn uint(&self, tag: u16) -> Option<u32> {
        self.find(tag).and_then(|e| self.first_uint(e))
    }

    /// Offset of the block within the slice given to [`Tiff::new`] (6 after a prefix).
    fn prefix_len(original: &[u8]) -> usize {
        original.len() - strip_exif_prefix(original).len()
    }
}

/// Drop a leading `Exif\0\0` (the JPEG APP1 identifier), if present.
pub(crate) fn strip_exif_prefix(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"Exif\0\0").unwrap_or(data)
}

const ORIENTATION: u16 = 0x0112;
const EXTRA_SAMPLES: u16 = 338;

/// The EXIF orientation (1–8) of an EXIF block; 1 when absent or out of range.
pub(crate) fn exif_orientation(exif: &[u8]) -> u8 {
    Tiff::new(exif)
        .and_then(|t| t.uint(ORIENTATION))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1)
}

/// Set the EXIF orientation of `exif` to 1 in place (the pixels have been turned upright),
/// keeping the entry's own type and byte order. Returns whether an entry was changed.
pub(crate) fn reset_exif_orientation(exif: &mut [u8]) -> bool {
    let Some((t, e)) = Tiff::new(exif).and_then(|t| Some((t, t.find(ORIENTATION)?))) else {
        return false;
    };
    let Some(width) = Tiff::type_size(e.kind) else {
        return false;
    };
    if e.count == 0 {
        return false;
    }
    let Some(pos) = t.value_pos(e) else {
        return false;
    };
    let at = Tiff::prefix_len(exif) + pos;
    let big = t.big_endian;
    let Some(field) = exif.get_mut(at..at + width) else {
        return false;
    };
    field.fill(0);
    let last = if big { width - 1 } else { 0 };
    field[last] = 1;
    true
}

/// A TIFF file's ExtraSamples value for its first extra channel (0 unspecified, 1
/// associated = premultiplied alpha, 2 unassociated = straight alpha).
pub(crate) fn tiff_extra_samples(file: &[u8]) -> Option<u32> {
    Tiff::new(file)?.uint(EXTRA_SAMPLES)
}

/// A TIFF file's storage layout in words (compression, photometric interpretation,
/// tiling, samples), to say why a decoder refused it.
pub(crate) fn tiff_layout(file: &[u8]) -> Option<String> {
    let t = Tiff::new(file)?;
    let compression = match t.uint(259) {
        Some(1) => "uncompressed".to_string(),
        Some(5) => "LZW".to_string(),
        Some(6 | 7) => "JPEG".to_string(),
        Some(8 | 32946) => "Deflate".to_string(),
        Some(32773) => "PackBits".to_string(),
        Some(v) => format!("compression {v}"),
        None => "uncompressed".to_string(),
    };
    let photometric = match t.uint(262) {
        Some(0 | 1) => "grey".to_string(),
        Some(2) => "RGB".to_string(),
        Some(3) => "palette".to_string(),
        Some(5) => "CMYK".to_string(),
        Some(6) => "YCbCr".to_string(),
        Some(8) => "CIELab".to_string(),
        Some(v) => format!("photometric {v}"),
        None => "unknown photometric".to_string(),
    };
    let tiling = if t.find(322).is_some() {
        "tiled"
    } else {
        "stripped"
    };
    let samples = t.uint(277).unwrap_or(1);
    Some(format!(
        "{compression} {photometric}, {tiling}, {samples} samples per pixel"
    ))
}

/// Why the `image` TIFF decoder cannot read this file, when that is known from its tags
/// before decoding (its tiled reader fails on separate colour planes).
pub(crate) fn tiff_unreadable(file: &[u8]) -> Option<&'static str> {
    let t = Tiff::new(file)?;
    let planar = t.uint(284) == Some(2);
    let tiled = t.find(322).is_some();
    (planar && tiled).then_some("tiled TIFF with separate colour planes (PlanarConfiguration 2)")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A little- or big-endian TIFF block with one IFD0 entry.
    fn block(big: bool, tag: u16, kind: u16, value: [u8; 4]) -> Vec<u8> {
        let mut b = Vec::new();
        let w16 = |b: &mut Vec<u8>, v: u16| {
            b.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        let w32 = |b: &mut Vec<u8>, v: u32| {
            b.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            })
        };
        b.extend(if big { *b"MM\0*" } else { *b"II*\0" });
        w32(&mut b, 8);
        w16(&mut b, 1);
        w16(&mut b, tag);
        w16(&mut b, kind);
        w32(&mut b, 1);
        b.extend(value);
        w32(&mut b, 0);
        b
    }

    #[test]
    fn orientation_in_every_integer_type_and_byte_order() {
        for big in [false, true] {
            let cases: [(u16, [u8; 4]); 5] = [
                (3, if big { [0, 6, 0, 0] } else { [6, 0, 0, 0] }),
                (4, if big { [0, 0, 0, 6] } else { [6, 0, 0, 0] }),
                (9, if big { [0, 0, 0, 6] } else { [6, 0, 0, 0] }),
                (8, if big { [0, 6, 0, 0] } else { [6, 0, 0, 0] }),
                (1, [6, 0, 0, 0]),
            ];
            for (kind, v) in cases {
                let mut b = block(big, ORIENTATION, kind, v);
                assert_eq!(exif_orientation(&b), 6, "type {kind} big {big}");
                let mut prefixed = b"Exif\0\0".to_vec();
                prefixed.extend(&b);
                assert_eq!(exif_orientation(&prefixed), 6, "prefixed type {kind}");
                assert!(reset_exif_orientation(&mut b));
                assert_eq!(exif_orientation(&b), 1);
                assert!(reset_exif_orientation(&mut prefixed));
                assert_eq!(exif_orientation(&prefixed), 1);
            }
        }
    }

    #[test]
    fn bad_blocks_answer_the_default() {
        assert_eq!(exif_orientation(b""), 1);
        assert_eq!(exif_orientation(b"II*\0\xff\xff\xff\xff"), 1);
        // A negative SLONG and a value out of range.
        assert_eq!(
            exif_orientation(&block(false, ORIENTATION, 9, (-3i32).to_le_bytes())),
            1
        );
        assert_eq!(
            exif_orientation(&block(false, ORIENTATION, 3, [9, 0, 0, 0])),
            1
        );
        // IFD0 claims more entries than the block holds.
        let mut b = block(false, 0x0100, 3, [1, 0, 0, 0]);
        b[8] = 0xFF;
        assert_eq!(exif_orientation(&b), 1);
        for cut in 0..b.len() {
            let mut part = b[..cut].to_vec();
            let _ = exif_orientation(&part);
            let _ = reset_exif_orientation(&mut part);
        }
    }
}
