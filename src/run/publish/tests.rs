use super::*;
use crate::decode::{FieldSource, Level};
use crate::render::range::{Extend, RangeSource};
use crate::render::units::Display;

#[test]
fn base_urls_are_absolute_http_urls_kept_without_a_trailing_slash() {
    for (given, kept) in [
        (
            "https://tiles.example.com/weather/",
            "https://tiles.example.com/weather",
        ),
        (
            "HTTP://tiles.example.com:8080",
            "http://tiles.example.com:8080",
        ),
        ("https://[::1]:8443/a%20b//", "https://[::1]:8443/a%20b"),
        (
            "https://cdn.example/w;v=1/(x)",
            "https://cdn.example/w;v=1/(x)",
        ),
    ] {
        assert_eq!(BaseUrl::parse(given).map(String::from), Ok(kept.into()));
    }
    let long = format!("https://x/{}", "a".repeat(BaseUrl::MAX_BYTES));
    for bad in [
        "",
        "tiles.example.com/weather",
        "/srv/tiles",
        "ftp://tiles.example.com",
        "file:///srv/tiles",
        "https://",
        "https:///weather",
        "https://user:secret@tiles.example.com",
        "https://tiles.example.com/a b",
        "https://tiles.example.com/\"><script>",
        "https://tiles.example.com/?v=1",
        "https://tiles.example.com/#top",
        "https://tiles.example.com/%zz",
        "https://tiles.example.com/%2",
        long.as_str(),
    ] {
        let e = BaseUrl::parse(bad).unwrap_err();
        assert!(
            e.contains("absolute http:// or https:// URL"),
            "{bad:?}: {e}"
        );
    }
    let u = BaseUrl::parse("https://t.example/w/").unwrap();
    assert_eq!(
        u.join("r/l/legend.png"),
        "https://t.example/w/r/l/legend.png"
    );
    // Messages carry it as a string, validated and normalised when parsed.
    let back: BaseUrl = serde_json::from_str(r#""https://t.example/w/""#).unwrap();
    assert_eq!(back, u);
    assert_eq!(
        serde_json::to_string(&u).unwrap(),
        r#""https://t.example/w""#
    );
    assert!(serde_json::from_str::<BaseUrl>(r#""ftp://x""#).is_err());
}

#[test]
fn bounds_across_the_antimeridian_take_the_whole_longitude_range() {
    let wm = Tiling::WebMercator;
    // The AQM Alaska grid's extent: west > east.
    assert_eq!(
        client_bounds([150.1, 40.5, -93.6, 75.4], wm),
        [-180.0, 40.5, 180.0, 75.4]
    );
    assert_eq!(
        client_bounds([170.0, -10.0, -170.0, 10.0], Tiling::Geographic),
        [-180.0, -10.0, 180.0, 10.0]
    );
    // A regional extent is kept; one ending at the antimeridian (east normalised to -180)
    // does not cross it.
    assert_eq!(
        client_bounds([-130.0, 20.0, -60.0, 55.0], wm),
        [-130.0, 20.0, -60.0, 55.0]
    );
    assert_eq!(
        client_bounds([100.0, -10.0, -180.0, 10.0], wm),
        [100.0, -10.0, 180.0, 10.0]
    );
    assert_eq!(
        client_bounds([-180.0, -90.0, 180.0, 90.0], wm),
        [-180.0, -MERCATOR_MAX_LAT, 180.0, MERCATOR_MAX_LAT]
    );
}

#[test]
fn polar_bounds_are_clamped_to_the_tilings_latitudes() {
    let north_cap = [-180.0, 30.0, 180.0, 90.0];
    assert_eq!(
        client_bounds(north_cap, Tiling::WebMercator),
        [-180.0, 30.0, 180.0, MERCATOR_MAX_LAT]
    );
    assert_eq!(client_bounds(north_cap, Tiling::Geographic), north_cap);
    assert_eq!(
        client_bounds([-180.0, -90.0, 180.0, -60.0], Tiling::WebMercator),
        [-180.0, -MERCATOR_MAX_LAT, 180.0, -60.0]
    );
    // Entirely beyond the Mercator limit: a valid (degenerate) box, never south > north.
    let b = client_bounds([-10.0, 86.0, 10.0, 90.0], Tiling::WebMercator);
    assert!(b[1] <= b[3] && b[3] <= MERCATOR_MAX_LAT, "{b:?}");
    let b = client_bounds([f64::NAN, 0.0, 1.0, 1.0], Tiling::WebMercator);
    assert_eq!(b, [-180.0, -MERCATOR_MAX_LAT, 180.0, MERCATOR_MAX_LAT]);
}

fn info() -> FieldInfo {
    FieldInfo {
        index: 0,
        variable: "o3".into(),
        long_name: "ozone <b>&</b>".into(),
        units: "ppb".into(),
        standard_name: None,
        level: Level {
            kind: "surface".into(),
            value: None,
            units: None,
            label: "sfc".into(),
        },
        reference_time: None,
        valid_time: Some("2026-07-01T06:00:00Z".into()),
        nx: 2,
        ny: 2,
        grid: "polar_stereographic 2x2".into(),
        packing: "simple".into(),
        source: FieldSource::Grib2 {
            offset: 0,
            length: 1,
            sub_field: 0,
        },
        wind_component: None,
        wind_frame: None,
    }
}

fn docs(base: Option<&BaseUrl>, extent: [f64; 4]) -> (serde_json::Value, serde_json::Value) {
    let info = info();
    let data = DataEncoding::of(DataScale::for_range(-12.5, 80.0), "ppb");
    let legend = Legend {
        name: info.long_name.clone(),
        level: None,
        units: "ppb".into(),
        display: Display::identity("ppb"),
        extend: Extend::Max,
        range_source: RangeSource::Quantity,
        quantity: None,
    };
    let (colour, data) = LayerDocs {
        run: "0123456789abcdef",
        layer: "o3_sfc_20260701T0600Z",
        base_url: base,
        tiling: Tiling::WebMercator,
        minzoom: 2,
        maxzoom: 6,
        data_maxzoom: 4,
        bounds: extent,
        info: &info,
        range: [0.0, 120.0],
        data: &data,
        legend: &legend,
        format: crate::settings::OutputFormat::Dir,
    }
    .tilejsons();
    let v = |t: &TileJson| serde_json::to_value(t).unwrap();
    (v(&colour), v(&data))
}

#[test]
fn tile_urls_are_absolute_with_a_base_url_and_relative_to_the_document_without() {
    let base = BaseUrl::parse("https://t.example/w/").unwrap();
    let (c, d) = docs(Some(&base), [150.1, 40.5, -93.6, 75.4]);
    let layer = "https://t.example/w/0123456789abcdef/o3_sfc_20260701T0600Z";
    assert_eq!(
        c["tiles"],
        serde_json::json!([format!("{layer}/{{z}}/{{x}}/{{y}}.png")])
    );
    assert_eq!(
        d["tiles"],
        serde_json::json!([format!("{layer}/data/{{z}}/{{x}}/{{y}}.png")])
    );
    assert_eq!(
        (c["maxzoom"].as_u64(), d["maxzoom"].as_u64()),
        (Some(6), Some(4))
    );
    assert_eq!(
        (c["minzoom"].as_u64(), d["minzoom"].as_u64()),
        (Some(2), Some(2))
    );
    let legend = c["legend"].as_str().unwrap();
    assert_eq!(
        legend,
        format!(
            "ozone &lt;b&gt;&amp;&lt;/b&gt; (ppb): 0 to 120<br><img src=\"{layer}/legend.png\" \
             alt=\"ozone &lt;b&gt;&amp;&lt;/b&gt; legend\">"
        )
    );
    let (c, d) = docs(None, [150.1, 40.5, -93.6, 75.4]);
    assert_eq!(c["tiles"], serde_json::json!(["{z}/{x}/{y}.png"]));
    assert_eq!(d["tiles"], serde_json::json!(["{z}/{x}/{y}.png"]));
    assert_eq!(
        c["legend"],
        "ozone &lt;b&gt;&amp;&lt;/b&gt; (ppb): 0 to 120"
    );
    // Client-safe bounds, a centre inside them at the data, an integer zoom.
    assert_eq!(c["bounds"], serde_json::json!([-180.0, 40.5, 180.0, 75.4]));
    assert_eq!(c["center"], serde_json::json!([-151.75, 57.95, 2]));
    assert_eq!(d["bounds"], c["bounds"]);
}

#[test]
fn only_the_data_document_carries_the_encoding_under_maplibres_names() {
    let (c, d) = docs(None, [-130.0, 20.0, -60.0, 55.0]);
    for k in ["encoding", "redFactor", "data_encoding", "dem"] {
        assert!(c.get(k).is_none(), "{k} in the colour TileJSON");
    }
    // Codes 1..=65535 span the data range; code 0 (missing) is one step below the minimum.
    let scale = 92.5 / 65534.0;
    assert_eq!(d["encoding"], "custom");
    assert_eq!(d["redFactor"].as_f64(), Some(256.0 * scale));
    assert_eq!(d["greenFactor"].as_f64(), Some(scale));
    assert_eq!(d["blueFactor"].as_f64(), Some(scale / 256.0));
    assert_eq!(d["baseShift"].as_f64(), Some(-(-12.5 - scale)));
    assert_eq!(d["data_encoding"]["formula"], DATA_FORMULA);
    assert_eq!(d["data_encoding"]["offset"].as_f64(), Some(-12.5 - scale));
    assert_eq!(d["data_encoding"]["units"], "ppb");
    let zero = DemEncoding::of(&DataEncoding::of(
        DataScale {
            offset: 0.0,
            scale: 1.0,
        },
        "",
    ));
    assert_eq!(
        serde_json::to_value(zero).unwrap()["baseShift"].to_string(),
        "0.0"
    );
    assert_eq!(d["name"], "o3_sfc_20260701T0600Z (data)");
}

#[test]
fn maplibres_decoding_with_these_factors_is_the_data_formula() {
    for (min, max) in [
        (-12.5, 80.0),
        (101_000.0, 103_500.0),
        (5.0, 5.0),
        (0.0, 1e-6),
    ] {
        let scale = DataScale::for_range(min, max);
        let dem = DemEncoding::of(&DataEncoding::of(scale, ""));
        for code in (0..=u16::MAX).step_by(7).chain([u16::MAX]) {
            let (r, g) = ((code >> 8) as u8, (code & 0xff) as u8);
            let want = scale.value(code);
            let got = dem.decode(r, g, 0);
            let tol = 1e-9 * want.abs().max(scale.scale * 65535.0).max(1e-300);
            assert!(
                (got - want).abs() <= tol,
                "{min}..{max} code {code}: {got} != {want}"
            );
        }
    }
}
