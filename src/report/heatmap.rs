//! Matrices as heat-map images: viridis colours, PNG bytes (the `png`
//! crate), and a `data:` URI so an SVG figure can embed one and stay a
//! single offline file. A feature matrix of 128 × 256 values is a 20 KB
//! image, where one SVG rectangle per value would be megabytes.

use base64::Engine;

/// matplotlib's viridis at nine evenly spaced points; colours between them
/// are interpolated linearly (perceptually close to the full 256 entries).
const VIRIDIS: [[f32; 3]; 9] = [
    [68.0, 1.0, 84.0],
    [71.0, 45.0, 123.0],
    [59.0, 82.0, 139.0],
    [44.0, 114.0, 142.0],
    [33.0, 145.0, 140.0],
    [40.0, 174.0, 128.0],
    [94.0, 201.0, 98.0],
    [173.0, 220.0, 48.0],
    [253.0, 231.0, 37.0],
];

/// The colour of `t` in [0, 1] (clamped; NaN is the lowest colour).
pub fn viridis(t: f32) -> [u8; 3] {
    let t = if t.is_nan() { 0.0 } else { t.clamp(0.0, 1.0) };
    let x = t * (VIRIDIS.len() - 1) as f32;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f32;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    [0, 1, 2].map(|c| (a[c] + (b[c] - a[c]) * f).round() as u8)
}

/// The smallest and largest finite values (a constant or empty input gets
/// a range of width 1, so it still maps to one colour).
pub fn range<'a>(values: impl IntoIterator<Item = &'a f32>) -> (f32, f32) {
    let (lo, hi) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if !lo.is_finite() {
        (0.0, 1.0)
    } else if hi - lo <= f32::EPSILON * lo.abs().max(1.0) {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// A `rows × cols` row-major matrix as an RGB PNG, each value a block of
/// `scale.0 × scale.1` pixels (rows × columns), row 0 at the bottom as in
/// `librosa.display.specshow`, colours spanning `lo..hi`.
pub fn png(
    values: &[f32],
    rows: usize,
    cols: usize,
    (lo, hi): (f32, f32),
    scale: (usize, usize),
) -> Vec<u8> {
    assert_eq!(values.len(), rows * cols, "values are rows × cols");
    let (sy, sx) = (scale.0.max(1), scale.1.max(1));
    let (h, w) = (rows * sy, cols * sx);
    let mut rgb = Vec::with_capacity(h * w * 3);
    for y in 0..h {
        let r = rows - 1 - y / sy;
        for x in 0..w {
            let v = values[r * cols + x / sx];
            rgb.extend(viridis((v - lo) / (hi - lo)));
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w as u32, h as u32);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().expect("writing to memory");
        writer.write_image_data(&rgb).expect("writing to memory");
    }
    out
}

/// `data:image/png;base64,…` for an `<image href>` in an SVG.
pub fn data_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colours_span_viridis() {
        assert_eq!(viridis(0.0), [68, 1, 84]);
        assert_eq!(viridis(1.0), [253, 231, 37]);
        assert_eq!(viridis(0.5), [33, 145, 140]);
        assert_eq!(viridis(f32::NAN), viridis(-3.0));
    }

    /// The image decodes to the requested size, with row 0 at the bottom.
    #[test]
    fn png_round_trips() {
        let v = [0.0f32, 0.0, 1.0, 1.0]; // row 0 low, row 1 high
        let bytes = png(&v, 2, 2, (0.0, 1.0), (3, 2));
        let decoder = ::png::Decoder::new(std::io::Cursor::new(bytes));
        let mut reader = decoder.read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!((info.width, info.height), (4, 6));
        assert_eq!(&buf[..3], &viridis(1.0)); // top-left: row 1
        let last = buf.len() - 3;
        assert_eq!(&buf[last..], &viridis(0.0)); // bottom-right: row 0
        assert!(data_uri(&[1, 2, 3]).starts_with("data:image/png;base64,AQID"));
    }

    #[test]
    fn range_ignores_non_finite_values() {
        assert_eq!(range(&[1.0, f32::NAN, -2.0, f32::INFINITY]), (-2.0, 1.0));
        assert_eq!(range(&[3.0, 3.0]), (2.5, 3.5));
        assert_eq!(range(&[]), (0.0, 1.0));
    }
}
