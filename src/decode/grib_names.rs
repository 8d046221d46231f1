//! Parameter names for people. gribberish's `Parameter::name` runs a table entry's words
//! together ("pressurereducedmsl", "ozoneconcentration"); the same entry's description keeps
//! them ("pressure reduced to MSL"), so names come from the description, with the first
//! letter capitalised.

use gribberish::templates::product::parameters::{
    hydrology::HydrologyBasicProduct,
    land_surface::{FireWeatherProduct, SoilProduct, VegetationProduct},
    meteorological::*,
    mrms::*,
    oceanographic::*,
    space::SpaceNcepLocal,
};

/// The description of GRIB2 parameter (discipline, category, number) in gribberish's tables,
/// e.g. "Pressure reduced to MSL"; `None` for a category the tables lack.
pub fn description(discipline: u8, category: u8, number: u8) -> Option<String> {
    let n = number;
    let text = match (discipline, category) {
        (0, 0) => TemperatureProduct::from(n).to_string(),
        (0, 1) => MoistureProduct::from(n).to_string(),
        (0, 2) => MomentumProduct::from(n).to_string(),
        (0, 3) => MassProduct::from(n).to_string(),
        (0, 4) => ShortWaveRadiationProduct::from(n).to_string(),
        (0, 5) => LongWaveRadiationProduct::from(n).to_string(),
        (0, 6) => CloudProduct::from(n).to_string(),
        (0, 7) => ThermodynamicStabilityProduct::from(n).to_string(),
        (0, 13) => AerosolProduct::from(n).to_string(),
        (0, 14) => TraceGasesProduct::from(n).to_string(),
        (0, 15) => RadarProduct::from(n).to_string(),
        (0, 16) => ForecastRadarImagery::from(n).to_string(),
        (0, 17) => Electromagnetics::from(n).to_string(),
        (0, 19) => PhysicalAtmosphericProperties::from(n).to_string(),
        (0, 20) => AtmosphericChemicalConstituents::from(n).to_string(),
        (0, 191) => NcepMiscellaneous::from(n).to_string(),
        (1, 0) => HydrologyBasicProduct::from(n).to_string(),
        (2, 0) => VegetationProduct::from(n).to_string(),
        (2, 3) => SoilProduct::from(n).to_string(),
        (2, 4) => FireWeatherProduct::from(n).to_string(),
        (3, 192) => SpaceNcepLocal::from(n).to_string(),
        (10, 0) => WavesProduct::from(n).to_string(),
        (10, 1) => CurrentsProduct::from(n).to_string(),
        (10, 2) => IceProduct::from(n).to_string(),
        (10, 3) => SurfacePropertiesProduct::from(n).to_string(),
        (10, 4) => SubSurfacePropertiesProduct::from(n).to_string(),
        (209, 2) => MRMSLightningProduct::from(n).to_string(),
        (209, 3) => MRMSConvectionProduct::from(n).to_string(),
        (209, 6) => MRMSPrecipitationProduct::from(n).to_string(),
        (209, 10) => MRMSCompositeReflectivityProduct::from(n).to_string(),
        (209, 11) => MRMSMergedReflectivityProduct::from(n).to_string(),
        _ => return None,
    };
    let text = text.trim();
    let mut chars = text.chars();
    let first = chars.next()?;
    Some(first.to_uppercase().chain(chars).collect())
}

/// WMO code table 4.2-3-0 (space products, image format), which gribberish lacks: (short
/// name, name, units), the names and units the WMO table's. Satellite images on GRIB2 grids
/// (space view, or remapped to a model grid) carry these.
pub fn space_product(
    discipline: u8,
    category: u8,
    number: u8,
) -> Option<(&'static str, &'static str, &'static str)> {
    if (discipline, category) != (3, 0) {
        return None;
    }
    Some(match number {
        0 => ("srad", "Scaled radiance", "Numeric"),
        1 => ("salbedo", "Scaled albedo", "Numeric"),
        2 => ("sbtmp", "Scaled brightness temperature", "Numeric"),
        3 => ("spwat", "Scaled precipitable water", "Numeric"),
        4 => ("slfti", "Scaled lifted index", "Numeric"),
        5 => ("sctpres", "Scaled cloud top pressure", "Numeric"),
        6 => ("sstmp", "Scaled skin temperature", "Numeric"),
        7 => ("cmask", "Cloud mask", "Code table 4.217"),
        8 => ("pst", "Pixel scene type", "Code table 4.218"),
        9 => ("fde", "Fire detection indicator", "Code table 4.223"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::description;

    #[test]
    fn names_keep_their_spaces() {
        assert_eq!(description(0, 3, 1).unwrap(), "Pressure reduced to MSL");
        assert_eq!(description(0, 0, 0).unwrap(), "Temperature");
        assert_eq!(description(0, 2, 2).unwrap(), "U-component of wind speed");
        assert_eq!(description(0, 14, 193).unwrap(), "Ozone concentration");
        assert_eq!(description(0, 1, 8).unwrap(), "Total precipitation");
        assert_eq!(description(99, 0, 0), None);
    }
}
