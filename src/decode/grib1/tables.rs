//! GRIB1 parameter names: code table 2 by table version and centre.
//!
//! * Table versions below 128 use WMO code table 2 for parameters 1-127, with NCEP's
//!   abbreviations (ON388 table 2) as short names, lower-cased as tilecast writes GRIB2 short
//!   names (`tmp`, `ugrd`, `apcp`), so a quantity has one name in both editions. Parameters
//!   128-254 are local: NCEP's (centre 7) common entries are listed.
//! * ECMWF's local tables (version 128 and above from centre 98, or subcentre 98) use
//!   ecCodes' short names, names and units (`2t` "2 metre temperature" K): the common entries
//!   of tables 128, 140, 162 and 228.
//! * Anything else is `param<table>.<number>`, named by its numbers, with unknown units.
//!
//! Units are spelled the way tilecast spells GRIB2 units ("m s-1", "kg m-2", "(0 - 1)").

use super::product::Pds;

/// Short name, name, units.
type Entry = (&'static str, &'static str, &'static str);

/// WMO code table 2, parameters 1 to 127 in order, with NCEP abbreviations.
#[rustfmt::skip]
const WMO: [Entry; 127] = [
    ("PRES", "Pressure", "Pa"),
    ("PRMSL", "Pressure reduced to MSL", "Pa"),
    ("PTEND", "Pressure tendency", "Pa s-1"),
    ("PVORT", "Potential vorticity", "K m2 kg-1 s-1"),
    ("ICAHT", "ICAO standard atmosphere reference height", "m"),
    ("GP", "Geopotential", "m2 s-2"),
    ("HGT", "Geopotential height", "gpm"),
    ("DIST", "Geometric height", "m"),
    ("HSTDV", "Standard deviation of height", "m"),
    ("TOZNE", "Total ozone", "Dobson"),
    ("TMP", "Temperature", "K"),
    ("VTMP", "Virtual temperature", "K"),
    ("POT", "Potential temperature", "K"),
    ("EPOT", "Pseudo-adiabatic potential temperature", "K"),
    ("TMAX", "Maximum temperature", "K"),
    ("TMIN", "Minimum temperature", "K"),
    ("DPT", "Dew point temperature", "K"),
    ("DEPR", "Dew point depression", "K"),
    ("LAPR", "Lapse rate", "K m-1"),
    ("VIS", "Visibility", "m"),
    ("RDSP1", "Radar spectra (1)", "1"),
    ("RDSP2", "Radar spectra (2)", "1"),
    ("RDSP3", "Radar spectra (3)", "1"),
    ("PLI", "Parcel lifted index (to 500 hPa)", "K"),
    ("TMPA", "Temperature anomaly", "K"),
    ("PRESA", "Pressure anomaly", "Pa"),
    ("GPA", "Geopotential height anomaly", "gpm"),
    ("WVSP1", "Wave spectra (1)", "1"),
    ("WVSP2", "Wave spectra (2)", "1"),
    ("WVSP3", "Wave spectra (3)", "1"),
    ("WDIR", "Wind direction", "degree true"),
    ("WIND", "Wind speed", "m s-1"),
    ("UGRD", "U-component of wind", "m s-1"),
    ("VGRD", "V-component of wind", "m s-1"),
    ("STRM", "Stream function", "m2 s-1"),
    ("VPOT", "Velocity potential", "m2 s-1"),
    ("MNTSF", "Montgomery stream function", "m2 s-2"),
    ("SGCVV", "Sigma coordinate vertical velocity", "s-1"),
    ("VVEL", "Vertical velocity (pressure)", "Pa s-1"),
    ("DZDT", "Vertical velocity (geometric)", "m s-1"),
    ("ABSV", "Absolute vorticity", "s-1"),
    ("ABSD", "Absolute divergence", "s-1"),
    ("RELV", "Relative vorticity", "s-1"),
    ("RELD", "Relative divergence", "s-1"),
    ("VUCSH", "Vertical u-component shear", "s-1"),
    ("VVCSH", "Vertical v-component shear", "s-1"),
    ("DIRC", "Direction of current", "degree true"),
    ("SPC", "Speed of current", "m s-1"),
    ("UOGRD", "U-component of current", "m s-1"),
    ("VOGRD", "V-component of current", "m s-1"),
    ("SPFH", "Specific humidity", "kg kg-1"),
    ("RH", "Relative humidity", "%"),
    ("MIXR", "Humidity mixing ratio", "kg kg-1"),
    ("PWAT", "Precipitable water", "kg m-2"),
    ("VAPP", "Vapour pressure", "Pa"),
    ("SATD", "Saturation deficit", "Pa"),
    ("EVP", "Evaporation", "kg m-2"),
    ("CICE", "Cloud ice", "kg m-2"),
    ("PRATE", "Precipitation rate", "kg m-2 s-1"),
    ("TSTM", "Thunderstorm probability", "%"),
    ("APCP", "Total precipitation", "kg m-2"),
    ("NCPCP", "Large scale precipitation", "kg m-2"),
    ("ACPCP", "Convective precipitation", "kg m-2"),
    ("SRWEQ", "Snowfall rate water equivalent", "kg m-2 s-1"),
    ("WEASD", "Water equivalent of accumulated snow depth", "kg m-2"),
    ("SNOD", "Snow depth", "m"),
    ("MIXHT", "Mixed layer depth", "m"),
    ("TTHDP", "Transient thermocline depth", "m"),
    ("MTHD", "Main thermocline depth", "m"),
    ("MTHA", "Main thermocline anomaly", "m"),
    ("TCDC", "Total cloud cover", "%"),
    ("CDCON", "Convective cloud cover", "%"),
    ("LCDC", "Low cloud cover", "%"),
    ("MCDC", "Medium cloud cover", "%"),
    ("HCDC", "High cloud cover", "%"),
    ("CWAT", "Cloud water", "kg m-2"),
    ("BLI", "Best lifted index (to 500 hPa)", "K"),
    ("SNOC", "Convective snow", "kg m-2"),
    ("SNOL", "Large scale snow", "kg m-2"),
    ("WTMP", "Water temperature", "K"),
    ("LAND", "Land cover (1 = land, 0 = sea)", "(0 - 1)"),
    ("DSLM", "Deviation of sea level from mean", "m"),
    ("SFCR", "Surface roughness", "m"),
    ("ALBDO", "Albedo", "%"),
    ("TSOIL", "Soil temperature", "K"),
    ("SOILM", "Soil moisture content", "kg m-2"),
    ("VEG", "Vegetation", "%"),
    ("SALTY", "Salinity", "kg kg-1"),
    ("DEN", "Density", "kg m-3"),
    ("WATR", "Water run-off", "kg m-2"),
    ("ICEC", "Ice cover (1 = ice, 0 = no ice)", "(0 - 1)"),
    ("ICETK", "Ice thickness", "m"),
    ("DICED", "Direction of ice drift", "degree true"),
    ("SICED", "Speed of ice drift", "m s-1"),
    ("UICE", "U-component of ice drift", "m s-1"),
    ("VICE", "V-component of ice drift", "m s-1"),
    ("ICEG", "Ice growth rate", "m s-1"),
    ("ICED", "Ice divergence", "s-1"),
    ("SNOM", "Snow melt", "kg m-2"),
    ("HTSGW", "Significant height of combined wind waves and swell", "m"),
    ("WVDIR", "Direction of wind waves", "degree true"),
    ("WVHGT", "Significant height of wind waves", "m"),
    ("WVPER", "Mean period of wind waves", "s"),
    ("SWDIR", "Direction of swell waves", "degree true"),
    ("SWELL", "Significant height of swell waves", "m"),
    ("SWPER", "Mean period of swell waves", "s"),
    ("DIRPW", "Primary wave direction", "degree true"),
    ("PERPW", "Primary wave mean period", "s"),
    ("DIRSW", "Secondary wave direction", "degree true"),
    ("PERSW", "Secondary wave mean period", "s"),
    ("NSWRS", "Net short-wave radiation flux (surface)", "W m-2"),
    ("NLWRS", "Net long-wave radiation flux (surface)", "W m-2"),
    ("NSWRT", "Net short-wave radiation flux (top of atmosphere)", "W m-2"),
    ("NLWRT", "Net long-wave radiation flux (top of atmosphere)", "W m-2"),
    ("LWAVR", "Long-wave radiation flux", "W m-2"),
    ("SWAVR", "Short-wave radiation flux", "W m-2"),
    ("GRAD", "Global radiation flux", "W m-2"),
    ("BRTMP", "Brightness temperature", "K"),
    ("LWRAD", "Radiance (with respect to wave number)", "W m-1 sr-1"),
    ("SWRAD", "Radiance (with respect to wave length)", "W m-3 sr-1"),
    ("LHTFL", "Latent heat net flux", "W m-2"),
    ("SHTFL", "Sensible heat net flux", "W m-2"),
    ("BLYDP", "Boundary layer dissipation", "W m-2"),
    ("UFLX", "Momentum flux, u-component", "N m-2"),
    ("VFLX", "Momentum flux, v-component", "N m-2"),
    ("WMIXE", "Wind mixing energy", "J"),
    ("IMGD", "Image data", "1"),
];

/// NCEP's local entries of table 2 (centre 7, versions below 128), the common ones.
#[rustfmt::skip]
const NCEP: &[(u8, Entry)] = &[
    (130, ("MSLET", "Mean sea level pressure (NAM model reduction)", "Pa")),
    (131, ("LFTX", "Surface lifted index", "K")),
    (132, ("4LFTX", "Best (4-layer) lifted index", "K")),
    (140, ("CRAIN", "Categorical rain", "(0 - 1)")),
    (141, ("CFRZR", "Categorical freezing rain", "(0 - 1)")),
    (142, ("CICEP", "Categorical ice pellets", "(0 - 1)")),
    (143, ("CSNOW", "Categorical snow", "(0 - 1)")),
    (144, ("SOILW", "Volumetric soil moisture content", "(0 - 1)")),
    (153, ("CLWMR", "Cloud mixing ratio", "kg kg-1")),
    (154, ("O3MR", "Ozone mixing ratio", "kg kg-1")),
    (155, ("GFLUX", "Ground heat flux", "W m-2")),
    (156, ("CIN", "Convective inhibition", "J kg-1")),
    (157, ("CAPE", "Convective available potential energy", "J kg-1")),
    (158, ("TKE", "Turbulent kinetic energy", "J kg-1")),
    (180, ("GUST", "Wind speed (gust)", "m s-1")),
    (190, ("HLCY", "Storm relative helicity", "m2 s-2")),
    (204, ("DSWRF", "Downward short-wave radiation flux", "W m-2")),
    (205, ("DLWRF", "Downward long-wave radiation flux", "W m-2")),
    (211, ("USWRF", "Upward short-wave radiation flux", "W m-2")),
    (212, ("ULWRF", "Upward long-wave radiation flux", "W m-2")),
    (214, ("CPRAT", "Convective precipitation rate", "kg m-2 s-1")),
    (221, ("HPBL", "Planetary boundary layer height", "m")),
    (223, ("CNWAT", "Plant canopy surface water", "kg m-2")),
    (238, ("SNOWC", "Snow cover", "%")),
];

/// ECMWF local tables (version, parameter): ecCodes' short name, name and units.
#[rustfmt::skip]
const ECMWF: &[(u8, u8, Entry)] = &[
    (128, 3, ("pt", "Potential temperature", "K")),
    (128, 8, ("sro", "Surface runoff", "m")),
    (128, 10, ("ws", "Wind speed", "m s-1")),
    (128, 31, ("ci", "Sea ice area fraction", "(0 - 1)")),
    (128, 34, ("sst", "Sea surface temperature", "K")),
    (128, 39, ("swvl1", "Volumetric soil water layer 1", "m3 m-3")),
    (128, 40, ("swvl2", "Volumetric soil water layer 2", "m3 m-3")),
    (128, 41, ("swvl3", "Volumetric soil water layer 3", "m3 m-3")),
    (128, 42, ("swvl4", "Volumetric soil water layer 4", "m3 m-3")),
    (128, 49, ("10fg", "10 metre wind gust since previous post-processing", "m s-1")),
    (128, 54, ("pres", "Pressure", "Pa")),
    (128, 59, ("cape", "Convective available potential energy", "J kg-1")),
    (128, 60, ("pv", "Potential vorticity", "K m2 kg-1 s-1")),
    (128, 75, ("crwc", "Specific rain water content", "kg kg-1")),
    (128, 76, ("cswc", "Specific snow water content", "kg kg-1")),
    (128, 78, ("tclw", "Total column cloud liquid water", "kg m-2")),
    (128, 79, ("tciw", "Total column cloud ice water", "kg m-2")),
    (128, 129, ("z", "Geopotential", "m2 s-2")),
    (128, 130, ("t", "Temperature", "K")),
    (128, 131, ("u", "U component of wind", "m s-1")),
    (128, 132, ("v", "V component of wind", "m s-1")),
    (128, 133, ("q", "Specific humidity", "kg kg-1")),
    (128, 134, ("sp", "Surface pressure", "Pa")),
    (128, 135, ("w", "Vertical velocity", "Pa s-1")),
    (128, 136, ("tcw", "Total column water", "kg m-2")),
    (128, 137, ("tcwv", "Total column water vapour", "kg m-2")),
    (128, 138, ("vo", "Vorticity (relative)", "s-1")),
    (128, 139, ("stl1", "Soil temperature level 1", "K")),
    (128, 141, ("sd", "Snow depth", "m")),
    (128, 142, ("lsp", "Large-scale precipitation", "m")),
    (128, 143, ("cp", "Convective precipitation", "m")),
    (128, 144, ("sf", "Snowfall", "m")),
    (128, 146, ("sshf", "Surface sensible heat flux", "J m-2")),
    (128, 147, ("slhf", "Surface latent heat flux", "J m-2")),
    (128, 151, ("msl", "Mean sea level pressure", "Pa")),
    (128, 152, ("lnsp", "Logarithm of surface pressure", "1")),
    (128, 155, ("d", "Divergence", "s-1")),
    (128, 156, ("gh", "Geopotential height", "gpm")),
    (128, 157, ("r", "Relative humidity", "%")),
    (128, 159, ("blh", "Boundary layer height", "m")),
    (128, 164, ("tcc", "Total cloud cover", "(0 - 1)")),
    (128, 165, ("10u", "10 metre U wind component", "m s-1")),
    (128, 166, ("10v", "10 metre V wind component", "m s-1")),
    (128, 167, ("2t", "2 metre temperature", "K")),
    (128, 168, ("2d", "2 metre dewpoint temperature", "K")),
    (128, 169, ("ssrd", "Surface solar radiation downwards", "J m-2")),
    (128, 170, ("stl2", "Soil temperature level 2", "K")),
    (128, 172, ("lsm", "Land-sea mask", "(0 - 1)")),
    (128, 175, ("strd", "Surface thermal radiation downwards", "J m-2")),
    (128, 176, ("ssr", "Surface net solar radiation", "J m-2")),
    (128, 177, ("str", "Surface net thermal radiation", "J m-2")),
    (128, 178, ("tsr", "Top net solar radiation", "J m-2")),
    (128, 179, ("ttr", "Top net thermal radiation", "J m-2")),
    (128, 182, ("e", "Evaporation", "m")),
    (128, 183, ("stl3", "Soil temperature level 3", "K")),
    (128, 186, ("lcc", "Low cloud cover", "(0 - 1)")),
    (128, 187, ("mcc", "Medium cloud cover", "(0 - 1)")),
    (128, 188, ("hcc", "High cloud cover", "(0 - 1)")),
    (128, 189, ("sund", "Sunshine duration", "s")),
    (128, 201, ("mx2t", "Maximum temperature at 2 metres since previous post-processing", "K")),
    (128, 202, ("mn2t", "Minimum temperature at 2 metres since previous post-processing", "K")),
    (128, 203, ("o3", "Ozone mass mixing ratio", "kg kg-1")),
    (128, 205, ("ro", "Runoff", "m")),
    (128, 206, ("tco3", "Total column ozone", "kg m-2")),
    (128, 207, ("10si", "10 metre wind speed", "m s-1")),
    (128, 212, ("tisr", "TOA incident solar radiation", "J m-2")),
    (128, 228, ("tp", "Total precipitation", "m")),
    (128, 235, ("skt", "Skin temperature", "K")),
    (128, 236, ("stl4", "Soil temperature level 4", "K")),
    (128, 238, ("tsn", "Temperature of snow layer", "K")),
    (128, 246, ("clwc", "Specific cloud liquid water content", "kg kg-1")),
    (128, 247, ("ciwc", "Specific cloud ice water content", "kg kg-1")),
    (128, 248, ("cc", "Fraction of cloud cover", "(0 - 1)")),
    (140, 229, ("swh", "Significant height of combined wind waves and swell", "m")),
    (140, 230, ("mwd", "Mean wave direction", "degree true")),
    (140, 231, ("pp1d", "Peak wave period", "s")),
    (140, 232, ("mwp", "Mean wave period", "s")),
    (162, 51, ("vima", "Vertical integral of mass of atmosphere", "kg m-2")),
    (162, 71, ("viwve", "Vertical integral of eastward water vapour flux", "kg m-1 s-1")),
    (162, 72, ("viwvn", "Vertical integral of northward water vapour flux", "kg m-1 s-1")),
    (228, 1, ("cin", "Convective inhibition", "J kg-1")),
    (228, 3, ("zust", "Friction velocity", "m s-1")),
    (228, 23, ("cbh", "Cloud base height", "m")),
    (228, 24, ("deg0l", "0 degrees C isothermal level (atm)", "m")),
    (228, 29, ("i10fg", "Instantaneous 10 metre wind gust", "m s-1")),
    (228, 131, ("u10n", "Neutral wind at 10 m u-component", "m s-1")),
    (228, 132, ("v10n", "Neutral wind at 10 m v-component", "m s-1")),
    (228, 246, ("100u", "100 metre U wind component", "m s-1")),
    (228, 247, ("100v", "100 metre V wind component", "m s-1")),
];

/// Short name, name and units of the field's parameter (see the module docs).
pub fn parameter(p: &Pds) -> (String, String, String) {
    let n = p.parameter;
    let found: Option<(String, &str, &str)> = if p.ecmwf_table() {
        ECMWF
            .iter()
            .find(|(t, k, _)| *t == p.table && *k == n)
            .map(|(_, _, (s, name, u))| (s.to_string(), *name, *u))
    } else if p.table < 128 && (1..=127).contains(&n) {
        let (s, name, u) = WMO[n as usize - 1];
        Some((s.to_lowercase(), name, u))
    } else if p.table < 128 && p.centre == 7 {
        NCEP.iter()
            .find(|(k, _)| *k == n)
            .map(|(_, (s, name, u))| (s.to_lowercase(), *name, *u))
    } else {
        None
    };
    match found {
        Some((short, name, units)) => (short, name.to_string(), units.to_string()),
        None => (
            format!("param{}.{n}", p.table),
            format!(
                "parameter {n} of table 2 version {} (centre {})",
                p.table, p.centre
            ),
            "unknown".to_string(),
        ),
    }
}

/// Which wind component a parameter is, for pairing u with v.
pub fn wind_component(p: &Pds) -> Option<crate::decode::WindComponent> {
    use crate::decode::WindComponent::{U, V};
    match (p.ecmwf_table(), p.table, p.parameter) {
        (true, 128, 131 | 165) | (true, 228, 131 | 246) => Some(U),
        (true, 128, 132 | 166) | (true, 228, 132 | 247) => Some(V),
        (false, 0..=127, 33) => Some(U),
        (false, 0..=127, 34) => Some(V),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pds(centre: u8, table: u8, parameter: u8) -> Pds {
        let mut p = Pds::read(&super::super::sections::build::pds(0, parameter)).unwrap();
        p.centre = centre;
        p.table = table;
        p
    }

    #[test]
    fn names_follow_the_centre_and_table() {
        let name = |c, t, n| parameter(&pds(c, t, n));
        assert_eq!(
            name(98, 128, 167),
            ("2t".into(), "2 metre temperature".into(), "K".into())
        );
        assert_eq!(name(98, 128, 165).0, "10u");
        assert_eq!(name(98, 128, 228).2, "m");
        assert_eq!(name(7, 2, 33).0, "ugrd");
        assert_eq!(
            name(7, 2, 61),
            ("apcp".into(), "Total precipitation".into(), "kg m-2".into())
        );
        assert_eq!(name(54, 2, 11).0, "tmp");
        assert_eq!(name(7, 2, 157).0, "cape");
        assert_eq!(name(54, 2, 157).0, "param2.157");
        assert_eq!(name(98, 129, 167).0, "param129.167");
        assert_eq!(name(98, 128, 250).2, "unknown");
        // Every WMO entry has a short name and units.
        assert!(WMO
            .iter()
            .all(|(s, n, u)| !s.is_empty() && !n.is_empty() && !u.is_empty()));
    }

    #[test]
    fn wind_components_pair_in_both_table_families() {
        use crate::decode::WindComponent::{U, V};
        assert_eq!(wind_component(&pds(98, 128, 165)), Some(U));
        assert_eq!(wind_component(&pds(98, 128, 132)), Some(V));
        assert_eq!(wind_component(&pds(7, 2, 33)), Some(U));
        assert_eq!(wind_component(&pds(54, 3, 34)), Some(V));
        assert_eq!(wind_component(&pds(98, 128, 33)), None);
        assert_eq!(wind_component(&pds(7, 2, 32)), None);
    }
}
