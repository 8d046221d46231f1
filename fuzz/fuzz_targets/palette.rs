//! Palette JSON (`Palette::from_json`), and for any palette that parses, the 256-entry
//! colour table tiles are coloured with and a few lookups in it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use tilecast::render::palette::{ColourTable, Palette};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(p) = Palette::from_json(text, "fuzz") {
        let [min, max] = p.default_range.unwrap_or([0.0, 1.0]);
        let table = ColourTable::new(&p, min, max);
        for v in [
            f32::NAN,
            f32::NEG_INFINITY,
            min as f32,
            0.5,
            max as f32,
            f32::MAX,
        ] {
            std::hint::black_box(table.colour(v));
        }
    }
});
