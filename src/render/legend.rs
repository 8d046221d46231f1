//! Legends: a colour bar with tick values in display units, extend arrows and a title that
//! names the field, its level and its units, as a PNG people look at and as JSON that web
//! clients draw their own from.
//!
//! Nothing that carries meaning is cut: a long title wraps onto more lines, a word too long
//! for any line widens the image, and tick labels are thinned (never clipped) until they fit.

use serde::Serialize;

use crate::error::Result;
use crate::render::palette::{hex, ColourTable, Palette, Rgba};
use crate::render::range::{nice_step, tidy as clean, Extend, RangeSource};
use crate::render::text::{self, Canvas};
use crate::render::units::Display;

const PAD: f32 = 10.0;
const TITLE_PX: f32 = 15.0;
const TICK_PX: f32 = 13.0;
const BAR_HEIGHT: f32 = 18.0;
const ARROW: f32 = 14.0;
const MIN_WIDTH: f32 = 360.0;
/// Widest a one-line title makes the image before it wraps.
const WRAP_WIDTH: f32 = 560.0;
/// Widest the image gets for a single long word.
const MAX_WIDTH: f32 = 1200.0;
const INK: Rgba = [30, 30, 30, 255];
const FRAME: Rgba = [60, 60, 60, 255];

/// What a legend says besides its colours.
#[derive(Debug, Clone)]
pub struct Legend {
    /// The field's name, e.g. "Temperature" ([`crate::render::names::field_name`]).
    pub name: String,
    /// The level in words, e.g. "500 hPa".
    pub level: Option<String>,
    /// The data's units.
    pub units: String,
    /// How values are shown.
    pub display: Display,
    pub extend: Extend,
    pub range_source: RangeSource,
    /// The quantity's key when known, e.g. `air_temperature`.
    pub quantity: Option<String>,
}

