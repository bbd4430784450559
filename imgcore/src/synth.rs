//! Synthetic JPEG streams of any frame size, for tests of the memory limits.
//!
//! Every 8×8 block is zero (a flat grey picture), coded with one-bit Huffman codes, so a
//! 17000×17000 frame takes a few MB. The layout is the point: one interleaved scan, one
//! scan per component (legal baseline, "non-interleaved"), or progressive. For the last two
//! libjpeg buffers the coefficients of the whole image (128 bytes per block and component)
//! before it outputs a row. Not part of the engine's API.

/// How the scans of a [`jpeg`] are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Baseline, all components in one scan: decoded row by row.
    Interleaved,
    /// Baseline, one scan per component: libjpeg's `has_multiple_scans`.
    NonInterleaved,
    /// Progressive: a DC scan of all components, then one AC scan per component.
    Progressive,
}

fn segment(out: &mut Vec<u8>, marker: u8, body: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    out.extend_from_slice(
        &u16::try_from(body.len() + 2)
            .unwrap_or(u16::MAX)
            .to_be_bytes(),
    );
    out.extend_from_slice(body);
}

/// Entropy-coded data of `blocks` blocks at `bits` bits each, all zero bits, padded with
/// one bits (zero bytes never need 0xFF stuffing).
fn zero_bits(out: &mut Vec<u8>, blocks: u64, bits: u64) {
    let total = blocks * bits;
    let full = (total / 8) as usize;
    out.resize(out.len() + full, 0);
    let rest = total % 8;
    if rest > 0 {
        out.push(0xFFu8 >> rest);
    }
}

/// A JPEG of `width`×`height` (1–65535) with `components` (1 or 3) at 1×1 sampling.
pub fn jpeg(width: u16, height: u16, components: u8, layout: Layout) -> Vec<u8> {
    let blocks = u64::from(width.div_ceil(8)) * u64::from(height.div_ceil(8));
    let mut out = vec![0xFF, 0xD8];
    let mut dqt = vec![0u8];
    dqt.extend([1u8; 64]);
    segment(&mut out, 0xDB, &dqt);
    let mut sof = vec![8];
    sof.extend(height.to_be_bytes());
    sof.extend(width.to_be_bytes());
    sof.push(components);
    for c in 0..components {
        sof.extend([c + 1, 0x11, 0]);
    }
    let sof_marker = if layout == Layout::Progressive {
        0xC2
    } else {
        0xC0
    };
    segment(&mut out, sof_marker, &sof);
    // DC table 0 and AC table 0: a single one-bit code for symbol 0 (DC: difference 0;
    // AC: end of block).
    let mut dht = Vec::new();
    for class in [0x00u8, 0x10] {
        dht.push(class);
        dht.push(1);
        dht.extend([0u8; 15]);
        dht.push(0);
    }
    segment(&mut out, 0xC4, &dht);
    let scan = |out: &mut Vec<u8>, comps: &[u8], ss: u8, se: u8| {
        let mut sos = vec![comps.len() as u8];
        for &c in comps {
            sos.extend([c, 0x00]);
        }
        sos.extend([ss, se, 0]);
        segment(out, 0xDA, &sos);
    };
    let all: Vec<u8> = (1..=components).collect();
    match layout {
        Layout::Interleaved => {
            scan(&mut out, &all, 0, 63);
            zero_bits(&mut out, blocks * u64::from(components), 2);
        }
        Layout::NonInterleaved => {
            for &c in &all {
                scan(&mut out, &[c], 0, 63);
                zero_bits(&mut out, blocks, 2);
            }
        }
        Layout::Progressive => {
            scan(&mut out, &all, 0, 0);
            zero_bits(&mut out, blocks * u64::from(components), 1);
            for &c in &all {
                scan(&mut out, &[c], 1, 63);
                zero_bits(&mut out, blocks, 1);
            }
        }
    }
    out.extend_from_slice(&[0xFF, 0xD9]);
    out
}

