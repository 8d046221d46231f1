//! Hostile files made by the tests themselves: a tiny GRIB2 message declaring a huge grid,
//! and NetCDF4 headers declaring dimensions no memory could hold.

use std::path::Path;

use super::shared_samples;
use std::process::Command;

/// The 188-byte HRRR freezing-rain message (a constant field: 0 bits per value, so no data
/// bytes) with its grid declared as `n` × `n` points.
pub fn constant_field_declaring(n: u32) -> Vec<u8> {
    let mut b =
        std::fs::read(shared_samples().join("grib2/gribberish__hrrr.t06z.wrfsfcf01-CFRZR.grib2"))
            .unwrap();
    let be32 = |b: &[u8], at: usize| u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let mut at = 16;
    while &b[at..at + 4] != b"7777" {
        let (len, num) = (be32(&b, at), b[at + 4]);
        let points = n.saturating_mul(n).to_be_bytes();
        match num {
            3 => {
                b[at + 6..at + 10].copy_from_slice(&points);
                b[at + 30..at + 34].copy_from_slice(&n.to_be_bytes());
                b[at + 34..at + 38].copy_from_slice(&n.to_be_bytes());
            }
            5 => b[at + 5..at + 9].copy_from_slice(&points),
            _ => {}
        }
        at += len;
    }
    b
}

/// Writes NetCDF4 files of a few kilobytes with no data: `huge` declares a 100000 × 100000
/// grid on 1-D coordinates, `curvilinear` a 46000 × 46000 grid on 2-D ones.
pub fn huge_netcdf(huge: &Path, curvilinear: &Path) {
    let script = format!(
        r#"
import netCDF4
d = netCDF4.Dataset({huge:?}, "w", format="NETCDF4")
d.createDimension("lat", 100000); d.createDimension("lon", 100000)
la = d.createVariable("lat", "f8", ("lat",)); la.units = "degrees_north"
lo = d.createVariable("lon", "f8", ("lon",)); lo.units = "degrees_east"
t = d.createVariable("tas", "f4", ("lat", "lon")); t.units = "K"
d.close()
d = netCDF4.Dataset({curvilinear:?}, "w", format="NETCDF4")
d.createDimension("y", 46000); d.createDimension("x", 46000)
la = d.createVariable("lat", "f8", ("y", "x")); la.units = "degrees_north"
lo = d.createVariable("lon", "f8", ("y", "x")); lo.units = "degrees_east"
t = d.createVariable("tas", "f4", ("y", "x")); t.units = "K"; t.coordinates = "lat lon"
d.close()
"#,
        huge = huge.to_str().unwrap(),
        curvilinear = curvilinear.to_str().unwrap(),
    );
    let python = std::env::var("TILECAST_PYTHON").unwrap_or_else(|_| "python3".into());
    let st = Command::new(python)
        .arg("-c")
        .arg(&script)
        .status()
        .unwrap();
    assert!(st.success(), "netCDF4-python (TILECAST_PYTHON) is needed");
    assert!(std::fs::metadata(huge).unwrap().len() < 64 * 1024);
}
