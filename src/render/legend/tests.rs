use super::*;
use crate::render::units::Display;

fn decode(png_bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut r = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; r.output_buffer_size().unwrap()];
    let info = r.next_frame(&mut buf).unwrap();
    buf.truncate(info.buffer_size());
    (info.width as usize, info.height as usize, buf)
}

fn temperature(extend: Extend) -> (Legend, ColourTable, Palette) {
    let palette = Palette::builtin("temperature").unwrap();
    let table = ColourTable::new(&palette, 223.15, 323.15);
    let legend = Legend {
        name: "2 metre temperature".into(),
        level: Some("2 m above ground".into()),
        units: "K".into(),
        display: Display::between("K", "°C").unwrap(),
        extend,
        range_source: RangeSource::Quantity,
        quantity: Some("air_temperature".into()),
    };
    (legend, table, palette)
}

#[test]
fn nice_ticks() {
    assert_eq!(
        ticks(223.15, 323.15, 5),
        vec![240.0, 260.0, 280.0, 300.0, 320.0]
    );
    assert_eq!(ticks(0.0, 50.0, 5), vec![0.0, 10.0, 20.0, 30.0, 40.0, 50.0]);
    // Both ends when a nice step fits them.
    assert_eq!(ticks(-50.0, 50.0, 5), vec![-50.0, -25.0, 0.0, 25.0, 50.0]);
    assert_eq!(ticks(-30.0, 30.0, 5).len(), 7);
    assert_eq!(
        ticks(960.0, 1040.0, 5),
        vec![960.0, 980.0, 1000.0, 1020.0, 1040.0]
    );
    assert_eq!(ticks(-90.0, -10.0, 5), vec![-80.0, -60.0, -40.0, -20.0]);
    assert_eq!(label(0.30000000000000004), "0.3");
    assert_eq!(label(101325.0), "101325");
    assert_eq!(label(1.5e-4), "1.5e-4");
    assert_eq!(label(1e-4), "1e-4");
    assert_eq!(label(-5e-5), "-5e-5");
    assert_eq!(label(2.5e7), "2.5e7");
}

#[test]
fn the_json_gives_display_units_and_the_conversion() {
    let (legend, table, palette) = temperature(Extend::Both);
    let j = serde_json::to_value(legend.json(&palette, &table)).unwrap();
    assert_eq!(j["title"], "2 metre temperature, 2 m above ground (°C)");
    assert_eq!(j["units"], "K");
    assert_eq!(j["range"], serde_json::json!([223.15, 323.15]));
    assert_eq!(j["display"]["units"], "°C");
    assert_eq!(j["display"]["scale"], 1.0);
    assert_eq!(j["display"]["offset"], -273.15);
    assert_eq!(j["display"]["range"], serde_json::json!([-50.0, 50.0]));
    assert_eq!(
        j["display"]["ticks"],
        serde_json::json!([-50.0, -25.0, 0.0, 25.0, 50.0])
    );
    // The same ticks in data units, without binary noise.
    assert_eq!(
        j["ticks"],
        serde_json::json!([223.15, 248.15, 273.15, 298.15, 323.15])
    );
    assert_eq!(j["extend"], "both");
    assert_eq!(j["range_source"], "quantity");
    assert_eq!(j["quantity"], "air_temperature");
    assert_eq!(j["level"], "2 m above ground");
    assert_eq!(j["stops"][0]["value"], 223.15);
}

#[test]
fn the_png_is_wider_than_its_title_and_anti_aliased() {
    let (legend, table, _) = temperature(Extend::Both);
    let (w, h, px) = decode(&legend.png(&table).unwrap());
    let title = legend.title();
    assert!(w as f32 >= text::width(&title, TITLE_PX) + 2.0 * PAD, "{w}");
    assert!(h >= 50);
    // Text pixels: pure ink and intermediate greys at glyph edges.
    let title_rows = &px[..w * 4 * (PAD as usize + 14)];
    let grey = title_rows
        .chunks(4)
        .filter(|p| p[0] == p[1] && p[1] == p[2] && p[0] > 60 && p[0] < 220)
        .count();
    assert!(grey > 30, "{grey} intermediate grey pixels");
}

#[test]
fn a_long_title_wraps_and_nothing_is_cut() {
    let (mut legend, table, _) = temperature(Extend::Neither);
    legend.name = "Maximum of the hourly averaged upward long-wave radiation flux \
                   at the nominal top of the atmosphere in clear sky conditions"
        .into();
    let (short_w, short_h, _) = decode(&temperature(Extend::Neither).0.png(&table).unwrap());
    let (w, h, _) = decode(&legend.png(&table).unwrap());
    let title = legend.title();
    assert!(text::width(&title, TITLE_PX) > w as f32, "the title wraps");
    assert!(h > short_h, "{h} <= {short_h}");
    assert!(w >= short_w);
    let lines = wrap(&title, TITLE_PX, w as f32 - 2.0 * PAD);
    assert_eq!(lines.join(" "), title, "every word is kept");
    assert!(lines
        .iter()
        .all(|l| text::width(l, TITLE_PX) <= w as f32 - 2.0 * PAD));
    // One word longer than any line widens the image.
    legend.name = "x".repeat(90);
    let (w, _, _) = decode(&legend.png(&table).unwrap());
    assert!(w as f32 >= text::width(&"x".repeat(90), TITLE_PX) + 2.0 * PAD);
}

#[test]
fn extend_arrows_are_drawn_only_where_asked() {
    let (legend, table, _) = temperature(Extend::Max);
    let png_bytes = legend.png(&table).unwrap();
    let (w, _, px) = decode(&png_bytes);
    let layout = Layout::new(&legend.title(), legend.display_range(&table));
    let y = ((layout.bar_y0 + layout.bar_y1) / 2.0) as usize;
    let at = |x: f32| {
        let k = (y * w + x as usize) * 4;
        [px[k], px[k + 1], px[k + 2]]
    };
    // Left of the bar: background; right of it: the arrow in the last colour.
    assert_eq!(at(layout.bar_x0 - 6.0), [255, 255, 255]);
    let right = at(layout.bar_x1 + 5.0);
    assert_ne!(right, [255, 255, 255]);
    assert!(right[0] > right[2], "a warm colour: {right:?}");
}

#[test]
fn tick_labels_stay_inside_and_apart() {
    for range in [
        (0.0, 1e6),
        (-123456.0, 987654.0),
        (0.001, 0.002),
        (960.0, 1040.0),
    ] {
        let l = labels(range, 26.0, 334.0, 360.0);
        assert!(!l.is_empty());
        for w in l.windows(2) {
            let end = w[0].2 + text::width(&w[0].1, TICK_PX);
            assert!(w[1].2 >= end + 8.0, "{range:?}: {:?}", l);
        }
        let last = l.last().unwrap();
        assert!(last.2 + text::width(&last.1, TICK_PX) <= 360.0, "{range:?}");
        assert!(l[0].2 >= 0.0);
    }
}
