//! AVIF input: [zenavif-parse](https://crates.io/crates/zenavif-parse) (a descendant of
//! Mozilla's mp4parse, the parser Firefox reads AVIF with, that also lists grid tiles and
//! sequence frames) finds the primary image, its tiles, its alpha image and their
//! properties; dav1d 1.4.3 (VideoLAN's AV1 decoder, in C with assembly; built from the
//! source vendored in [libdav1d-sys](https://crates.io/crates/libdav1d-sys) with meson and
//! ninja, linked statically) decodes the AV1 pictures. (rav1d, its Rust port, was tried
//! first: a bit-flipped file made it panic inside its C-ABI entry points, which aborts the
//! process.) The [yuv](https://crates.io/crates/yuv) crate converts YCbCr to RGB, each
//! chroma sample covering its 2x2 (or 2x1) luma block, as libheif does (the crate's
//! bilinear upsampling scored 76-78 SSIMULACRA2 at 256 px against both libavif's and
//! libheif's decodes of Pillow's 640x427 test files; this way 92-93).
//!
//! - **Header first.** Box sizes are checked against their parents before the container
//!   parser reads them. The AV1 sequence header (of every tile of a grid) is parsed on its
//!   own, without decoding: its frame size, bit depth, chroma layout and colour description
//!   are what limits and the memory estimate are checked on, before the decoder exists.
//!   The decoder's own frame size limit is the header's size.
//! - **Grids** (tiled images, HEIF's `grid` item): the descriptor gives the output size,
//!   rows and columns; every tile must be coded alike and the tiles must cover the output
//!   (the last row and column overhanging by less than a tile). Tiles are decoded one at a
//!   time per thread into the image, or, when the largest output is small enough, each
//!   reduced by a box filter of 2, 4 or 8 first (the rule HEIC grids use), so a large grid
//!   never exists at full size. A grid's alpha image, usually a grid itself, has its tiles
//!   found from `iref` and `iloc` here (the container parser lists the colour grid's only)
//!   and is assembled into one plane.
//! - **Geometry.** `irot` then `imir` (the order MIAF prescribes) become the equivalent
//!   EXIF orientation, applied by the pipeline after the resize, as for HEIC. A clean
//!   aperture (`clap`) is not applied (libavif leaves it to the application too).
//! - **Samples.** 8-bit pictures give 8-bit RGB(A); 10- and 12-bit ones 16-bit RGB(A),
//!   kept until the resize. Alpha comes from the auxiliary alpha image (limited range is
//!   expanded; premultiplied alpha, `prem`, is undone). Monochrome stays grey.
//! - **Colour.** An ICC profile goes to the pipeline with the pixels. Without one, the
//!   `nclx` colour description (else the sequence header's) gives the matrix and range, and
//!   its primaries and transfer become a profile, with PQ and HLG mapped to SDR the way
//!   HEIC's are (`heif.rs`).
//! - **Sequences** (`avis`): the primary image when there is one, else the first frame (a
//!   key frame); the frame count is reported.

use image::{DynamicImage, ImageBuffer};
use libdav1d_sys::{
    dav1d_close, dav1d_data_create, dav1d_data_unref, dav1d_default_settings, dav1d_get_picture,
    dav1d_open, dav1d_parse_sequence_header, dav1d_picture_unref, dav1d_send_data, Dav1dContext,
    Dav1dData, Dav1dPicture, Dav1dSequenceHeader, Dav1dSettings,
};
use yuv::{YuvPlanarImage, YuvRange, YuvStandardMatrix};
use zenavif_parse::ColorInformation;

use crate::format::ImageFormat;
use crate::heif::{
    assemble, box_reduce, grey_if, hdr_to_sdr, nclx_profile, orientation_of, to_bt709, Hdr, Step,
};
use crate::{Error, Result};

const FMT: ImageFormat = ImageFormat::Avif;

/// Chroma layout of an AV1 picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Mono = 0,
    I420 = 1,
    I422 = 2,
    I444 = 3,
}

/// What the header of an AVIF file says, and the coded data decode needs.
#[derive(Debug, Clone)]
pub(crate) struct AvifHeader {
    /// Width and height as coded, before `irot`/`imir`.
    pub width: u32,
    pub height: u32,
    /// The EXIF orientation equivalent to the `irot`/`imir` properties.
    pub orientation: u8,
    /// Bits per sample (8, 10, 12).
    pub bit_depth: u32,
    pub layout: Layout,
    /// There is an auxiliary alpha image.
    pub alpha: bool,
    /// The alpha image's samples use the full range (else 16-235, scaled by depth).
    pub alpha_full_range: bool,
    /// The alpha image's chroma layout and bit depth (its sequence header).
    alpha_layout: Layout,
    alpha_bit_depth: u32,
    /// The colour samples are premultiplied by alpha (`prem`).
    pub premultiplied: bool,
    /// H.273 matrix coefficients and range of the YCbCr samples.
    pub matrix: u8,
    pub primaries: u8,
    pub full_range: bool,
    /// The ICC profile the decoded pixels are in (the file's, or one made from `nclx`).
    pub icc: Option<Vec<u8>>,
    /// The file's own ICC profile (for its description).
    pub original_icc: Option<Vec<u8>>,
    pub hdr: Option<Hdr>,
    pub hdr_matrix: Option<[[f32; 3]; 3]>,
    /// Frames of an image sequence (1 for a still image; the primary image is decoded).
    pub frames: u32,
    /// A grid image's tiles (`color_data` is then empty).
    pub grid: Option<Grid>,
    /// A grid's alpha image when it is a grid too (`alpha_data` is then `None`).
    alpha_grid: Option<Grid>,
    /// The primary (or a sequence's first frame) and alpha items' AV1 data.
    color_data: Vec<u8>,
    alpha_data: Option<Vec<u8>>,
}

/// A dav1d error code (a negative errno), typed.
fn dav1d_error(what: &str, code: i32) -> Error {
    match -code {
        12 | 34 => Error::DecoderLimit(format!(
            "AVIF: {what}: out of memory or over the frame size limit"
        )),
        92 => Error::Unsupported(format!(
            "AVIF: {what}: a feature the AV1 decoder does not support"
        )),
        _ => Error::corrupt(FMT, format!("{what}: AV1 decoder error {code}")),
    }
}

/// What an AV1 sequence header says that matters here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Sequence {
    width: u32,
    height: u32,
    layout: Layout,
    bit_depth: u32,
    primaries: u8,
    transfer: u8,
    matrix: u8,
    full_range: bool,
}

/// The AV1 sequence header at the front of an item's data, parsed without decoding.
fn sequence_header(data: &[u8]) -> Result<Sequence> {
    if data.is_empty() {
        return Err(Error::corrupt(FMT, "an image item holds no data"));
    }
    let mut out = std::mem::MaybeUninit::<Dav1dSequenceHeader>::zeroed();
    let p = out.as_mut_ptr();
    // SAFETY: `p` is writable for one header; `data` is `data.len()` readable bytes.
    let r = unsafe { dav1d_parse_sequence_header(p, data.as_ptr(), data.len()) };
    if r < 0 {
        return Err(Error::corrupt(
            FMT,
            format!("no valid AV1 sequence header (error {r})"),
        ));
    }
    // SAFETY: the header was written by the successful call. The colour fields are C enums
    // holding whatever 8-bit code the stream carried, so they are read as integers through
    // raw pointers, never as the bindings' Rust enums (a value outside them would be UB).
    let (width, height, layout, hbd, range, pri, trc, mtrx) = unsafe {
        (
            std::ptr::addr_of!((*p).max_width).read(),
            std::ptr::addr_of!((*p).max_height).read(),
            std::ptr::addr_of!((*p).layout).cast::<u32>().read(),
            std::ptr::addr_of!((*p).hbd).read(),
            std::ptr::addr_of!((*p).color_range).read(),
            std::ptr::addr_of!((*p).pri).cast::<u32>().read(),
            std::ptr::addr_of!((*p).trc).cast::<u32>().read(),
            std::ptr::addr_of!((*p).mtrx).cast::<u32>().read(),
        )
    };
    let (width, height) = match (u32::try_from(width), u32::try_from(height)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => (w, h),
        _ => return Err(Error::corrupt(FMT, "the sequence header's frame size")),
    };
    let layout = match layout {
        0 => Layout::Mono,
        1 => Layout::I420,
        2 => Layout::I422,
        3 => Layout::I444,
        other => return Err(Error::corrupt(FMT, format!("chroma layout {other}"))),
    };
    let bit_depth = match hbd {
        0 => 8,
        1 => 10,
        2 => 12,
        other => return Err(Error::corrupt(FMT, format!("bit depth code {other}"))),
    };
    let code = |v: u32| u8::try_from(v).unwrap_or(2);
    Ok(Sequence {
        width,
        height,
        layout,
        bit_depth,
        primaries: code(pri),
        transfer: code(trc),
        matrix: code(mtrx),
        full_range: range != 0,
    })
}

