//! Sampling a field onto its equirectangular image ([`Equirect`]): the grid's own values
//! where the pixels are its points, else a point sample (bilinear or nearest, as the
//! settings say) at each pixel's centre. Pixels are about as far apart as the points, so no
//! averaging is needed.

use rayon::prelude::*;

use super::Sampler;
use crate::geo::equirect::{Equirect, Placement};

impl Sampler {
    /// The field on the image's pixels, row-major from the north-west corner; NaN where
    /// missing or outside the grid.
    pub fn equirect(&self, e: &Equirect) -> Vec<f32> {
        let mut out = vec![f32::NAN; e.width * e.height];
        match &e.placement {
            Placement::Points { columns, rows } => {
                for (line, &j) in out.chunks_exact_mut(e.width).zip(rows) {
                    for (v, &i) in line.iter_mut().zip(columns) {
                        *v = self.value(i, j);
                    }
                }
            }
            Placement::Resampled => {
                out.par_chunks_exact_mut(e.width)
                    .enumerate()
                    .for_each(|(y, line)| {
                        let lat = e.lat(y);
                        for (x, v) in line.iter_mut().enumerate() {
                            *v = self.at(e.lon(x), lat);
                        }
                    });
            }
        }
        out
    }
}
