//! Legends: a colour bar with tick values and units, as a PNG people look at and as JSON
//! that web clients draw their own from.

use serde::Serialize;

use crate::error::Result;
use crate::render::palette::{hex, ColourTable, Palette, Rgba};

const WIDTH: usize = 320;
const HEIGHT: usize = 64;
const BAR_X0: usize = 14;
const BAR_X1: usize = 306;
const BAR_Y0: usize = 20;
const BAR_Y1: usize = 36;

/// The legend's machine-readable form.
#[derive(Debug, Clone, Serialize)]
pub struct LegendJson {
    pub title: String,
    pub units: String,
    pub palette: String,
    pub range: [f64; 2],
    pub ticks: Vec<f64>,
    /// Colour stops in value units.
    pub stops: Vec<LegendStop>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegendStop {
    pub value: f64,
    pub color: String,
}

/// "Nice" tick values (steps of 1, 2, 2.5 or 5 × 10^k) inside `[min, max]`.
pub fn ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if max.partial_cmp(&min) != Some(std::cmp::Ordering::Greater) {
        return vec![min];
    }
    let raw = (max - min) / target.max(1) as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let mut out = Vec::new();
    let mut k = (min / step).ceil();
    while k * step <= max + step * 1e-9 {
        let v = k * step;
        // Round away binary noise such as 0.30000000000000004.
        out.push((v / step).round() * step);
        k += 1.0;
    }
    out
}

/// Formats a tick label compactly ("-40", "0.5", "1e+05").
pub fn label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        return format!("{v:.0e}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

pub fn legend_json(title: &str, units: &str, palette: &Palette, table: &ColourTable) -> LegendJson {
    let (min, max) = (table.min, table.max);
    LegendJson {
        title: title.to_string(),
        units: units.to_string(),
        palette: palette.name.clone(),
        range: [min, max],
        ticks: ticks(min, max, 5),
        stops: palette
            .stops()
            .iter()
            .map(|(p, c)| LegendStop {
                value: min + p * (max - min),
                color: hex(*c),
            })
            .collect(),
    }
}

/// Draws the legend: title with units, colour bar over a checkerboard (so transparent parts
/// read as "no colour"), tick marks and labels.
pub fn legend_png(title: &str, units: &str, table: &ColourTable) -> Result<Vec<u8>> {
    let mut img = vec![255u8; WIDTH * HEIGHT * 4];
    let heading = if units.is_empty() {
        title.to_string()
    } else {
        format!("{title} ({units})")
    };
    draw_text(
        &mut img,
        &fit(&heading, (WIDTH - 8) / 8),
        4,
        5,
        [20, 20, 20, 255],
    );
    let (min, max) = (table.min, table.max);
    let span = (BAR_X1 - BAR_X0 - 1) as f64;
    for x in BAR_X0..BAR_X1 {
        let v = min + (x - BAR_X0) as f64 / span * (max - min);
        let c = table.colour(v as f32);
        for y in BAR_Y0..BAR_Y1 {
            let checker = if ((x / 4) + (y / 4)) % 2 == 0 {
                255.0
            } else {
                205.0
            };
            let a = c[3] as f64 / 255.0;
            let px = [
                (c[0] as f64 * a + checker * (1.0 - a)).round() as u8,
                (c[1] as f64 * a + checker * (1.0 - a)).round() as u8,
                (c[2] as f64 * a + checker * (1.0 - a)).round() as u8,
                255,
            ];
            put(&mut img, x, y, px);
        }
    }
    let dark = [40, 40, 40, 255];
    for x in BAR_X0 - 1..=BAR_X1 {
        put(&mut img, x, BAR_Y0 - 1, dark);
        put(&mut img, x, BAR_Y1, dark);
    }
    for y in BAR_Y0 - 1..=BAR_Y1 {
        put(&mut img, BAR_X0 - 1, y, dark);
        put(&mut img, BAR_X1, y, dark);
    }
    let mut last_end = 0usize;
    for t in ticks(min, max, 5) {
        let x = BAR_X0 + (((t - min) / (max - min)) * span).round() as usize;
        for y in BAR_Y1..BAR_Y1 + 4 {
            put(&mut img, x, y, dark);
        }
        let text = label(t);
        let w = text.len() * 8;
        let start = x.saturating_sub(w / 2).min(WIDTH - w);
        if start >= last_end {
            draw_text(&mut img, &text, start, BAR_Y1 + 7, dark);
            last_end = start + w + 6;
        }
    }
    crate::render::encode::rgba_png(WIDTH, HEIGHT, &img)
}

fn fit(s: &str, chars: usize) -> String {
    let ascii: String = s
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect();
    if ascii.len() <= chars {
        ascii
    } else {
        format!("{}...", &ascii[..chars.saturating_sub(3)])
    }
}

fn put(img: &mut [u8], x: usize, y: usize, c: Rgba) {
    if x < WIDTH && y < HEIGHT {
        let k = (y * WIDTH + x) * 4;
        img[k..k + 4].copy_from_slice(&c);
    }
}

/// 8x8 bitmap text (font8x8's public-domain basic Latin glyphs; bit 0 is the leftmost pixel).
fn draw_text(img: &mut [u8], text: &str, x0: usize, y0: usize, c: Rgba) {
    for (k, ch) in text.chars().enumerate() {
        let glyph = font8x8::legacy::BASIC_LEGACY[(ch as usize).min(127)];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..8 {
                if bits & (1 << col) != 0 {
                    put(img, x0 + k * 8 + col, y0 + row, c);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        assert_eq!(
            ticks(223.15, 323.15, 5),
            vec![240.0, 260.0, 280.0, 300.0, 320.0]
        );
        assert_eq!(ticks(0.0, 50.0, 5), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
        assert_eq!(label(0.30000000000000004), "0.3");
        assert_eq!(label(101325.0), "101325");
    }
}