/// Every box the container parser descends into lies inside its parent. Parsers reserve a
/// box's declared size before reading it (fallibly, but a 4 GB reservation for a 249-byte file
/// was a fuzz finding): a box claiming more than its parent holds is `corrupt` here first.
fn check_box_sizes(bytes: &[u8], depth: u32, file: usize) -> Result<()> {
    if depth > 16 {
        return Err(Error::corrupt(FMT, "boxes nested too deep"));
    }
    let bad = |why: &str| Error::corrupt(FMT, format!("box structure: {why}"));
    let mut at = 0usize;
    while at < bytes.len() {
        let rest = &bytes[at..];
        if rest.len() < 8 {
            return Err(Error::Truncated {
                format: FMT,
                reason: "a box header ends early".into(),
            });
        }
        let size32 = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        let kind: [u8; 4] = [rest[4], rest[5], rest[6], rest[7]];
        let (size, header) = match size32 {
            0 => (rest.len() as u64, 8),
            1 => {
                let large = rest
                    .get(8..16)
                    .ok_or_else(|| bad("a 64-bit size ends early"))?;
                (u64::from_be_bytes(large.try_into().unwrap_or_default()), 16)
            }
            n => (u64::from(n), 8),
        };
        if size < header as u64 || size > rest.len() as u64 {
            return Err(bad(&format!(
                "'{}' claims {size} bytes where {} remain",
                String::from_utf8_lossy(&kind),
                rest.len()
            )));
        }
        let body = &rest[header..size as usize];
        if &kind == b"stsz" {
            // A constant sample size still makes the parser build a table of `count`
            // entries: no more samples than the file has bytes.
            let field = |at: usize| {
                body.get(at..at + 4)
                    .map(|v| u32::from_be_bytes([v[0], v[1], v[2], v[3]]))
            };
            if let (Some(size), Some(count)) = (field(4), field(8)) {
                if u64::from(count) * u64::from(size.max(1)) > file as u64 {
                    return Err(bad(&format!("'stsz' lists {count} samples")));
                }
            }
        }
        // Bytes before the children, for the boxes whose children the parser reads.
        let skip = match &kind {
            b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"edts" | b"dinf" | b"iprp"
            | b"ipco" | b"udta" | b"mvex" => Some(0),
            b"meta" | b"iref" => Some(4),
            b"dref" | b"stsd" => Some(8),
            b"iinf" => Some(if body.first() == Some(&0) { 6 } else { 8 }),
            // A visual sample entry: 8 bytes of SampleEntry, 70 of VisualSampleEntry.
            b"av01" if depth > 0 => Some(78),
            _ => None,
        };
        if let Some(skip) = skip {
            if body.len() < skip {
                return Err(bad("a box shorter than its fields"));
            }
            check_box_sizes(&body[skip..], depth + 1, file)?;
        }
        at += size as usize;
    }
    Ok(())
}

/// Grid tiles at most (MIAF allows 256 x 256; a 200 MP photo in 512 px tiles needs ~800).
const MAX_TILES: u32 = 4096;

/// The container parser's error, typed.
fn parse_error(e: zenavif_parse::Error) -> Error {
    use zenavif_parse::Error as E;
    match e {
        E::UnexpectedEOF => Error::Truncated {
            format: FMT,
            reason: "the container ends early".into(),
        },
        E::Unsupported(why) => Error::Unsupported(format!("AVIF: {why}")),
        E::OutOfMemory => {
            Error::DecoderLimit("AVIF: the container parser ran out of memory".into())
        }
        E::ResourceLimitExceeded(what) => Error::DecoderLimit(format!("AVIF: {what}")),
        E::InvalidData(why) => Error::corrupt(FMT, why),
        other => Error::corrupt(FMT, other.to_string()),
    }
}

/// A grid (tiled) image: its layout and each tile's AV1 data, in raster order.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// The image's size (the descriptor's output size).
    pub width: u32,
    pub height: u32,
    pub columns: u32,
    pub rows: u32,
    pub tile_width: u32,
    pub tile_height: u32,
    tiles: Vec<Vec<u8>>,
}

/// An `ImageGrid` item's data (HEIF 6.6.2.3.2): rows, columns and the output size.
fn grid_descriptor(data: &[u8]) -> Result<(u32, u32, u32, u32)> {
    let bad = || Error::corrupt(FMT, "the grid descriptor");
    let (&version, rest) = data.split_first().ok_or_else(bad)?;
    if version != 0 {
        return Err(Error::Unsupported(format!(
            "AVIF grid descriptor version {version}"
        )));
    }
    let (&flags, rest) = rest.split_first().ok_or_else(bad)?;
    let (&rows, rest) = rest.split_first().ok_or_else(bad)?;
    let (&columns, rest) = rest.split_first().ok_or_else(bad)?;
    let (w, h) = if flags & 1 == 0 {
        let v = rest.get(..4).ok_or_else(bad)?;
        (
            u32::from(u16::from_be_bytes([v[0], v[1]])),
            u32::from(u16::from_be_bytes([v[2], v[3]])),
        )
    } else {
        let v = rest.get(..8).ok_or_else(bad)?;
        (
            u32::from_be_bytes([v[0], v[1], v[2], v[3]]),
            u32::from_be_bytes([v[4], v[5], v[6], v[7]]),
        )
    };
    if w == 0 || h == 0 {
        return Err(Error::corrupt(FMT, "a grid of zero size"));
    }
    Ok((u32::from(rows) + 1, u32::from(columns) + 1, w, h))
}

/// A grid from its descriptor and its tiles' AV1 data: every tile coded alike, together
/// covering the output with the last column and row overhanging it by less than a tile
/// (MIAF). Returns the grid and its tiles' sequence header.
fn grid_of(descriptor: &[u8], tiles: Vec<Vec<u8>>) -> Result<(Grid, Sequence)> {
    let (rows, columns, width, height) = grid_descriptor(descriptor)?;
    if u64::from(rows) * u64::from(columns) != tiles.len() as u64 {
        return Err(Error::corrupt(
            FMT,
            format!("a {columns}x{rows} grid with {} tiles", tiles.len()),
        ));
    }
    let first = sequence_header(&tiles[0])?;
    for t in &tiles[1..] {
        if sequence_header(t)? != first {
            return Err(Error::corrupt(FMT, "grid tiles coded differently"));
        }
    }
    let (tw, th) = (first.width, first.height);
    let covers = |n: u32, tile: u32, out: u32| {
        u64::from(n) * u64::from(tile) >= u64::from(out)
            && u64::from(n - 1) * u64::from(tile) < u64::from(out)
    };
    if !covers(columns, tw, width) || !covers(rows, th, height) {
        return Err(Error::corrupt(
            FMT,
            format!("{columns}x{rows} tiles of {tw}x{th} do not make a {width}x{height} image"),
        ));
    }
    let grid = Grid {
        width,
        height,
        columns,
        rows,
        tile_width: tw,
        tile_height: th,
        tiles,
    };
    Ok((grid, first))
}