/// Append a PNG chunk (length, type, data, CRC) to `out`.
pub fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32fast::hash(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// An Adam7-interlaced 8-bit RGB PNG of `width`×`height`, pixel (x, y) = `pixel(x, y)`,
/// built by hand (the encoders in this workspace write only non-interlaced files): each
/// pass's scanlines with filter 0, deflated together.
pub fn interlaced_png(width: u32, height: u32, pixel: impl Fn(u32, u32) -> [u8; 3]) -> Vec<u8> {
    const PASSES: [(u32, u32, u32, u32); 7] = [
        (0, 0, 8, 8),
        (4, 0, 8, 8),
        (0, 4, 4, 8),
        (2, 0, 4, 4),
        (0, 2, 2, 4),
        (1, 0, 2, 2),
        (0, 1, 1, 2),
    ];
    let mut raw = Vec::new();
    for (x0, y0, dx, dy) in PASSES {
        if x0 >= width || y0 >= height {
            continue;
        }
        for y in (y0..height).step_by(dy as usize) {
            raw.push(0); // filter: none
            for x in (x0..width).step_by(dx as usize) {
                raw.extend_from_slice(&pixel(x, y));
            }
        }
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend(width.to_be_bytes());
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 1]); // 8-bit RGB, deflate, adaptive filtering, Adam7
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(
        &mut out,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(&raw, 6),
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// An uncompressed, tiled 8-bit RGB TIFF (little-endian) of `width`×`height` with
/// `tile`×`tile` tiles, pixel (x, y) = `pixel(x, y)`, built by hand (the TIFF encoder in
/// this workspace writes strips only).
pub fn tiled_tiff(
    width: u32,
    height: u32,
    tile: u32,
    pixel: impl Fn(u32, u32) -> [u8; 3],
) -> Vec<u8> {
    let across = width.div_ceil(tile);
    let down = height.div_ceil(tile);
    let tiles = (across * down) as usize;
    let tile_bytes = (tile * tile * 3) as usize;
    // Layout: header, IFD, BitsPerSample values, offsets, byte counts, tile data.
    let entries: u16 = 11;
    let ifd_at = 8u32;
    let extra_at = ifd_at + 2 + 12 * u32::from(entries) + 4;
    let bits_at = extra_at;
    let offsets_at = bits_at + 6 + 2; // keep word alignment
    let counts_at = offsets_at + 4 * tiles as u32;
    let data_at = counts_at + 4 * tiles as u32;
    let mut out = b"II*\0".to_vec();
    out.extend(ifd_at.to_le_bytes());
    out.extend(entries.to_le_bytes());
    let mut entry = |tag: u16, kind: u16, count: u32, value: u32| {
        out.extend(tag.to_le_bytes());
        out.extend(kind.to_le_bytes());
        out.extend(count.to_le_bytes());
        out.extend(value.to_le_bytes());
    };
    entry(256, 4, 1, width); // ImageWidth
    entry(257, 4, 1, height); // ImageLength
    entry(258, 3, 3, bits_at); // BitsPerSample 8,8,8
    entry(259, 3, 1, 1); // no compression
    entry(262, 3, 1, 2); // RGB
    entry(277, 3, 1, 3); // SamplesPerPixel
    entry(284, 3, 1, 1); // PlanarConfiguration: chunky
    entry(322, 4, 1, tile); // TileWidth
    entry(323, 4, 1, tile); // TileLength
    entry(324, 4, tiles as u32, offsets_at); // TileOffsets
    entry(325, 4, tiles as u32, counts_at); // TileByteCounts
    out.extend(0u32.to_le_bytes()); // no next IFD
    out.extend([8, 0, 8, 0, 8, 0, 0, 0]);
    for k in 0..tiles as u32 {
        out.extend((data_at + k * tile_bytes as u32).to_le_bytes());
    }
    for _ in 0..tiles {
        out.extend((tile_bytes as u32).to_le_bytes());
    }
    for ty in 0..down {
        for tx in 0..across {
            for y in ty * tile..(ty + 1) * tile {
                for x in tx * tile..(tx + 1) * tile {
                    let px = if x < width && y < height {
                        pixel(x, y)
                    } else {
                        [0, 0, 0]
                    };
                    out.extend(px);
                }
            }
        }
    }
    out
}
