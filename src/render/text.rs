//! Drawing for legends: an RGBA canvas with anti-aliased text and shapes.
//!
//! Text is DejaVu Sans, embedded in the binary (`assets/fonts/`, Bitstream Vera licence),
//! rasterised by `ab_glyph` with coverage anti-aliasing, so legends read the same on every
//! machine with no font installed. Characters the font lacks are drawn as its missing-glyph
//! box, never dropped.

use std::sync::OnceLock;

use ab_glyph::{point, Font, FontRef, PxScale, ScaleFont};

use crate::render::palette::Rgba;

static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

fn font() -> &'static FontRef<'static> {
    static FONT: OnceLock<FontRef<'static>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(FONT_BYTES).expect("the embedded font parses"))
}

/// Width in pixels of `text` at `px` pixels per em, kerning included.
pub fn width(text: &str, px: f32) -> f32 {
    let f = font().as_scaled(PxScale::from(px));
    let mut w = 0.0;
    let mut last = None;
    for c in text.chars() {
        let id = f.glyph_id(c);
        if let Some(prev) = last {
            w += f.kern(prev, id);
        }
        w += f.h_advance(id);
        last = Some(id);
    }
    w
}

/// Height of a line of text at `px`: ascent, descent and gap.
pub fn line_height(px: f32) -> f32 {
    let f = font().as_scaled(PxScale::from(px));
    f.ascent() - f.descent() + f.line_gap()
}

/// Ascent above the baseline at `px`.
pub fn ascent(px: f32) -> f32 {
    font().as_scaled(PxScale::from(px)).ascent()
}

/// An RGBA image being drawn on, opaque white to start.
pub struct Canvas {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<u8>,
}

impl Canvas {
    pub fn new(width: usize, height: usize) -> Canvas {
        Canvas {
            width,
            height,
            pixels: vec![255; width * height * 4],
        }
    }

    /// Sets a pixel; outside the canvas nothing happens.
    pub fn put(&mut self, x: usize, y: usize, c: Rgba) {
        if x < self.width && y < self.height {
            let k = (y * self.width + x) * 4;
            self.pixels[k..k + 4].copy_from_slice(&c);
        }
    }

    /// Mixes colour `c` into a pixel with weight `cover` in [0, 1].
    pub fn blend(&mut self, x: i64, y: i64, c: Rgba, cover: f32) {
        if x < 0 || y < 0 || x as usize >= self.width || y as usize >= self.height {
            return;
        }
        let a = (cover.clamp(0.0, 1.0) * c[3] as f32 / 255.0) as f64;
        let k = (y as usize * self.width + x as usize) * 4;
        for (px, &new) in self.pixels[k..k + 3].iter_mut().zip(&c[..3]) {
            let old = *px as f64;
            *px = (old + (new as f64 - old) * a).round() as u8;
        }
        self.pixels[k + 3] = 255;
    }

    /// Draws `text` with its baseline starting at (`x`, `baseline`).
    pub fn text(&mut self, text: &str, x: f32, baseline: f32, px: f32, c: Rgba) {
        let scale = PxScale::from(px);
        let f = font().as_scaled(scale);
        let mut pen = x;
        let mut last = None;
        for ch in text.chars() {
            let id = f.glyph_id(ch);
            if let Some(prev) = last {
                pen += f.kern(prev, id);
            }
            let glyph = id.with_scale_and_position(scale, point(pen, baseline));
            if let Some(outline) = font().outline_glyph(glyph) {
                let b = outline.px_bounds();
                outline.draw(|gx, gy, cover| {
                    self.blend(
                        b.min.x as i64 + gx as i64,
                        b.min.y as i64 + gy as i64,
                        c,
                        cover,
                    )
                });
            }
            pen += f.h_advance(id);
            last = Some(id);
        }
    }

    /// Fills a triangle, anti-aliased by 4×4 samples per pixel.
    pub fn triangle(&mut self, p: [(f32, f32); 3], c: Rgba) {
        let xs = p.map(|q| q.0);
        let ys = p.map(|q| q.1);
        let (x0, x1) = (min3(xs).floor() as i64, max3(xs).ceil() as i64);
        let (y0, y1) = (min3(ys).floor() as i64, max3(ys).ceil() as i64);
        let edge = |a: (f32, f32), b: (f32, f32), x: f32, y: f32| {
            (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0)
        };
        let area = edge(p[0], p[1], p[2].0, p[2].1);
        if area == 0.0 {
            return;
        }
        for y in y0..y1 {
            for x in x0..x1 {
                let mut inside = 0;
                for sy in 0..4 {
                    for sx in 0..4 {
                        let (fx, fy) = (
                            x as f32 + (sx as f32 + 0.5) / 4.0,
                            y as f32 + (sy as f32 + 0.5) / 4.0,
                        );
                        let w = [
                            edge(p[1], p[2], fx, fy),
                            edge(p[2], p[0], fx, fy),
                            edge(p[0], p[1], fx, fy),
                        ];
                        if w.iter().all(|w| w * area.signum() >= 0.0) {
                            inside += 1;
                        }
                    }
                }
                if inside > 0 {
                    self.blend(x, y, c, inside as f32 / 16.0);
                }
            }
        }
    }

    pub fn png(&self) -> crate::error::Result<Vec<u8>> {
        crate::render::encode::rgba_png(self.width, self.height, &self.pixels)
    }
}

fn min3(v: [f32; 3]) -> f32 {
    v[0].min(v[1]).min(v[2])
}

fn max3(v: [f32; 3]) -> f32 {
    v[0].max(v[1]).max(v[2])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_has_a_width_and_anti_aliased_edges() {
        assert!(width("Temperature (°C)", 14.0) > width("Temperature", 14.0));
        assert!(width("m s⁻¹", 14.0) > 0.0);
        let mut c = Canvas::new(200, 30);
        c.text("Pressure (hPa)", 2.0, 20.0, 14.0, [0, 0, 0, 255]);
        let greys = c
            .pixels
            .chunks(4)
            .filter(|p| p[0] > 30 && p[0] < 225)
            .count();
        let black = c.pixels.chunks(4).filter(|p| p[0] <= 30).count();
        assert!(
            greys > 20 && black > 20,
            "{greys} grey, {black} black pixels"
        );
    }
}