/// A big-endian unsigned integer of `n` bytes (0, 4 or 8; 2 for IDs) at `*at`, advancing.
fn uint(data: &[u8], at: &mut usize, n: usize) -> Option<u64> {
    let v = data.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(v.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// The AV1 data of the tiles of the alpha grid whose descriptor is `descriptor`: the item
/// that is an `auxl` of the primary item, has `dimg` references and holds that descriptor;
/// its tiles in `dimg` order, each from its `iloc` extents (in the file or in `idat`), at
/// most the file's size in all.
fn alpha_grid_tiles(bytes: &[u8], descriptor: &[u8]) -> Option<Vec<Vec<u8>>> {
    let meta = meta_children(bytes)?;
    let child = |name: &[u8]| child(meta, name);
    let pitm = child(b"pitm")?;
    let primary = uint(pitm, &mut 4, if *pitm.first()? == 0 { 2 } else { 4 })?;
    // References: (kind, from, to).
    let iref = child(b"iref")?;
    let id = if *iref.first()? == 0 { 2 } else { 4 };
    let mut refs = Vec::new();
    for (kind, body) in boxes(iref.get(4..)?) {
        let mut at = 0;
        let from = uint(body, &mut at, id)?;
        let n = uint(body, &mut at, 2)?;
        let to: Vec<u64> = (0..n)
            .map(|_| uint(body, &mut at, id))
            .collect::<Option<_>>()?;
        refs.push((kind, from, to));
    }
    // Locations: id -> (construction method, base offset, [(offset, length)]).
    let iloc = child(b"iloc")?;
    let version = *iloc.first()?;
    let mut at = 4;
    let sizes = uint(iloc, &mut at, 2)?;
    let (off_size, len_size) = ((sizes >> 12) as usize, ((sizes >> 8) & 15) as usize);
    let (base_size, index_size) = (((sizes >> 4) & 15) as usize, (sizes & 15) as usize);
    let index_size = if version >= 1 { index_size } else { 0 };
    let count = uint(iloc, &mut at, if version < 2 { 2 } else { 4 })?;
    let mut locations = Vec::new();
    for _ in 0..count {
        let item = uint(iloc, &mut at, if version < 2 { 2 } else { 4 })?;
        let method = if version >= 1 {
            uint(iloc, &mut at, 2)? & 15
        } else {
            0
        };
        uint(iloc, &mut at, 2)?; // data reference index
        let base = uint(iloc, &mut at, base_size)?;
        let n = uint(iloc, &mut at, 2)?;
        let mut extents = Vec::new();
        for _ in 0..n {
            uint(iloc, &mut at, index_size)?;
            extents.push((
                uint(iloc, &mut at, off_size)?,
                uint(iloc, &mut at, len_size)?,
            ));
        }
        locations.push((item, method, base, extents));
    }
    let idat = child(b"idat");
    let data_of = |item: u64| -> Option<Vec<u8>> {
        let (_, method, base, extents) = locations.iter().find(|l| l.0 == item)?;
        let source = match method {
            0 => bytes,
            1 => idat?,
            _ => return None,
        };
        let mut out = Vec::new();
        for &(off, len) in extents {
            let start = usize::try_from(base.checked_add(off)?).ok()?;
            let end = if len == 0 {
                source.len()
            } else {
                start.checked_add(usize::try_from(len).ok()?)?
            };
            out.extend_from_slice(source.get(start..end)?);
        }
        Some(out)
    };
    let auxiliaries = refs
        .iter()
        .filter(|(k, _, to)| *k == b"auxl" && to.contains(&primary))
        .map(|(_, from, _)| *from);
    for alpha in auxiliaries {
        let Some((_, _, tiles)) = refs.iter().find(|(k, f, _)| *k == b"dimg" && *f == alpha) else {
            continue;
        };
        if data_of(alpha)? != descriptor {
            continue;
        }
        let mut out = Vec::with_capacity(tiles.len());
        let mut total = 0usize;
        for &t in tiles {
            let d = data_of(t)?;
            total = total.saturating_add(d.len());
            if total > bytes.len() {
                return None;
            }
            out.push(d);
        }
        return Some(out);
    }
    None
}

/// Read the container and the sequence headers: no pixel is decoded.
pub(crate) fn read_header(bytes: &[u8]) -> Result<AvifHeader> {
    check_box_sizes(bytes, 0, bytes.len())?;
    // The parser wants `avif` or `avis` as the major brand; MIAF files may say `mif1` or
    // `miaf` there and list `avif` among the compatible ones (how they got here).
    let data: std::borrow::Cow<'_, [u8]> = match bytes.get(8..12) {
        Some(b"avif" | b"avis") | None => bytes.into(),
        Some(_) => {
            let mut copy = bytes.to_vec();
            copy[8..12].copy_from_slice(b"avif");
            copy.into()
        }
    };
    // Frames are limited by `Limits` from the count; the box walk bounds the sample tables.
    let config = zenavif_parse::DecodeConfig {
        max_animation_frames: None,
        ..zenavif_parse::DecodeConfig::default()
            .with_max_grid_tiles(MAX_TILES)
            .lenient(true)
    };
    let parser = zenavif_parse::AvifParser::from_bytes_with_config(
        &data,
        &config,
        &zenavif_parse::Unstoppable,
    )
    .map_err(parse_error)?;
    let frames = parser.animation_info().map_or(1, |a| {
        u32::try_from(a.frame_count).unwrap_or(u32::MAX).max(1)
    });
    let primary = parser.primary_data().map_err(parse_error)?;
    let mut sequence_alpha = None;
    let (grid, color_data) = if parser.grid_config().is_some() {
        let (rows, columns, _, _) = grid_descriptor(&primary)?;
        let count = parser.grid_tile_count();
        if u64::from(rows) * u64::from(columns) != count as u64 {
            return Err(Error::corrupt(
                FMT,
                format!("a {columns}x{rows} grid with {count} tiles"),
            ));
        }
        // Tiles are copied out, at most the file's size in all: `dimg` may name one item
        // many times, and an extent may run to the end of the data.
        let mut tiles = Vec::with_capacity(count);
        let mut total = 0usize;
        for i in 0..count {
            let t = parser.tile_data(i).map_err(parse_error)?;
            total = total.saturating_add(t.len());
            if total > bytes.len() {
                return Err(Error::corrupt(
                    FMT,
                    "the grid's tiles hold more data than the file",
                ));
            }
            tiles.push(t.into_owned());
        }
        (Some(grid_of(&primary, tiles)?), Vec::new())
    } else if primary.is_empty() {
        // A sequence without a still image item: its first frame (a key frame), and that
        // frame of the alpha track.
        let frame = parser.frame(0).map_err(parse_error)?;
        sequence_alpha = frame.alpha_data.map(std::borrow::Cow::into_owned);
        (None, frame.data.into_owned())
    } else {
        (None, primary.into_owned())
    };
    let (seq, width, height, grid) = match grid {
        Some((g, first)) => (first, g.width, g.height, Some(g)),
        None => {
            let seq = sequence_header(&color_data)?;
            (seq, seq.width, seq.height, None)
        }
    };
    let (layout, bit_depth) = (seq.layout, seq.bit_depth);
    let alpha_data = match parser.alpha_data() {
        Some(a) => Some(a.map_err(parse_error)?.into_owned()),
        None => sequence_alpha,
    };
    let (mut alpha_full_range, mut alpha_layout, mut alpha_bit_depth) = (true, Layout::Mono, 8);
    let mut alpha_data = alpha_data;
    let mut alpha_grid = None;
    if let Some(a) = alpha_data.take_if(|a| grid.is_some() && sequence_header(a).is_err()) {
        // A grid's alpha is usually a grid of its own: its tiles are found here (the
        // container parser lists the colour grid's only).
        let tiles = alpha_grid_tiles(bytes, &a)
            .ok_or_else(|| Error::corrupt(FMT, "the alpha grid's tiles could not be located"))?;
        let (g, aseq) = grid_of(&a, tiles)?;
        if (g.width, g.height) != (width, height) {
            return Err(Error::corrupt(
                FMT,
                "the alpha grid's size differs from the image's",
            ));
        }
        (alpha_full_range, alpha_layout, alpha_bit_depth) =
            (aseq.full_range, aseq.layout, aseq.bit_depth);
        alpha_grid = Some(g);
    }
    if let Some(a) = &alpha_data {
        let aseq = sequence_header(a)?;
        (alpha_full_range, alpha_layout, alpha_bit_depth) =
            (aseq.full_range, aseq.layout, aseq.bit_depth);
        if (aseq.width, aseq.height) != (width, height) {
            return Err(Error::corrupt(
                FMT,
                "the alpha image's size differs from the image's",
            ));
        }
    }

    // irot, then imir: MIAF's order. imir axis 0 exchanges top and bottom, 1 left and right.
    let mut steps = Vec::new();
    match parser.rotation().map(|r| r.angle) {
        Some(90) => steps.push(Step::Rotate90Ccw(1)),
        Some(180) => steps.push(Step::Rotate90Ccw(2)),
        Some(270) => steps.push(Step::Rotate90Ccw(3)),
        _ => {}
    }
    match parser.mirror().map(|m| m.axis) {
        Some(0) => steps.push(Step::FlipTopBottom),
        Some(1) => steps.push(Step::FlipLeftRight),
        _ => {}
    }

    // An ICC profile (the pixels' colour space), and an nclx description (the matrix and
    // range, overriding the sequence header's). A file may carry both: the parser names
    // the first `colr` of the image; the other kind comes from the properties box.
    let (icc_box, nclx_box) = colr_properties(bytes);
    let (original_icc, nclx) = match parser.color_info() {
        Some(ColorInformation::IccProfile(icc)) => (Some(icc.clone()), nclx_box),
        Some(ColorInformation::Nclx {
            color_primaries,
            transfer_characteristics,
            matrix_coefficients,
            full_range,
        }) => (
            icc_box,
            Some((
                code(*color_primaries),
                code(*transfer_characteristics),
                code(*matrix_coefficients),
                *full_range,
            )),
        ),
        _ => (None, None),
    };
    let (primaries, transfer, matrix, full_range) =
        nclx.unwrap_or((seq.primaries, seq.transfer, seq.matrix, seq.full_range));
    let hdr = match (&original_icc, transfer) {
        (None, 16) => Some(Hdr::Pq),
        (None, 18) => Some(Hdr::Hlg),
        _ => None,
    };
    let hdr_matrix = to_bt709(u16::from(primaries)).filter(|_| hdr.is_some());
    let icc = match &original_icc {
        Some(p) => Some(p.clone()),
        None if hdr.is_some() && hdr_matrix.is_some() => None,
        None => nclx_profile(u16::from(primaries), u16::from(transfer), hdr),
    };
    Ok(AvifHeader {
        width,
        height,
        orientation: orientation_of(&steps),
        bit_depth,
        layout,
        alpha: alpha_data.is_some() || alpha_grid.is_some(),
        alpha_grid,
        alpha_full_range,
        alpha_layout,
        alpha_bit_depth,
        premultiplied: parser.premultiplied_alpha(),
        matrix,
        primaries,
        full_range,
        icc,
        original_icc,
        hdr,
        hdr_matrix,
        frames,
        grid,
        color_data,
        alpha_data,
    })
}

/// The boxes in a run of boxes (sizes already checked by [`check_box_sizes`]).
fn boxes(mut data: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    std::iter::from_fn(move || {
        let size = u32::from_be_bytes(data.get(..4)?.try_into().ok()?) as usize;
        let (size, header) = match size {
            0 => (data.len(), 8),
            1 => (
                usize::try_from(u64::from_be_bytes(data.get(8..16)?.try_into().ok()?)).ok()?,
                16,
            ),
            n => (n, 8),
        };
        let (kind, body) = (data.get(4..8)?, data.get(header..size)?);
        data = &data[size..];
        Some((kind, body))
    })
}

/// The body of the first box `name` in a run of boxes.
fn child<'a>(data: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    boxes(data).find(|(k, _)| *k == name).map(|(_, b)| b)
}

