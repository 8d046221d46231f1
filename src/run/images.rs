//! A layer's whole-field images (`--images equirect`), written by its meta job: the field on
//! an equirectangular pixel grid ([`Equirect`]) as an 8-bit scalar image, and for a wind
//! layer the u/v pair as a two-channel vector image, both quantised as WeatherLayers GL reads
//! them ([`Unscale`]).
//!
//! A vector image needs earth-relative components: on a regular lat/lon grid the grid's
//! axes are east and north, elsewhere the file must say the components are earth-relative.
//! Grid-relative winds are not turned yet, so such a pair gets no vector image and its
//! manifest entry says why.

use crate::decode::WindFrame;
use crate::error::Result;
use crate::geo::equirect::Equirect;
use crate::geo::grid::{Grid, GridKind};
use crate::io::store::{PutMeta, Store};
use crate::render::encode::rgba_png;
use crate::render::resample::{Resample, Sampler};
use crate::render::unscale::Unscale;
use crate::run::manifest::ImageEntry;

/// The scalar image's file name in the layer's folder.
pub const IMAGE: &str = "image.png";
/// The vector image's file name in a wind layer's folder.
pub const VECTOR_IMAGE: &str = "vector_image.png";

/// The u and v values a wind layer was made from, kept for its vector image.
pub struct Components {
    pub u: Vec<f32>,
    pub v: Vec<f32>,
    /// The frames of u and v, as their files say.
    pub frames: [Option<WindFrame>; 2],
}

/// What a layer's images add to its manifest entry.
pub struct LayerImages {
    pub image: ImageEntry,
    pub vector_image: Option<ImageEntry>,
    pub vector_image_skipped: Option<String>,
    pub bytes: u64,
}

/// Writes `<run>/<layer>/image.png` and, for a wind layer with earth-relative components,
/// `<run>/<layer>/vector_image.png`. Writes may still be in flight on return.
pub fn write(
    sampler: &Sampler,
    components: Option<&Components>,
    method: Resample,
    prefix: &str,
    layer: &str,
    out: &dyn Store,
) -> Result<LayerImages> {
    let grid = sampler.grid();
    let e = Equirect::of(grid);
    let mut bytes = 0u64;
    let mut put = |name: &str, image_type: &str, unscale: Unscale, pixels: Vec<u8>| {
        let png = rgba_png(e.width, e.height, &pixels)?;
        bytes += png.len() as u64;
        out.put_async(&format!("{prefix}/{name}"), png, PutMeta::PNG)?;
        Ok::<_, crate::error::Error>(ImageEntry {
            url: format!("{layer}/{name}"),
            image_type: image_type.into(),
            image_unscale: [unscale.min, unscale.max],
            bounds: e.bounds(),
            width: e.width,
            height: e.height,
        })
    };
    let values = sampler.equirect(&e);
    let unscale = Unscale::scalar(&values);
    let image = put(IMAGE, "SCALAR", unscale, unscale.scalar_pixels(&values))?;
    let (mut vector_image, mut vector_image_skipped) = (None, None);
    if let Some(c) = components {
        match refusal(grid, c.frames) {
            Some(why) => vector_image_skipped = Some(why),
            None => {
                let u = Sampler::new(grid.clone(), c.u.clone(), method).equirect(&e);
                let v = Sampler::new(grid.clone(), c.v.clone(), method).equirect(&e);
                let unscale = Unscale::symmetric(&u, &v);
                let pixels = unscale.vector_pixels(&u, &v);
                vector_image = Some(put(VECTOR_IMAGE, "VECTOR", unscale, pixels)?);
            }
        }
    }
    Ok(LayerImages {
        image,
        vector_image,
        vector_image_skipped,
        bytes,
    })
}

/// Why a u/v pair on `grid` gets no vector image, or `None` when its components are
/// earth-relative.
pub fn refusal(grid: &Grid, frames: [Option<WindFrame>; 2]) -> Option<String> {
    if matches!(grid.kind, GridKind::LatLon { .. }) {
        return None;
    }
    match frames {
        [Some(WindFrame::Earth), Some(WindFrame::Earth)] => None,
        // Both grid-relative are turned before this (`geo::wind`); one alone cannot be.
        f if f.contains(&Some(WindFrame::Grid)) => Some(
            "u and v are in different frames (one grid-relative, the other not stated as \
             such); a vector image needs both components earth-relative or both grid-relative"
                .into(),
        ),
        _ => Some(
            "the file does not say whether u and v are earth-relative or grid-relative on \
             this projected grid; a vector image needs earth-relative components"
                .into(),
        ),
    }
}