/// The legend's machine-readable form. `range`, `ticks` and `stops` are in the data's units
/// (`units`); `display` gives the same range and ticks as shown, with the conversion.
#[derive(Debug, Clone, Serialize)]
pub struct LegendJson {
    /// Name, level and display units, e.g. "Temperature, 2 m above ground (°C)".
    pub title: String,
    pub units: String,
    pub palette: String,
    pub range: [f64; 2],
    pub ticks: Vec<f64>,
    /// Colour stops in value units.
    pub stops: Vec<LegendStop>,
    pub name: String,
    pub level: Option<String>,
    pub display: DisplayJson,
    /// Ends of the range that values may pass: `neither`, `min`, `max` or `both`.
    pub extend: Extend,
    /// `settings`, `palette`, `quantity`, `data` or `series`.
    pub range_source: RangeSource,
    pub quantity: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LegendStop {
    pub value: f64,
    pub color: String,
}

/// Display units and conversion (`shown = value * scale + offset`), with the range and
/// ticks as shown.
#[derive(Debug, Clone, Serialize)]
pub struct DisplayJson {
    #[serde(flatten)]
    pub conversion: Display,
    pub range: [f64; 2],
    pub ticks: Vec<f64>,
}

/// "Nice" tick values (steps of 1, 2, 2.5 or 5 × 10^k) inside `[min, max]`, about
/// `target` of them; both ends of the range when a nice step fits them (-50, -25, ..., 50).
pub fn ticks(min: f64, max: f64, target: usize) -> Vec<f64> {
    if max.partial_cmp(&min) != Some(std::cmp::Ordering::Greater) {
        return vec![min];
    }
    let raw = (max - min) / target.max(1) as f64;
    let on_step = |v: f64, step: f64| ((v / step) - (v / step).round()).abs() < 1e-9;
    let mut step = nice_step(raw / 2.5);
    while step <= raw * 2.0 {
        let n = ((max - min) / step).round() as usize + 1;
        if on_step(min, step) && on_step(max, step) && n + 1 >= target && n <= target + 3 {
            return steps(min, max, step);
        }
        step = nice_step(step * 1.000_001);
    }
    steps(min, max, nice_step(raw))
}

/// Multiples of `step` inside `[min, max]`.
fn steps(min: f64, max: f64, step: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut k = (min / step - 1e-9).ceil();
    while k * step <= max + step * 1e-9 {
        // Round away binary noise such as 0.30000000000000004.
        out.push(clean(k * step) + 0.0);
        k += 1.0;
    }
    out
}

/// Formats a tick label compactly ("-40", "0.5", "1.5e-4").
pub fn label(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-3..1e6).contains(&a) {
        // As many mantissa digits as the value has (1.5e-4, not 2e-4), at most four.
        let e = format!("{v:.3e}");
        let (mantissa, exponent) = e.split_once('e').unwrap_or((&e, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exponent}");
    }
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

impl Legend {
    /// Name, level and display units: "Temperature, 500 hPa (°C)".
    pub fn title(&self) -> String {
        let units = self.display.units.trim();
        if units.is_empty() {
            self.heading()
        } else {
            format!("{} ({units})", self.heading())
        }
    }

    /// Name and level: "Temperature, 500 hPa".
    pub fn heading(&self) -> String {
        match &self.level {
            Some(l) => format!("{}, {l}", self.name),
            None => self.name.clone(),
        }
    }

    /// The colour range as shown.
    pub fn display_range(&self, table: &ColourTable) -> (f64, f64) {
        let (a, b) = (self.display.show(table.min), self.display.show(table.max));
        (clean(a.min(b)), clean(a.max(b)))
    }

    pub fn json(&self, palette: &Palette, table: &ColourTable) -> LegendJson {
        let (min, max) = (table.min, table.max);
        let (dmin, dmax) = self.display_range(table);
        let shown = ticks(dmin, dmax, 5);
        LegendJson {
            title: self.title(),
            units: self.units.clone(),
            palette: palette.name.clone(),
            range: [min, max],
            ticks: shown
                .iter()
                .map(|&t| clean(self.display.unshow(t)))
                .collect(),
            stops: palette
                .stops()
                .iter()
                .map(|(p, c)| LegendStop {
                    value: clean(min + p * (max - min)),
                    color: hex(*c),
                })
                .collect(),
            name: self.name.clone(),
            level: self.level.clone(),
            display: DisplayJson {
                conversion: self.display.clone(),
                range: [dmin, dmax],
                ticks: shown,
            },
            extend: self.extend,
            range_source: self.range_source,
            quantity: self.quantity.clone(),
        }
    }

    /// Draws the legend: the title (wrapped, never cut), the colour bar over a checkerboard
    /// (so transparent parts read as "no colour") with extend arrows, ticks and labels.
    pub fn png(&self, table: &ColourTable) -> Result<Vec<u8>> {
        let layout = Layout::new(&self.title(), self.display_range(table));
        let mut c = Canvas::new(layout.width, layout.height);
        let mut baseline = PAD + text::ascent(layout.title_px);
        for line in &layout.lines {
            c.text(line, PAD, baseline, layout.title_px, INK);
            baseline += text::line_height(layout.title_px);
        }
        self.bar(&mut c, &layout, table);
        let (dmin, dmax) = layout.range;
        let (x0, x1) = (layout.bar_x0, layout.bar_x1);
        let tick_y = layout.bar_y1;
        for (t, text, left) in &layout.labels {
            let x = x0 + ((t - dmin) / (dmax - dmin)) as f32 * (x1 - x0);
            for y in tick_y as usize..tick_y as usize + 5 {
                c.put(x.round().min(x1 - 1.0) as usize, y, FRAME);
            }
            c.text(text, *left, layout.label_baseline, TICK_PX, INK);
        }
        c.png()
    }

    fn bar(&self, c: &mut Canvas, l: &Layout, table: &ColourTable) {
        let (x0, x1) = (l.bar_x0 as usize, l.bar_x1 as usize);
        let (y0, y1) = (l.bar_y0 as usize, l.bar_y1 as usize);
        let (dmin, dmax) = l.range;
        let span = (x1 - x0 - 1).max(1) as f64;
        for x in x0..x1 {
            let shown = dmin + (x - x0) as f64 / span * (dmax - dmin);
            let colour = table.colour(self.display.unshow(shown) as f32);
            for y in y0..y1 {
                let checker = if ((x / 4) + (y / 4)) % 2 == 0 {
                    [255, 255, 255, 255]
                } else {
                    [205, 205, 205, 255]
                };
                c.put(x, y, checker);
                c.blend(x as i64, y as i64, colour, 1.0);
            }
        }
        for x in x0 - 1..=x1 {
            c.put(x, y0 - 1, FRAME);
            c.put(x, y1, FRAME);
        }
        for y in y0 - 1..=y1 {
            c.put(x0 - 1, y, FRAME);
            c.put(x1, y, FRAME);
        }
        let (top, bottom) = (l.bar_y0 - 1.0, l.bar_y1 + 1.0);
        let mid = (top + bottom) / 2.0;
        // Beyond the range: the colour values there get (the end colour, or the palette's
        // under/over colour).
        let below = table.colour((table.min - (table.max - table.min).abs() * 1e-6) as f32);
        let above = table.colour((table.max + (table.max - table.min).abs() * 1e-6) as f32);
        if self.extend.min() {
            let base = l.bar_x0 - 1.0;
            c.triangle([(base, top), (base, bottom), (base - ARROW, mid)], FRAME);
            c.triangle(
                [
                    (base, top + 1.5),
                    (base, bottom - 1.5),
                    (base - ARROW + 2.5, mid),
                ],
                opaque(below),
            );
        }
        if self.extend.max() {
            let base = l.bar_x1 + 1.0;
            c.triangle([(base, top), (base, bottom), (base + ARROW, mid)], FRAME);
            c.triangle(
                [
                    (base, top + 1.5),
                    (base, bottom - 1.5),
                    (base + ARROW - 2.5, mid),
                ],
                opaque(above),
            );
        }
    }
}

/// A colour over white, opaque (a transparent end colour still shows as a light arrow).
fn opaque(c: Rgba) -> Rgba {
    let a = c[3] as f32 / 255.0;
    let mix = |v: u8| (v as f32 * a + 255.0 * (1.0 - a)).round() as u8;
    [mix(c[0]), mix(c[1]), mix(c[2]), 255]
}

/// Where everything goes in the PNG.
struct Layout {
    width: usize,
    height: usize,
    title_px: f32,
    lines: Vec<String>,
    range: (f64, f64),
    bar_x0: f32,
    bar_x1: f32,
    bar_y0: f32,
    bar_y1: f32,
    label_baseline: f32,
    /// (tick value shown, label, label's left edge).
    labels: Vec<(f64, String, f32)>,
}

impl Layout {
    fn new(title: &str, range: (f64, f64)) -> Layout {
        let mut title_px = TITLE_PX;
        let widest_word = title
            .split_whitespace()
            .map(|w| text::width(w, title_px))
            .fold(0.0, f32::max);
        if widest_word + 2.0 * PAD > MAX_WIDTH {
            title_px *= (MAX_WIDTH - 2.0 * PAD) / widest_word;
        }
        let whole = text::width(title, title_px) + 2.0 * PAD;
        let width = if whole <= WRAP_WIDTH {
            whole.max(MIN_WIDTH)
        } else {
            (widest_word * title_px / TITLE_PX + 2.0 * PAD).clamp(WRAP_WIDTH, MAX_WIDTH)
        }
        .ceil();
        let lines = wrap(title, title_px, width - 2.0 * PAD);
        let bar_x0 = PAD + ARROW + 2.0;
        let bar_x1 = width - PAD - ARROW - 2.0;
        let bar_y0 = (PAD + lines.len() as f32 * text::line_height(title_px) + 6.0).round();
        let bar_y1 = bar_y0 + BAR_HEIGHT;
        let label_baseline = (bar_y1 + 7.0 + text::ascent(TICK_PX)).round();
        let height = (label_baseline + text::line_height(TICK_PX) - text::ascent(TICK_PX) + PAD
            - 4.0)
            .ceil();
        Layout {
            width: width as usize,
            height: height as usize,
            title_px,
            lines,
            range,
            bar_x0,
            bar_x1,
            bar_y0,
            bar_y1,
            label_baseline,
            labels: labels(range, bar_x0, bar_x1, width),
        }
    }
}

/// Tick labels centred under their ticks, kept inside the image; fewer ticks until no two
/// labels touch.
fn labels(range: (f64, f64), x0: f32, x1: f32, width: f32) -> Vec<(f64, String, f32)> {
    let (dmin, dmax) = range;
    let mut best = Vec::new();
    for target in [5, 4, 3, 2, 1] {
        let mut out: Vec<(f64, String, f32)> = Vec::new();
        let mut fits = true;
        for t in ticks(dmin, dmax, target) {
            let text = label(t).replace('-', "\u{2212}");
            let w = text::width(&text, TICK_PX);
            let x = x0 + ((t - dmin) / (dmax - dmin)) as f32 * (x1 - x0);
            let left = (x - w / 2.0).clamp(2.0, (width - w - 2.0).max(2.0));
            if let Some((_, prev, prev_left)) = out.last() {
                if left < prev_left + text::width(prev, TICK_PX) + 8.0 {
                    fits = false;
                }
            }
            out.push((t, text, left));
        }
        best = out;
        if fits {
            break;
        }
    }
    best
}

/// Words of `s` in lines no wider than `max` (a longer word gets a line of its own).
fn wrap(s: &str, px: f32, max: f32) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in s.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if line.is_empty() || text::width(&candidate, px) <= max {
            line = candidate;
        } else {
            lines.push(std::mem::take(&mut line));
            line = word.to_string();
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests;