/// The boxes inside the file's top-level `meta` (after its version and flags).
fn meta_children(bytes: &[u8]) -> Option<&[u8]> {
    child(bytes, b"meta")?.get(4..)
}

/// The first ICC profile and the first nclx description among the `colr` properties of
/// the file's `meta` box (libavif writes both for an image with a profile).
#[allow(clippy::type_complexity)]
fn colr_properties(bytes: &[u8]) -> (Option<Vec<u8>>, Option<(u8, u8, u8, bool)>) {
    let Some(ipco) = meta_children(bytes)
        .and_then(|m| child(m, b"iprp"))
        .and_then(|p| child(p, b"ipco"))
    else {
        return (None, None);
    };
    let (mut icc, mut nclx) = (None, None);
    for (_, body) in boxes(ipco).filter(|(k, _)| *k == b"colr") {
        match body.get(..4) {
            Some(b"prof" | b"rICC") if icc.is_none() => icc = Some(body[4..].to_vec()),
            Some(b"nclx") if nclx.is_none() && body.len() >= 11 => {
                let v = |at: usize| code(u16::from_be_bytes([body[at], body[at + 1]]));
                nclx = Some((v(4), v(6), v(8), body[10] & 0x80 != 0));
            }
            _ => {}
        }
    }
    (icc, nclx)
}

/// A colour code from the container (16 bits there, 8 in H.273) as the sequence header's.
fn code(v: u16) -> u8 {
    u8::try_from(v).unwrap_or(2)
}

/// One decoded AV1 picture, unreferenced on drop.
struct Picture(Dav1dPicture);

impl Drop for Picture {
    fn drop(&mut self) {
        // SAFETY: the picture was filled by `dav1d_get_picture` and is released once.
        unsafe { dav1d_picture_unref(&mut self.0) };
    }
}

impl Picture {
    fn size(&self) -> (usize, usize) {
        (self.0.p.w.max(0) as usize, self.0.p.h.max(0) as usize)
    }

    /// Plane `i` (0 luma, 1 and 2 chroma) as samples of `T`, with its stride in samples.
    fn plane<T: Copy>(&self, i: usize, w: usize, h: usize) -> Result<(&[T], usize)> {
        let stride_bytes = self.0.stride[usize::from(i > 0)];
        let size = std::mem::size_of::<T>();
        let ptr = self.0.data[i];
        if ptr.is_null() {
            return Err(Error::corrupt(FMT, "a picture plane is missing"));
        }
        if stride_bytes <= 0 || !(stride_bytes as usize).is_multiple_of(size) || h == 0 {
            return Err(Error::corrupt(FMT, "a picture plane's stride"));
        }
        let stride = stride_bytes as usize / size;
        if stride < w {
            return Err(Error::corrupt(FMT, "a picture plane's stride"));
        }
        let len = stride * (h - 1) + w;
        // SAFETY: dav1d's plane `i` holds `h` rows of `stride_bytes` bytes (the last row at
        // least `w` samples), aligned for its sample type, alive until the picture is
        // unreferenced (`self` borrows it for the slice's life).
        Ok((
            unsafe { std::slice::from_raw_parts(ptr.cast::<T>().cast_const(), len) },
            stride,
        ))
    }
}

impl Picture {
    /// The three planes as the yuv crate takes them (chroma planes `cw` x `ch`).
    fn planar<T: Copy + std::fmt::Debug>(
        &self,
        w: usize,
        h: usize,
        cw: usize,
        ch: usize,
    ) -> Result<YuvPlanarImage<'_, T>> {
        let (y, ys) = self.plane::<T>(0, w, h)?;
        let (u, us) = self.plane::<T>(1, cw, ch)?;
        let (v, vs) = self.plane::<T>(2, cw, ch)?;
        let stride =
            |s: usize| u32::try_from(s).map_err(|_| Error::corrupt(FMT, "a plane's stride"));
        Ok(YuvPlanarImage {
            y_plane: y,
            y_stride: stride(ys)?,
            u_plane: u,
            u_stride: stride(us)?,
            v_plane: v,
            v_stride: stride(vs)?,
            width: w as u32,
            height: h as u32,
        })
    }
}

/// An open decoder, closed on drop.
struct Decoder(*mut Dav1dContext);

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context came from `dav1d_open` and is closed once.
        if !self.0.is_null() {
            unsafe { dav1d_close(&mut self.0) };
        }
    }
}

/// Frames (frame and frame header OBUs) in an item's AV1 data, counted from the OBU headers.
/// An AVIF image item holds one frame (a layered one, one per layer); a long run of hidden
/// frames before the shown one would each be decoded in full.
fn frames_in(data: &[u8]) -> Result<usize> {
    let mut at = 0;
    let mut frames = 0;
    while at < data.len() {
        let header = data[at];
        let kind = (header >> 3) & 0x0F;
        let extension = usize::from((header >> 2) & 1);
        if header & 0x02 == 0 {
            // No size field: the OBU runs to the end of the data.
            frames += usize::from(kind == 3 || kind == 6);
            break;
        }
        at += 1 + extension;
        let mut size = 0u64;
        let mut shift = 0;
        loop {
            let byte = *data.get(at).ok_or_else(|| Error::Truncated {
                format: FMT,
                reason: "an AV1 OBU header ends early".into(),
            })?;
            at += 1;
            size |= u64::from(byte & 0x7F) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
            if shift > 56 {
                return Err(Error::corrupt(FMT, "an AV1 OBU size is too long"));
            }
        }
        frames += usize::from(kind == 3 || kind == 6);
        at = at.saturating_add(usize::try_from(size).unwrap_or(usize::MAX));
    }
    Ok(frames)
}

