//! Ceilings on what a file, a message or a flag may make tilecast allocate or do.
//!
//! Every allocation driven by a size an input *declares* (grid points, dimension lengths,
//! message lengths, tile counts) is checked against these before it is made, so a 188-byte
//! file that declares a 20000 × 20000 grid is a clear, permanent error instead of an abort.
//! The limits are process configuration, set once at start from the command line
//! ([`configure`]) and read wherever a declared size is met ([`get`]); the defaults fit a
//! 0.05° global field and a generous run.

use std::sync::atomic::{AtomicU64, Ordering};

/// The ceilings in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Grid points of one field (nx × ny). About 17 bytes of memory per point are needed
    /// to decode and render a field.
    pub max_field_points: u64,
    /// Tiles of one run's plan, all layers and zooms together.
    pub max_tiles: u64,
}

/// Default points per field: 30 million, a 0.05° global grid (7200 × 3601 = 25.9 M) fits;
/// about 0.5 GB to render.
pub const DEFAULT_MAX_FIELD_POINTS: u64 = 30_000_000;

/// Default tiles per run: two million (a whole 75-field global file to zoom 6 is 410 000).
pub const DEFAULT_MAX_TILES: u64 = 2_000_000;

/// Fields (2-D slices) one file may declare: each costs an inventory entry before anything
/// is decoded.
pub const MAX_FIELDS_PER_FILE: u64 = 200_000;

/// Bytes of a job or result message: a job with an inline palette is a few kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_field_points: DEFAULT_MAX_FIELD_POINTS,
            max_tiles: DEFAULT_MAX_TILES,
        }
    }
}

impl Limits {
    /// Largest GRIB message worth reading for a field within the point budget: 32 bits per
    /// value, a bitmap, and generous room for the other sections.
    pub fn max_message_bytes(&self) -> u64 {
        self.max_field_points
            .saturating_mul(4)
            .saturating_add(self.max_field_points / 8)
            .saturating_add(16 << 20)
    }
}

static MAX_FIELD_POINTS: AtomicU64 = AtomicU64::new(DEFAULT_MAX_FIELD_POINTS);
static MAX_TILES: AtomicU64 = AtomicU64::new(DEFAULT_MAX_TILES);

/// Sets the process's limits (the binary calls this once, from its flags).
pub fn configure(limits: Limits) {
    MAX_FIELD_POINTS.store(limits.max_field_points, Ordering::Relaxed);
    MAX_TILES.store(limits.max_tiles, Ordering::Relaxed);
}

/// The limits in force.
pub fn get() -> Limits {
    Limits {
        max_field_points: MAX_FIELD_POINTS.load(Ordering::Relaxed),
        max_tiles: MAX_TILES.load(Ordering::Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenth_of_a_degree_global_field_fits_the_default() {
        let points = 3600u64 * 1801;
        assert!(points <= Limits::default().max_field_points);
        assert!(Limits::default().max_message_bytes() > points * 4);
    }
}