/// Decode one AV1 still picture (the first frame of `data`).
fn decode_picture(data: &[u8], max_pixels: u64) -> Result<Picture> {
    // Up to 8: an image with spatial layers codes one frame per layer.
    if frames_in(data)? > 8 {
        return Err(Error::corrupt(
            FMT,
            "an image item holds more than 8 frames",
        ));
    }
    let mut settings = std::mem::MaybeUninit::<Dav1dSettings>::zeroed();
    // SAFETY: `dav1d_default_settings` fills every field of the struct it is given.
    let mut settings = unsafe {
        dav1d_default_settings(settings.as_mut_ptr());
        settings.assume_init()
    };
    // One thread: outputs are made in parallel by the caller.
    settings.n_threads = 1;
    settings.max_frame_delay = 1;
    settings.all_layers = 0;
    settings.frame_size_limit = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    // Errors come back as codes; dav1d's default logger would print them to stderr.
    settings.logger.callback = None;
    let mut dec = Decoder(std::ptr::null_mut());
    // SAFETY: both pointers are to live locals.
    let r = unsafe { dav1d_open(&mut dec.0, &settings) };
    if r < 0 || dec.0.is_null() {
        return Err(dav1d_error("opening the decoder", r));
    }
    // SAFETY: zeroed is the empty data reference.
    let mut input: Dav1dData = unsafe { std::mem::zeroed() };
    // SAFETY: `dav1d_data_create` gives a buffer of `data.len()` bytes (or null).
    let buf = unsafe { dav1d_data_create(&mut input, data.len()) };
    if buf.is_null() {
        return Err(Error::DecoderLimit(
            "AVIF: no memory for the coded data".into(),
        ));
    }
    // SAFETY: `buf` has room for `data.len()` bytes and does not overlap `data`.
    unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
    const EAGAIN: i32 = -11;
    let result = (|| {
        // Send everything, taking a picture out when the decoder asks for room; once all
        // is sent, a few more calls drain it.
        // (Bounded either way: a stream that neither takes data nor gives a picture stops.)
        let mut drains = 0;
        for _ in 0..1024 {
            if drains == 4 {
                break;
            }
            if input.sz > 0 {
                // SAFETY: the context is open; `input` is a valid data reference.
                let r = unsafe { dav1d_send_data(dec.0, &mut input) };
                if r < 0 && r != EAGAIN {
                    return Err(dav1d_error("decoding", r));
                }
            } else {
                drains += 1;
            }
            // SAFETY: zeroed is the empty picture; `dav1d_get_picture` fills it on success.
            let mut pic: Dav1dPicture = unsafe { std::mem::zeroed() };
            // SAFETY: the context is open; `pic` is writable.
            let r = unsafe { dav1d_get_picture(dec.0, &mut pic) };
            if r == 0 {
                return Ok(Picture(pic));
            }
            if r != EAGAIN {
                return Err(dav1d_error("decoding", r));
            }
        }
        Err(Error::corrupt(FMT, "the AV1 data holds no picture"))
    })();
    if input.sz > 0 {
        // SAFETY: `input` still holds its reference; released once.
        unsafe { dav1d_data_unref(&mut input) };
    }
    result
}

fn yuv_matrix(code: u8, primaries: u8) -> Result<YuvStandardMatrix> {
    Ok(match code {
        1 => YuvStandardMatrix::Bt709,
        4 => YuvStandardMatrix::Fcc,
        7 => YuvStandardMatrix::Smpte240,
        9 | 10 => YuvStandardMatrix::Bt2020,
        // YCgCo and its reversible forms.
        8 | 16 | 17 => {
            return Err(Error::Unsupported(format!(
                "AVIF with YCgCo samples (matrix coefficients {code})"
            )))
        }
        // Chromaticity-derived: the matrix of the primaries.
        12 | 13 => match primaries {
            1 => YuvStandardMatrix::Bt709,
            9 => YuvStandardMatrix::Bt2020,
            _ => YuvStandardMatrix::Bt601,
        },
        // BT.601 (5, 6), unspecified (2) and the rest: BT.601, as libavif reads them.
        _ => YuvStandardMatrix::Bt601,
    })
}

/// A luma (or alpha, or identity-coded) sample of `bits` bits to the full range
/// `0..=2^bits - 1`: limited range (16..235, scaled by depth) is stretched, full range kept.
fn full_range(v: u32, bits: u32, full: bool) -> u32 {
    let max = (1u32 << bits) - 1;
    if full {
        return v.min(max);
    }
    let lo = 16u32 << (bits - 8);
    let span = 219u32 << (bits - 8);
    ((v.saturating_sub(lo) * max + span / 2) / span).min(max)
}

/// Samples of `bits` bits to 16 bits, replicating the top bits.
fn widen(v: u16, bits: u32) -> u16 {
    if bits >= 16 {
        v
    } else {
        let v = u32::from(v) << (16 - bits);
        (v | (v >> bits)) as u16
    }
}

impl AvifHeader {
    /// Bytes per decoded pixel (RGB(A), 8 or 16 bits).
    pub(crate) fn bytes_per_pixel(&self) -> u64 {
        let channels = if self.alpha { 4 } else { 3 };
        channels
            * if self.bit_depth > 8 || self.hdr.is_some() {
                2
            } else {
                1
            }
    }

    /// The box-filter factor a tile-by-tile decode uses when the largest output needs
    /// `need` of the full size (1 = decode whole): 2, 4 or 8 for a grid without alpha.
    pub(crate) fn tile_shrink(&self, need: f64, margin: f64) -> u32 {
        match &self.grid {
            Some(g) if !self.alpha => {
                crate::heif::tile_shrink(g.tile_width, g.tile_height, need, margin)
            }
            _ => 1,
        }
    }

    /// What decoding holds at its peak besides the image it returns: the coded data
    /// (copied into the decoder) and, for the colour and the alpha image each, three pictures
    /// as dav1d allocates them (both sides padded to a multiple of 128, chroma by layout,
    /// 16-bit samples above 8 bits): the frame, its reference copy and state, and the film
    /// grain output. A grid holds one tile in flight per thread (its pictures and its RGB
    /// samples, twice) and the 16-bit RGB canvas the tiles are assembled in, reduced by
    /// `shrink`.
    pub(crate) fn decoder_bytes(&self, shrink: u32) -> u64 {
        let picture = |w: u32, h: u32, layout: Layout, bits: u32| -> u64 {
            let pixels = u64::from(w.div_ceil(128) * 128) * u64::from(h.div_ceil(128) * 128);
            let sample = if bits > 8 { 2 } else { 1 };
            // Luma plus both chroma planes, in quarters of a luma plane.
            let quarters = match layout {
                Layout::Mono => 4,
                Layout::I420 => 6,
                Layout::I422 => 8,
                Layout::I444 => 12,
            };
            pixels.saturating_mul(sample * quarters) / 4
        };
        let (coded, colour) = match &self.grid {
            Some(g) => {
                let threads = rayon::current_num_threads().max(1) as u64;
                let (tw, th) = (g.tile_width, g.tile_height);
                let tile = picture(tw, th, self.layout, self.bit_depth)
                    .saturating_mul(3)
                    .saturating_add(u64::from(tw) * u64::from(th) * 12);
                let f = shrink.max(1);
                let canvas =
                    u64::from(self.width.div_ceil(f)) * u64::from(self.height.div_ceil(f)) * 6;
                let coded: u64 = g.tiles.iter().map(|t| t.len() as u64).sum();
                (coded, tile.saturating_mul(threads).saturating_add(canvas))
            }
            None => (
                self.color_data.len() as u64,
                picture(self.width, self.height, self.layout, self.bit_depth).saturating_mul(3),
            ),
        };
        let alpha = if let Some(g) = &self.alpha_grid {
            // One tile's pictures at a time, and the assembled 16-bit plane.
            picture(
                g.tile_width,
                g.tile_height,
                self.alpha_layout,
                self.alpha_bit_depth,
            )
            .saturating_mul(3)
            .saturating_add(u64::from(g.tile_width) * u64::from(g.tile_height) * 2)
            .saturating_add(u64::from(self.width) * u64::from(self.height) * 2)
            .saturating_add(g.tiles.iter().map(|t| t.len() as u64).sum::<u64>())
        } else if self.alpha {
            picture(
                self.width,
                self.height,
                self.alpha_layout,
                self.alpha_bit_depth,
            )
            .saturating_mul(3)
        } else {
            0
        };
        coded
            .saturating_add(self.alpha_data.as_ref().map_or(0, |a| a.len() as u64))
            .saturating_add(colour)
            .saturating_add(alpha)
    }

    /// Decode one picture of `data`, which must be `w` x `h` and coded with the layout and
    /// depth the header gave (a later sequence header in the same data could say otherwise;
    /// outputs were planned on the header's size).
    fn picture(&self, data: &[u8], w: u32, h: u32, max_pixels: u64) -> Result<Picture> {
        // dav1d may be told a larger frame by a frame header than the sequence header's
        // maximum: its limit is the size the estimate was made for.
        let limit = (u64::from(w) * u64::from(h)).min(max_pixels);
        let pic = decode_picture(data, limit)?;
        // SAFETY: `layout` is a C enum read as its integer, never as the Rust enum.
        let layout = unsafe { std::ptr::addr_of!(pic.0.p.layout).cast::<u32>().read() };
        if layout != self.layout as u32 {
            return Err(Error::corrupt(
                FMT,
                "the picture's chroma layout differs from the header's",
            ));
        }
        let (pw, ph) = pic.size();
        if (pw as u64, ph as u64) != (u64::from(w), u64::from(h)) {
            return Err(Error::corrupt(
                FMT,
                format!("the picture is {pw}x{ph}, its sequence header says {w}x{h}"),
            ));
        }
        if pic.0.p.bpc as u32 != self.bit_depth {
            return Err(Error::corrupt(
                FMT,
                "the picture's bit depth differs from the header's",
            ));
        }
        Ok(pic)
    }

    /// Decode the primary image (and its alpha) to RGB(A) or grey; a grid tile by tile,
    /// reduced by `shrink` (from [`AvifHeader::tile_shrink`]).
    pub(crate) fn decode(&self, max_pixels: u64, shrink: u32) -> Result<DynamicImage> {
        crate::jpeg::guarded(FMT, false, || {
            let deep = self.bit_depth > 8 || self.hdr.is_some();
            let mut img = match &self.grid {
                Some(g) => self.decode_grid(g, shrink.max(1), max_pixels, deep)?,
                None => {
                    let pic =
                        self.picture(&self.color_data, self.width, self.height, max_pixels)?;
                    let (w, h) = pic.size();
                    self.to_rgb(&pic, w, h, deep)?
                }
            };
            let alpha = match (&self.alpha_data, &self.alpha_grid) {
                (Some(data), _) => Some(self.alpha_plane(&self.alpha_picture(data, max_pixels)?)?),
                (None, Some(g)) => Some(self.alpha_grid_plane(g, max_pixels)?),
                (None, None) => None,
            };
            if let Some(a) = alpha {
                img = with_alpha(img, &a);
                if self.premultiplied {
                    crate::color::unpremultiply(&mut img);
                }
            }
            Ok(match self.hdr {
                Some(hdr) => hdr_to_sdr(img, hdr, self.hdr_matrix),
                None => img,
            })
        })
    }

    /// An alpha grid, tile by tile, as one 16-bit full-range plane of the image's size.
    fn alpha_grid_plane(&self, g: &Grid, max_pixels: u64) -> Result<Vec<u16>> {
        let (w, h) = (self.width as usize, self.height as usize);
        let (tw, th) = (g.tile_width as usize, g.tile_height as usize);
        let limit = (tw as u64 * th as u64).min(max_pixels);
        let mut plane = vec![0u16; w * h];
        for (i, data) in g.tiles.iter().enumerate() {
            let pic = decode_picture(data, limit)?;
            if pic.size() != (tw, th) {
                return Err(Error::corrupt(
                    FMT,
                    "an alpha tile's size differs from its header's",
                ));
            }
            let tile = self.alpha_plane(&pic)?;
            let (x0, y0) = ((i % g.columns as usize) * tw, (i / g.columns as usize) * th);
            if y0 >= h {
                return Err(Error::corrupt(FMT, "an alpha tile outside the grid"));
            }
            let cw = tw.min(w.saturating_sub(x0));
            for y in 0..th.min(h - y0) {
                plane[(y0 + y) * w + x0..][..cw].copy_from_slice(&tile[y * tw..][..cw]);
            }
        }
        Ok(plane)
    }

    fn alpha_picture(&self, data: &[u8], max_pixels: u64) -> Result<Picture> {
        let limit = (u64::from(self.width) * u64::from(self.height)).min(max_pixels);
        let a = decode_picture(data, limit)?;
        if a.size() != (self.width as usize, self.height as usize) {
            return Err(Error::corrupt(
                FMT,
                "the alpha picture's size differs from the image's",
            ));
        }
        Ok(a)
    }

    /// A grid, one tile at a time (as many at once as there are threads), each tile's part
    /// inside the image reduced by `f` (a box filter; 1 copies) into a canvas.
    fn decode_grid(&self, g: &Grid, f: u32, max_pixels: u64, deep: bool) -> Result<DynamicImage> {
        let (w, h) = (self.width, self.height);
        let (tw, th) = (g.tile_width, g.tile_height);
        let tile = |i: usize| -> Result<(u32, u32, u32, u32, Vec<u16>)> {
            let (column, row) = (i as u32 % g.columns, i as u32 / g.columns);
            if row >= g.rows {
                return Err(Error::corrupt(FMT, "a tile outside the grid"));
            }
            let (x0, y0) = (column * tw, row * th);
            let (cw, ch) = (tw.min(w.saturating_sub(x0)), th.min(h.saturating_sub(y0)));
            let pic = self.picture(&g.tiles[i], tw, th, max_pixels)?;
            let img = self.to_rgb(&pic, tw as usize, th as usize, deep)?;
            drop(pic);
            let samples: Vec<u16> = match img {
                DynamicImage::ImageRgb16(b) => b.into_raw(),
                DynamicImage::ImageRgb8(b) => b.into_raw().into_iter().map(u16::from).collect(),
                DynamicImage::ImageLuma16(b) => {
                    b.into_raw().into_iter().flat_map(|v| [v; 3]).collect()
                }
                DynamicImage::ImageLuma8(b) => b
                    .into_raw()
                    .into_iter()
                    .flat_map(|v| [u16::from(v); 3])
                    .collect(),
                _ => return Err(Error::corrupt(FMT, "a tile's sample layout")),
            };
            let (bw, bh, block) = box_reduce(&samples, tw, cw, ch, f);
            Ok((x0 / f, y0 / f, bw, bh, block))
        };
        let img = assemble(FMT, w.div_ceil(f), h.div_ceil(f), g.tiles.len(), deep, tile)?;
        // Grey stays grey (HDR is mapped per RGB channel).
        Ok(grey_if(
            img,
            self.layout == Layout::Mono && self.hdr.is_none(),
            deep,
        ))
    }

    /// The alpha picture's luma as 16-bit full-range alpha.
    fn alpha_plane(&self, a: &Picture) -> Result<Vec<u16>> {
        let (w, h) = a.size();
        let bits = a.0.p.bpc as u32;
        let full = self.alpha_full_range;
        let expand = |v: u32| widen(full_range(v, bits, full) as u16, bits);
        let mut out = Vec::with_capacity(w * h);
        if bits > 8 {
            let (plane, stride) = a.plane::<u16>(0, w, h)?;
            for row in plane.chunks(stride).take(h) {
                out.extend(row[..w].iter().map(|&v| expand(u32::from(v))));
            }
        } else {
            let (plane, stride) = a.plane::<u8>(0, w, h)?;
            for row in plane.chunks(stride).take(h) {
                out.extend(row[..w].iter().map(|&v| expand(u32::from(v))));
            }
        }
        Ok(out)
    }

    /// The colour picture to RGB (8 or 16 bits) or grey.
    fn to_rgb(&self, pic: &Picture, w: usize, h: usize, deep: bool) -> Result<DynamicImage> {
        let range = if self.full_range {
            YuvRange::Full
        } else {
            YuvRange::Limited
        };
        let matrix = yuv_matrix(self.matrix, self.primaries)?;
        let bits = self.bit_depth;
        let (wu, hu) = (w as u32, h as u32);
        let bad = |e: yuv::YuvError| Error::corrupt(FMT, format!("YCbCr conversion: {e}"));
        let (cw, ch) = match self.layout {
            Layout::I420 => (w.div_ceil(2), h.div_ceil(2)),
            Layout::I422 => (w.div_ceil(2), h),
            Layout::I444 | Layout::Mono => (w, h),
        };
        if self.layout == Layout::Mono {
            // Grey: luma through the range, nothing else.
            let scale = |v: u32| full_range(v, bits, self.full_range);
            let img = if bits > 8 {
                let (y, stride) = pic.plane::<u16>(0, w, h)?;
                let mut out = Vec::with_capacity(w * h);
                for row in y.chunks(stride).take(h) {
                    out.extend(
                        row[..w]
                            .iter()
                            .map(|&v| widen(scale(u32::from(v)) as u16, bits)),
                    );
                }
                DynamicImage::ImageLuma16(
                    ImageBuffer::from_raw(wu, hu, out)
                        .ok_or_else(|| Error::corrupt(FMT, "grey plane"))?,
                )
            } else {
                let (y, stride) = pic.plane::<u8>(0, w, h)?;
                let mut out = Vec::with_capacity(w * h);
                for row in y.chunks(stride).take(h) {
                    out.extend(row[..w].iter().map(|&v| scale(u32::from(v)) as u8));
                }
                DynamicImage::ImageLuma8(
                    ImageBuffer::from_raw(wu, hu, out)
                        .ok_or_else(|| Error::corrupt(FMT, "grey plane"))?,
                )
            };
            // HDR is mapped per RGB channel.
            return Ok(if self.hdr.is_some() {
                DynamicImage::ImageRgb16(img.to_rgb16())
            } else {
                img
            });
        }
        if self.matrix == 0 {
            return self.identity_to_rgb(pic, w, h, deep);
        }
        let img = if bits > 8 {
            let planar = pic.planar::<u16>(w, h, cw, ch)?;
            let mut rgb16 = vec![0u16; w * h * 3];
            let stride = wu * 3;
            match (self.layout, bits) {
                (Layout::I420, 10) => {
                    yuv::i010_to_rgb10(&planar, &mut rgb16, stride, range, matrix)
                }
                (Layout::I420, _) => yuv::i012_to_rgb12(&planar, &mut rgb16, stride, range, matrix),
                (Layout::I422, 10) => {
                    yuv::i210_to_rgb10(&planar, &mut rgb16, stride, range, matrix)
                }
                (Layout::I422, _) => yuv::i212_to_rgb12(&planar, &mut rgb16, stride, range, matrix),
                (_, 10) => yuv::i410_to_rgb10(&planar, &mut rgb16, stride, range, matrix),
                (_, _) => yuv::i412_to_rgb12(&planar, &mut rgb16, stride, range, matrix),
            }
            .map_err(bad)?;
            for v in &mut rgb16 {
                *v = widen(*v, bits);
            }
            DynamicImage::ImageRgb16(
                ImageBuffer::from_raw(wu, hu, rgb16)
                    .ok_or_else(|| Error::corrupt(FMT, "RGB size"))?,
            )
        } else {
            let planar = pic.planar::<u8>(w, h, cw, ch)?;
            let mut rgb = vec![0u8; w * h * 3];
            let stride = wu * 3;
            match self.layout {
                Layout::I420 => yuv::yuv420_to_rgb(&planar, &mut rgb, stride, range, matrix),
                Layout::I422 => yuv::yuv422_to_rgb(&planar, &mut rgb, stride, range, matrix),
                _ => yuv::yuv444_to_rgb(&planar, &mut rgb, stride, range, matrix),
            }
            .map_err(bad)?;
            let img = DynamicImage::ImageRgb8(
                ImageBuffer::from_raw(wu, hu, rgb)
                    .ok_or_else(|| Error::corrupt(FMT, "RGB size"))?,
            );
            if deep {
                DynamicImage::ImageRgb16(img.to_rgb16())
            } else {
                img
            }
        };
        Ok(img)
    }

    /// Matrix 0 (identity): the planes are G, B and R (4:4:4 only).
    fn identity_to_rgb(
        &self,
        pic: &Picture,
        w: usize,
        h: usize,
        deep: bool,
    ) -> Result<DynamicImage> {
        if self.layout != Layout::I444 {
            return Err(Error::corrupt(
                FMT,
                "identity matrix without 4:4:4 sampling",
            ));
        }
        let bits = self.bit_depth;
        // Each of G, B and R is coded like luma.
        let sample = |v: u32| widen(full_range(v, bits, self.full_range) as u16, bits);
        let mut out = Vec::with_capacity(w * h * 3);
        macro_rules! gbr {
            ($t:ty) => {{
                let (g, gs) = pic.plane::<$t>(0, w, h)?;
                let (b, bs) = pic.plane::<$t>(1, w, h)?;
                let (r, rs) = pic.plane::<$t>(2, w, h)?;
                for row in 0..h {
                    for x in 0..w {
                        out.push(sample(u32::from(r[row * rs + x])));
                        out.push(sample(u32::from(g[row * gs + x])));
                        out.push(sample(u32::from(b[row * bs + x])));
                    }
                }
            }};
        }
        if bits > 8 {
            gbr!(u16);
        } else {
            gbr!(u8);
        }
        let img = DynamicImage::ImageRgb16(
            ImageBuffer::from_raw(w as u32, h as u32, out)
                .ok_or_else(|| Error::corrupt(FMT, "RGB size"))?,
        );
        Ok(if deep {
            img
        } else {
            DynamicImage::ImageRgb8(img.to_rgb8())
        })
    }
}

/// RGB (or grey) plus a 16-bit alpha plane: RGBA at the colour's depth.
fn with_alpha(img: DynamicImage, alpha: &[u16]) -> DynamicImage {
    match img {
        DynamicImage::ImageRgb16(_) | DynamicImage::ImageLuma16(_) => {
            let mut out = img.to_rgba16();
            for (p, &a) in out.pixels_mut().zip(alpha) {
                p.0[3] = a;
            }
            DynamicImage::ImageRgba16(out)
        }
        other => {
            let mut out = other.to_rgba8();
            for (p, &a) in out.pixels_mut().zip(alpha) {
                p.0[3] = ((u32::from(a) * 255 + 32767) / 65535) as u8;
            }
            DynamicImage::ImageRgba8(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An OBU with a size field: type, then a one-byte size, then the payload.
    fn obu(kind: u8, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![(kind << 3) | 0x02, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    #[test]
    fn frames_are_counted_from_the_obu_headers() {
        let mut data = obu(2, &[]); // temporal delimiter
        data.extend(obu(1, &[0; 10])); // sequence header
        data.extend(obu(6, &[0; 20])); // frame
        assert_eq!(frames_in(&data).unwrap(), 1);
        for _ in 0..9 {
            data.extend(obu(3, &[0; 3])); // frame headers: hidden frames, say
        }
        assert_eq!(frames_in(&data).unwrap(), 10);
        assert!(decode_picture(&data, 1 << 20).is_err_and(|e| e.to_string().contains("8 frames")));
        // A size field cut short is `truncated`, not a panic.
        assert!(matches!(
            frames_in(&[0x32, 0x80]),
            Err(Error::Truncated { .. })
        ));
    }

    #[test]
    fn a_box_larger_than_its_parent_is_corrupt_before_the_parser_reserves_it() {
        // The fuzz finding: `hdlr` inside a 210-byte `meta` claims 0xf9000021 bytes.
        let bytes = include_bytes!("../../fixtures/fuzz/render-avif-hdlr-4gb.avif");
        let e = read_header(bytes).unwrap_err();
        assert!(e.to_string().contains("'hdlr' claims"), "{e}");
        // A well-formed file passes the walk.
        let good = include_bytes!("../../fixtures/avif-8x8.avif");
        check_box_sizes(good, 0, good.len()).unwrap();
        read_header(good).unwrap();
    }

    #[test]
    fn a_grid_is_read_from_its_descriptor_and_tiles() {
        let hdr = read_header(include_bytes!("../../fixtures/avif-grid-2x2.avif")).unwrap();
        let g = hdr.grid.as_ref().unwrap();
        assert_eq!((hdr.width, hdr.height), (120, 100));
        assert_eq!(
            (g.columns, g.rows, g.tile_width, g.tile_height),
            (2, 2, 64, 64)
        );
        // A 12 px output from 120 px tiles of 64 is decoded reduced by 2; 60 px is whole.
        assert_eq!(hdr.tile_shrink(0.1, 2.0), 2);
        assert_eq!(hdr.tile_shrink(0.5, 2.0), 1);
        // Descriptors: 32-bit sizes; zero sizes and other versions refused.
        let mut d = vec![0u8, 1, 3, 4];
        d.extend(5000u32.to_be_bytes());
        d.extend(4000u32.to_be_bytes());
        assert_eq!(grid_descriptor(&d).unwrap(), (4, 5, 5000, 4000));
        assert!(grid_descriptor(&[0, 0, 0, 0, 0, 0, 1, 0]).is_err());
        assert!(matches!(
            grid_descriptor(&[1, 0, 0, 0, 0, 8, 0, 8]),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            grid_descriptor(&[0, 0, 0]),
            Err(Error::Corrupt { .. })
        ));
    }

    #[test]
    fn a_sample_table_longer_than_the_file_is_corrupt_before_the_parser_builds_it() {
        let bmff = |kind: &[u8], body: &[u8]| -> Vec<u8> {
            [&((body.len() + 8) as u32).to_be_bytes()[..], kind, body].concat()
        };
        // stsz: version/flags, a constant sample size of 1, 64M samples.
        let stsz = bmff(b"stsz", &[0, 0, 0, 0, 0, 0, 0, 1, 4, 0, 0, 0]);
        let mut tree = stsz;
        for kind in [b"stbl", b"minf", b"mdia", b"trak", b"moov"] {
            tree = bmff(kind, &tree);
        }
        let e = check_box_sizes(&tree, 0, tree.len()).unwrap_err();
        assert!(
            e.to_string().contains("'stsz' lists 67108864 samples"),
            "{e}"
        );
    }

    /// Each `av1C` box's profile and level against the sequence headers in the file (AVIF
    /// §2.2.1: they must agree): `items` of each, every level 31, and the same profiles.
    fn av1c_agrees_with_the_sequence_headers(avif: &[u8], items: usize, what: &str) {
        let find_all = |needle: &[u8], from: usize| -> Vec<usize> {
            (from..=avif.len().saturating_sub(needle.len()))
                .filter(|&i| &avif[i..i + needle.len()] == needle)
                .collect()
        };
        // av1C: 'av1C', then marker/version, then seq_profile (3 bits) and level (5).
        let boxes: Vec<(u8, u8)> = find_all(b"av1C", 0)
            .into_iter()
            .map(|i| (avif[i + 5] >> 5, avif[i + 5] & 0x1f))
            .collect();
        // Sequence header OBUs in the media data: header byte 0x0a (type 1, with a size), a
        // one-byte size, then a payload starting with still_picture and
        // reduced_still_picture_header set.
        let mdat = find_all(b"mdat", 0)[0];
        let headers: Vec<(u8, u8)> = find_all(&[0x0a], mdat)
            .into_iter()
            .filter(|&i| i + 3 < avif.len() && avif[i + 1] < 0x80 && avif[i + 2] & 0x18 == 0x18)
            .map(|i| {
                let (a, b) = (avif[i + 2], avif[i + 3]);
                (a >> 5, ((a & 0x07) << 2) | (b >> 6))
            })
            .collect();
        assert_eq!(boxes.len(), items, "{what}: av1C boxes {boxes:?}");
        assert!(
            headers.len() >= items,
            "{what}: sequence headers {headers:?}"
        );
        for (profile, level) in &boxes {
            assert_eq!(*level, 31, "{what}: av1C {boxes:?}");
            assert!(
                headers.contains(&(*profile, 31)),
                "{what}: av1C {boxes:?}, sequence headers {headers:?}"
            );
        }
    }

    #[test]
    fn avif_output_is_8_bit_4_2_0_below_q90_unless_full_chroma_is_asked_and_decodes_back() {
        // Odd sizes: the half-size chroma planes round up. The transparent part is black (as
        // padding and the premultiplied resize leave it) and ends at an odd column, so one
        // 2x2 chroma block holds both visible and transparent pixels.
        let (w, h) = (65, 47);
        let rgba = image::RgbaImage::from_fn(w, h, |x, y| {
            if x < 21 {
                image::Rgba([0, 0, 0, 0])
            } else {
                image::Rgba([200, (y * 5) as u8, 40, 255])
            }
        });
        let opaque = DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba.clone()).into_rgb8());
        let opaque_rgba = DynamicImage::ImageRgba8(opaque.to_rgba8());
        // Both encoders where the build has libaom; libaom's fastest speed is 9.
        let encoders = [
            Some(crate::AvifEncoder::Rav1e),
            cfg!(feature = "aom").then_some(crate::AvifEncoder::Aom),
        ];
        for (img, alpha) in [
            (opaque, false),
            (opaque_rgba, false), // every pixel opaque: no alpha item
            (DynamicImage::ImageRgba8(rgba), true),
        ] {
            for (encoder, (speed, quality, full, layout)) in
                encoders.iter().flatten().flat_map(|&e| {
                    [
                        (10, 80, false, Layout::I420),
                        (9, 80, false, Layout::I420),
                        (6, 80, false, Layout::I420),
                        (9, 80, true, Layout::I444),
                        (9, 90, false, Layout::I444),
                    ]
                    .into_iter()
                    .filter(move |c| e == crate::AvifEncoder::Rav1e || c.0 <= 9)
                    .map(move |c| (e, c))
                })
            {
                let out =
                    crate::encode::encode_avif(img.clone(), quality, speed, full, encoder).unwrap();
                let hdr = read_header(&out).unwrap();
                let what = format!(
                    "{encoder:?} speed {speed}, q{quality}, full chroma {full}, alpha {alpha}"
                );
                av1c_agrees_with_the_sequence_headers(&out, 1 + usize::from(alpha), &what);
                if encoder != crate::AvifEncoder::Rav1e {
                    // The other encoder's bytes, not rav1e's under another name.
                    let rav1e = crate::encode::encode_avif(
                        img.clone(),
                        quality,
                        speed,
                        full,
                        crate::AvifEncoder::Rav1e,
                    )
                    .unwrap();
                    assert_ne!(out, rav1e, "{what}");
                }
                assert_eq!(hdr.bit_depth, 8, "{what}");
                assert_eq!(hdr.layout, layout, "{what}");
                assert_eq!((hdr.width, hdr.height, hdr.alpha), (w, h, alpha), "{what}");
                assert!(hdr.full_range, "{what}");
                let back = hdr.decode(u64::MAX, 1).unwrap();
                assert_eq!((back.width(), back.height()), (w, h), "{what}");
                assert_eq!(back.color().has_alpha(), alpha, "{what}");
                // Every visible pixel, the edge column included, within a lossy tolerance:
                // chroma averaged with the black under the transparent pixels would pull
                // column 21's red from 200 to about 160.
                let (a, b) = (img.to_rgba8(), back.to_rgba8());
                let mut worst = 0u8;
                for (x, y, p) in a.enumerate_pixels() {
                    if p.0[3] == 0 {
                        assert!(b.get_pixel(x, y).0[3] <= 8, "{what}: alpha at {x},{y}");
                        continue;
                    }
                    if !alpha && (20..22).contains(&x) {
                        continue; // opaque black beside red: 4:2:0 shares their chroma by design
                    }
                    let q = b.get_pixel(x, y);
                    for c in 0..4 {
                        worst = worst.max(p.0[c].abs_diff(q.0[c]));
                    }
                }
                assert!(worst <= 24, "{what}: largest difference {worst}");
            }
        }
        // The smallest shapes 4:2:0 can meet.
        let shapes = [(1, 1), (1, 9), (9, 1), (2, 3)];
        for (encoder, (w, h)) in encoders
            .iter()
            .flatten()
            .flat_map(|&e| shapes.map(|s| (e, s)))
        {
            let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
                w,
                h,
                image::Rgba([10, 200, 30, 128]),
            ));
            let out = crate::encode::encode_avif(img, 80, 9, false, encoder).unwrap();
            let hdr = read_header(&out).unwrap();
            assert_eq!(
                (hdr.width, hdr.height, hdr.alpha),
                (w, h, true),
                "{encoder:?}"
            );
            let p = hdr
                .decode(u64::MAX, 1)
                .unwrap()
                .to_rgba8()
                .get_pixel(0, 0)
                .0;
            assert!(
                p[1] > 170 && p[0] < 40 && p[3].abs_diff(128) < 10,
                "{encoder:?} {w}x{h}: {p:?}"
            );
        }
        assert_eq!(crate::OutputSpec::default().effective_avif_speed(), 9);
        assert!(!crate::OutputSpec::default().full_chroma);
    }

    #[test]
    fn a_mif1_major_brand_is_read_as_avif() {
        let mut bytes = include_bytes!("../../fixtures/avif-8x8.avif").to_vec();
        bytes[8..12].copy_from_slice(b"mif1");
        let hdr = read_header(&bytes).unwrap();
        assert_eq!((hdr.width, hdr.height), (8, 8));
    }

    #[test]
    fn ycgco_is_refused_and_chromaticity_derived_follows_the_primaries() {
        assert!(yuv_matrix(8, 1).is_err());
        assert!(matches!(yuv_matrix(12, 9), Ok(YuvStandardMatrix::Bt2020)));
        assert!(matches!(yuv_matrix(2, 2), Ok(YuvStandardMatrix::Bt601)));
    }
}
