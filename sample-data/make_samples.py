#!/usr/bin/env python3
"""Generate tilecast's small synthetic sample files (GRIB2 and NetCDF).

Every field written here is SYNTHETIC: built from simple formulas, a crude
hand-drawn continents mask and seeded noise. Nothing is a real observation,
analysis or forecast.

Usage:  python3 sample-data/make_samples.py
Needs:  pip install eccodes numpy netCDF4   (nothing else, no network)

The output is deterministic: fixed seeds, no timestamps, so re-running it
produces byte-identical files. Files are written next to this script:

  global_t2m.grib2    1.0 deg global lat/lon (0..359), N->S, simple packing
                      (16 bits, D=0, E=-9)
  global_uv10.grib2   2.0 deg global lat/lon (-180..178), u+v pair, complex
                      packing with spatial differencing (u 2nd order,
                      v 1st order)
  lambert_t850.grib2  Lambert conformal (template 3.30) CONUS-like, JPEG2000
                      (falls back to simple packing if the eccodes build
                      cannot write JPEG2000)
  sst_missing.grib2   2.0 deg global lat/lon (0..358), land missing via bitmap
  era_like.nc         NetCDF4/CF-1.8, time x lat(ascending) x lon, int16
                      packed t2m with scale/offset/_FillValue, float32 msl
  lambert_tas.nc      NetCDF3 classic, CF lambert_conformal_conic grid with
                      x/y in metres and 2-D lat/lon auxiliary coordinates
"""

import os
import sys

import numpy as np
import eccodes as ec
import netCDF4

HERE = os.path.dirname(os.path.abspath(__file__))

EARTH_RADIUS = 6371229.0  # metres; GRIB2 shapeOfTheEarth=6
REF_DATE = 20260701       # reference (analysis/forecast start) date
REF_TIME = 0              # 00 UTC
STEP_H = 6                # forecast step -> valid 2026-07-01 06 UTC
VALID_HOUR_UTC = (REF_TIME // 100 + STEP_H) % 24

NOISE_SEED = 20260701

# --------------------------------------------------------------------------
# Crude continents, hand-drawn as (lon, lat) vertices.  Longitudes are in
# degrees east; a polygon may run past 180 (Eurasia reaches 190 = 170W).
# Points are tested at lon and lon+360, so any lon in [-180, 540) works.
# --------------------------------------------------------------------------
NORTH_AMERICA = [
    (-168, 65.5), (-163, 69), (-156, 71.3), (-141, 69.7), (-128, 70.2),
    (-117, 68.9), (-108, 68), (-95, 68), (-85, 69.5), (-82, 66), (-86, 62),
    (-94, 59), (-93, 57), (-85, 55.3), (-82, 53), (-79, 51.5), (-78, 56),
    (-77, 60.5), (-72, 61), (-68, 58.5), (-62, 57), (-56, 52), (-60, 49),
    (-64, 49), (-66, 45), (-70, 43), (-70, 41.5), (-74, 40.5), (-76, 37),
    (-76, 35), (-81, 31.5), (-80, 27), (-80.5, 25.2), (-82, 27.5),
    (-83, 29.8), (-85, 30), (-89, 30.2), (-94, 29.6), (-97, 27.5),
    (-97.5, 22), (-96, 19), (-94.5, 18.2), (-91, 18.8), (-90.5, 21),
    (-87, 21.5), (-88, 16), (-84, 15.8), (-83.5, 11), (-81.5, 9),
    (-79.5, 9.5), (-77.5, 8.5), (-78, 7.5), (-80, 7.3), (-82, 8.2),
    (-86, 11.5), (-88, 13.2), (-92, 14.5), (-95, 16), (-98, 16.3),
    (-103, 18.5), (-105.5, 20.5), (-105.5, 23), (-109, 25.5), (-112.5, 29.5),
    (-114.5, 31.5), (-113, 27.5), (-110, 23.2), (-112, 24.8), (-115, 29.8),
    (-117, 32.5), (-120.5, 34.5), (-122.5, 37.5), (-124.3, 40.5), (-124, 46),
    (-124.7, 48.4), (-127.5, 50.5), (-131, 54), (-134, 57), (-137, 58.5),
    (-141, 60), (-146, 60.8), (-152, 59), (-154, 57.5), (-158, 56.5),
    (-163, 54.7), (-158, 58), (-162, 59.8), (-165, 61), (-165, 63),
    (-161, 64.5), (-166, 65.3),
]
CANADIAN_ARCTIC = [
    (-80, 73), (-90, 73), (-95, 75), (-100, 78), (-110, 78), (-120, 76),
    (-125, 72), (-115, 70.5), (-100, 70.5), (-90, 71), (-85, 70.5), (-80, 67.5),
    (-72, 67), (-62, 66.5), (-66, 70), (-75, 72.5),
]
ELLESMERE = [
    (-90, 76.5), (-80, 76.5), (-70, 78.5), (-63, 81.5), (-70, 83), (-85, 82),
    (-95, 80), (-95, 77),
]
GREENLAND = [
    (-73, 78), (-67, 76), (-58, 75.5), (-55, 71), (-52, 68), (-53, 66),
    (-50, 62), (-44, 60), (-42, 61), (-40, 65), (-35, 66), (-25, 68.5),
    (-22, 70.5), (-22, 73), (-19, 76), (-18, 79), (-12, 81.5), (-20, 83),
    (-35, 83.5), (-50, 82.5), (-60, 82), (-66, 80),
]
ICELAND = [(-24, 65.5), (-22, 66.4), (-16, 66.5), (-13.5, 65), (-18, 63.4),
           (-22.5, 63.8)]
SOUTH_AMERICA = [
    (-77.5, 8.5), (-75, 11), (-72, 12), (-71.5, 11), (-68, 10.6), (-64, 10.6),
    (-61, 10.7), (-60, 8.5), (-57, 6), (-53, 5.5), (-51, 4), (-50, 1),
    (-48, -1), (-44, -2.5), (-39, -3), (-35, -5.5), (-35, -9), (-37.5, -12.5),
    (-39, -17), (-40, -20.5), (-42, -23), (-48, -26), (-48.5, -28.5),
    (-51, -31.5), (-53, -34), (-56.5, -35), (-57.5, -38), (-62, -39),
    (-65, -41), (-64, -43), (-66, -46), (-67.5, -48), (-69, -51),
    (-68.5, -53), (-70, -55), (-74, -53), (-75.5, -49), (-74, -45),
    (-73.5, -40), (-73, -36), (-71.5, -30), (-70.5, -23), (-70.2, -18.5),
    (-75, -15), (-77, -12), (-79.5, -7.5), (-81, -5), (-80, -2), (-80, 1),
    (-78.5, 2.5), (-77.5, 5), (-77.5, 7),
]
AFRICA = [
    (-17, 21), (-17, 14.7), (-16.7, 12.3), (-13, 9), (-11, 7), (-7.5, 4.4),
    (-2, 4.8), (2, 6.3), (5, 5.8), (6.5, 4.3), (9, 4), (9.5, 1), (9, -1),
    (11.8, -5), (13.2, -9), (13.5, -12.5), (11.8, -16.5), (14.5, -22.5),
    (15, -27), (17, -29.5), (18.5, -34), (20, -34.8), (25, -34), (28, -33),
    (31, -29.5), (32.5, -26), (35.5, -24), (35, -20), (36.5, -18),
    (40.5, -15), (40, -10), (39.5, -6), (40, -3), (42, -0.5), (46, 2.5),
    (49, 6.5), (51, 10.5), (51, 12), (44, 10.5), (43, 12.5), (39.5, 15.5),
    (38, 18), (37, 21.5), (35.5, 23.5), (35, 27), (33, 29), (32.5, 31),
    (29, 31), (25, 31.8), (20, 32), (19, 30.3), (15.5, 31.5), (11, 33),
    (10.5, 36.5), (9, 37), (3, 36.7), (-1, 35.5), (-5.5, 35.8), (-6.5, 34),
    (-9.5, 32), (-9.8, 29.5), (-12, 28), (-13, 26.5), (-15, 24), (-16.5, 22),
]
MADAGASCAR = [(49.3, -12), (50.5, -15.5), (49.5, -18), (47.5, -24.5),
              (45, -25.5), (43.5, -22), (44.3, -17), (47, -15)]
EURASIA = [
    (-9.5, 37), (-9, 39), (-9.3, 43), (-8, 43.7), (-1.5, 43.4), (-1.2, 46),
    (-4.5, 48), (-1.5, 49.5), (1.5, 50.5), (4, 51.5), (5, 53), (8.5, 53.8),
    (8.5, 57), (10.5, 57.7), (10.5, 54.5), (14, 54), (19, 54.5), (21.5, 57),
    (23.5, 59.5), (29, 60), (23, 60), (21.5, 61), (21.5, 63.5), (25, 65.5),
    (22, 65.8), (19, 63.5), (17.5, 62.5), (18.5, 60), (16.5, 56.5),
    (14, 55.5), (12.5, 56.5), (11, 59), (8, 58), (5.5, 58.5), (5, 62),
    (8, 63.5), (12, 66), (15, 68.5), (19, 70), (25, 71), (29, 71),
    (33, 69.5), (41, 67), (38, 66), (34.5, 66), (37, 64), (44, 66.5),
    (44, 68.5), (53, 68.5), (58, 68.8), (65, 69.5), (70, 72.5), (73, 71),
    (80, 72.5), (87, 74), (100, 76.5), (105, 77.5), (113, 73.7), (123, 73),
    (129, 72), (140, 72.5), (150, 71.5), (160, 69.5), (170, 70), (180, 69),
    (190, 66), (187, 64.5), (182, 65), (179, 62.5), (172, 60),
    (163, 59.8), (162, 56), (156.5, 51), (156, 57.5), (160.5, 61),
    (155, 59.2), (143, 59.3), (137, 54), (141, 52.5), (140.5, 48),
    (135, 43.5), (130, 42.5), (129.5, 36), (126.5, 34.5), (126, 37.5),
    (125, 39.5), (121, 40.5), (122, 37), (119, 37), (120.5, 34.5),
    (122, 30.5), (121.5, 28), (119, 25), (116, 22.8), (111, 21.5),
    (108, 21.5), (106.5, 19), (109, 13), (109, 11.5), (105, 8.7),
    (104.5, 10.5), (101, 13), (99.5, 10), (101, 7), (103.5, 1.3),
    (101, 2.8), (98.5, 7.9), (98.5, 13), (97.5, 16.5), (94.5, 16),
    (94, 19.5), (92, 22), (90, 22), (87, 21.5), (86.5, 20), (84, 18),
    (80.5, 15.5), (80, 10), (77.5, 8), (76, 10), (74.5, 14), (73, 18),
    (72.5, 21), (70, 21), (68, 23.5), (66.5, 25.5), (61.5, 25.2),
    (57.5, 25.6), (56, 27), (54, 26.7), (51.5, 27.9), (50, 30), (48, 30),
    (50, 27), (51.5, 25), (51.5, 24), (54, 24), (56.2, 26), (57.5, 23.5),
    (59.8, 22.5), (57.5, 19), (55, 17), (52, 16), (48.5, 14), (45, 12.8),
    (43.3, 12.7), (42.5, 16), (40.5, 20), (39, 21.5), (37, 25.5), (35, 28),
    (34.5, 29.5), (34.3, 31.3), (35, 33.5), (36, 35.5), (36, 36.7),
    (32.5, 36.2), (29.5, 36.2), (27, 37.5), (26.5, 39.5), (26, 40.6),
    (23.5, 40.5), (22.5, 40), (23.5, 38), (22, 36.5), (21, 38.5),
    (19.5, 40.5), (19.5, 42), (16, 43.5), (13.8, 45.5), (12.3, 45),
    (14, 42.5), (16, 41.5), (18.5, 40.2), (16.5, 39), (16, 38), (15.7, 40),
    (12.5, 41.7), (10.5, 43), (9, 44.3), (6.5, 43.2), (3.2, 43.2),
    (3.2, 41.8), (0.8, 41), (-0.5, 39), (0, 38.7), (-2, 36.7), (-5, 36.3),
    (-6, 36.2), (-7.5, 37.1),
]
GREAT_BRITAIN = [(-5.7, 50), (1.5, 51.2), (1.7, 52.7), (0, 53.5), (-1.5, 55),
                 (-2, 56), (-1.8, 57.6), (-3.5, 58.6), (-5, 58.6), (-6.2, 56.5),
                 (-5, 55), (-3, 54.8), (-3.2, 53.3), (-4.7, 52.8), (-5.2, 51.7),
                 (-3, 51.3)]
IRELAND = [(-6, 52), (-6, 54), (-5.5, 55.2), (-8, 55.2), (-10, 54),
           (-10.3, 51.6), (-8, 51.6)]
JAPAN = [(130, 31), (131.5, 31.5), (133, 34), (135, 33.5), (137, 34.5),
         (140.5, 35), (141, 38), (142, 40), (141.5, 41.5), (143, 42),
         (145.5, 43.3), (145, 44.3), (142, 45.5), (141.5, 44), (140, 42.5),
         (140, 40), (139.5, 38), (137, 37), (133, 35.5), (130.5, 34)]
BORNEO = [(109, 1.5), (111.5, 2.5), (113, 3.2), (116, 6.5), (119, 5),
          (118, 1), (117.5, -1), (116, -4), (111, -3), (109.5, -1)]
SUMATRA = [(95.3, 5.6), (98, 4), (100.5, 2), (104, -1), (106, -3),
           (105.8, -6), (103.5, -4.5), (100, -0.8), (97, 2.5)]
NEW_GUINEA = [(131, -1), (135, -3.5), (138, -1.5), (142, -2.8), (146, -5.5),
              (148, -8), (150.5, -10.5), (147, -10), (143, -9), (141, -9),
              (138, -8), (136, -4.5), (132, -4)]
AUSTRALIA = [
    (113.5, -22), (114, -26), (115, -34), (118, -35), (123, -33.8),
    (126, -32.3), (131, -31.5), (135, -34.8), (138, -35.5), (138, -33),
    (140, -38), (144, -38.3), (146.5, -39), (150, -37.5), (151.5, -33),
    (153.5, -28), (153, -25), (149.5, -22), (146, -19), (145.5, -15),
    (143.5, -14), (142.5, -10.7), (141.5, -13), (141.5, -17), (139.5, -17.5),
    (136, -15), (137, -12), (133, -11.5), (130, -12.5), (129.5, -15),
    (126, -14), (122, -17), (120, -20), (116, -21),
]
NZ_NORTH = [(172.7, -34.4), (174.5, -36), (176, -37.5), (178.5, -37.7),
            (177, -39.5), (175, -41.5), (174.5, -40), (173.5, -39)]
NZ_SOUTH = [(172.5, -40.5), (174, -41.2), (173, -43.5), (171, -45.5),
            (169, -46.7), (166.5, -46), (168, -44), (170.5, -42.5)]
ANTARCTICA = [
    (-180, -78), (-160, -77), (-150, -76), (-135, -74.5), (-120, -73.5),
    (-100, -72.5), (-80, -73), (-75, -70), (-68, -67), (-60, -63.5),
    (-57, -63.5), (-62, -66), (-62, -70), (-60, -74.5), (-45, -78),
    (-35, -77.5), (-25, -75), (-15, -72), (0, -70), (15, -69.8), (30, -69.5),
    (45, -67.5), (55, -66.5), (70, -68), (75, -69.5), (80, -67.5),
    (90, -66.5), (105, -66), (120, -66.5), (135, -66), (150, -68.5),
    (165, -70.5), (170, -72), (168, -77), (180, -78), (180, -91), (-180, -91),
]

CONTINENTS = [
    NORTH_AMERICA, CANADIAN_ARCTIC, ELLESMERE, GREENLAND, ICELAND,
    SOUTH_AMERICA, AFRICA, MADAGASCAR, EURASIA, GREAT_BRITAIN, IRELAND, JAPAN,
    BORNEO, SUMATRA, NEW_GUINEA, AUSTRALIA, NZ_NORTH, NZ_SOUTH, ANTARCTICA,
]


def _points_in_polygon(x, y, poly):
    """Even-odd ray casting; x, y are arrays, poly a list of (x, y)."""
    px = np.array([p[0] for p in poly], dtype=np.float64)
    py = np.array([p[1] for p in poly], dtype=np.float64)
    inside = np.zeros(x.shape, dtype=bool)
    j = len(poly) - 1
    for i in range(len(poly)):
        xi, yi, xj, yj = px[i], py[i], px[j], py[j]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xint = (xj - xi) * (y - yi) / (yj - yi) + xi
        inside ^= crosses & (x < xint)
        j = i
    return inside


def _norm180(lon):
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def land_mask_of(lat, lon, polys=CONTINENTS):
    """Boolean land mask at arbitrary points (any longitude convention)."""
    lat = np.asarray(lat, dtype=np.float64)
    x = _norm180(lon)
    mask = np.zeros(lat.shape, dtype=bool)
    for poly in polys:
        mask |= _points_in_polygon(x, lat, poly)
        mask |= _points_in_polygon(x + 360.0, lat, poly)
    return mask


# The reference land mask: 1.0 deg global grid, lat 90..-90, lon 0..359.
LAT_1DEG = 90.0 - np.arange(181, dtype=np.float64)
LON_1DEG = np.arange(360, dtype=np.float64)


def land_mask_1deg():
    lon2d, lat2d = np.meshgrid(LON_1DEG, LAT_1DEG)
    return land_mask_of(lat2d, lon2d)


def land_mask_from_1deg(lat, lon, mask1):
    """Look the 1-deg reference mask up at points that lie on its grid."""
    i = np.rint(90.0 - np.asarray(lat)).astype(int)
    j = np.rint(np.asarray(lon)).astype(int) % 360
    return mask1[i, j]


# --------------------------------------------------------------------------
# Smooth seeded noise: a sum of low-wavenumber waves on the sphere, so the
# same function can be evaluated on any grid (lat/lon or Lambert).
# --------------------------------------------------------------------------
class SmoothNoise:
    def __init__(self, seed, nwaves=24, max_m=9, max_k=7):
        rng = np.random.default_rng(seed)
        self.m = rng.integers(1, max_m + 1, size=nwaves)
        self.k = rng.integers(1, max_k + 1, size=nwaves)
        self.p1 = rng.uniform(0, 2 * np.pi, size=nwaves)
        self.p2 = rng.uniform(0, 2 * np.pi, size=nwaves)
        a = rng.normal(size=nwaves) / np.sqrt(self.m * self.k)
        self.a = a / np.sqrt(np.sum(a ** 2) / 2.0)  # ~unit RMS

    def __call__(self, lat, lon):
        lam = np.radians(np.asarray(lon, dtype=np.float64))
        phi = np.radians(np.asarray(lat, dtype=np.float64))
        out = np.zeros(np.broadcast(lam, phi).shape)
        for m, k, p1, p2, a in zip(self.m, self.k, self.p1, self.p2, self.a):
            # cos(phi) factor keeps the pattern single-valued at the poles
            out += a * np.cos(m * lam + p1) * np.cos(k * phi + p2) * np.cos(phi)
        return out


NOISE_T = SmoothNoise(NOISE_SEED)
NOISE_SST = SmoothNoise(NOISE_SEED + 1)
NOISE_MSL = SmoothNoise(NOISE_SEED + 2)
NOISE_WIND_U = SmoothNoise(NOISE_SEED + 3)
NOISE_WIND_V = SmoothNoise(NOISE_SEED + 4)
NOISE_T850 = SmoothNoise(NOISE_SEED + 5, max_m=20, max_k=16)


def gauss2(lat, lon, lat0, lon0, sig_lat, sig_lon):
    dlon = _norm180(np.asarray(lon) - lon0)
    return np.exp(-((np.asarray(lat) - lat0) / sig_lat) ** 2 - (dlon / sig_lon) ** 2)


# --------------------------------------------------------------------------
# Synthetic fields (July, northern summer)
# --------------------------------------------------------------------------
def t2m_field(lat, lon, land, valid_hour_utc):
    """Plausible-looking 2 m temperature in K for a July day."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    # Sea / zonal profile: ~300 K near 5N, ~270 K at the north pole
    # (July), ~240 K over southern winter sea ice.
    c = np.cos(np.radians(np.clip(lat - 5.0, -90.0, 90.0)))
    t_north = 270.0 + 30.5 * c ** 1.58
    t_south = 240.0 + 60.5 * c ** 0.86
    t = np.where(lat >= 5.0, t_north, t_south)
    # Land/sea contrast: summer (north) land warmer, winter (south) colder.
    contrast = 8.0 * np.sign(lat) * np.exp(-((np.abs(lat) - 35.0) / 20.0) ** 2)
    # Diurnal cycle over land, peak at 14 local solar time.
    local_h = (valid_hour_utc + _norm180(lon) / 15.0) % 24.0
    diurnal = 5.0 * np.cos(2 * np.pi * (local_h - 14.0) / 24.0) * np.cos(np.radians(lat))
    # Elevation-ish cold spots on land (Tibet, Rockies, Andes, E. Africa).
    elev = (10.0 * gauss2(lat, lon, 33, 88, 6, 14)
            + 5.0 * gauss2(lat, lon, 42, -110, 9, 6)
            + 8.0 * gauss2(lat, lon, -18, -68, 12, 3)
            + 4.0 * gauss2(lat, lon, 5, 38, 8, 5))
    t_land = t + contrast + diurnal - elev + 2.5 * NOISE_T(lat, lon)
    t_sea = t + 0.06 * diurnal + 1.2 * NOISE_T(lat, lon)
    out = np.where(land, t_land, t_sea)
    # Ice sheets: Greenland ~255-262 K, Antarctica ~220-240 K (mean ~230 K).
    green = land & (lat > 59.5) & (_norm180(lon) > -75) & (_norm180(lon) < -10)
    out = np.where(green, 262.0 - 0.45 * (lat - 60.0) + NOISE_T(lat, lon), out)
    ant = land & (lat < -60.0)
    t_ant = 240.0 - 20.0 * np.clip((-lat - 66.0) / 24.0, 0.0, 1.0) + 2.0 * NOISE_T(lat, lon)
    out = np.where(ant, t_ant, out)
    return out


def sst_field(lat, lon):
    """Sea surface temperature in K (also defined over land; mask it)."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    w = np.where(lat >= 5.0, 60.0, 48.0)
    sst = 271.35 + 31.0 * np.exp(-((lat - 5.0) / w) ** 2)
    sst += 1.5 * gauss2(lat, lon, 2, 145, 12, 30)     # west Pacific warm pool
    sst -= 2.5 * gauss2(lat, lon, -2, -100, 5, 25)    # east Pacific cold tongue
    sst -= 2.0 * gauss2(lat, lon, -20, 8, 10, 8)      # Benguela upwelling
    sst += 2.0 * gauss2(lat, lon, 38, -60, 5, 12)     # Gulf Stream
    sst += 0.8 * NOISE_SST(lat, lon)
    return np.maximum(sst, 271.35)


def msl_field(lat, lon, hours):
    """Mean sea level pressure in Pa with a handful of highs and lows.

    ``hours`` moves the synoptic systems eastwards so time steps differ."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    p = (101300.0
         - 500.0 * np.exp(-((lat - 8.0) / 10.0) ** 2)          # ITCZ trough
         + 700.0 * np.exp(-((lat - 35.0) / 10.0) ** 2)         # subtropical highs
         + 900.0 * np.exp(-((lat + 30.0) / 10.0) ** 2)
         - 2200.0 * np.exp(-((lat + 62.0) / 8.0) ** 2)         # circumpolar trough
         + 1800.0 * np.exp(-((lat + 90.0) / 15.0) ** 2))       # Antarctic high
    shift = hours * 0.5  # degrees of longitude per hour
    systems = [
        # lat, lon, amplitude Pa, sigma lat, sigma lon, moves?
        (38, -145, 1600, 10, 25, False),   # Pacific high
        (35, -35, 1300, 9, 22, False),     # Azores high
        (-30, -95, 1000, 9, 20, False),
        (-32, 80, 1200, 9, 25, False),
        (30, 65, -1300, 10, 18, False),    # Asian thermal low
        (57, -25 + shift, -2600, 6, 12, True),    # N Atlantic low
        (-55, 70 + shift, -3000, 6, 14, True),    # Southern Ocean low
        (-58, -150 + shift, -2400, 6, 14, True),
        (48, 160 + shift, -1400, 5, 10, True),
        (19, 132 - shift * 0.5, -2200, 2.5, 2.5, True),  # typhoon
        (-45, 20 + shift, 1000, 6, 15, True),
    ]
    for la, lo, amp, sla, slo, _ in systems:
        p += amp * gauss2(lat, lon, la, lo, sla, slo)
    p += 250.0 * NOISE_MSL(lat, lon)
    return p


VORTICES = [
    # lat0, lon0, vmax m/s, radius of max wind km, sense (+1 = anticlockwise)
    (18.0, 132.0, 28.0, 300.0, +1),     # West Pacific typhoon (NH cyclone)
    (56.0, -28.0, 17.0, 700.0, +1),     # North Atlantic low
    (-52.0, 75.0, 20.0, 800.0, -1),     # Southern Ocean low (SH cyclone)
    (36.0, -142.0, 7.0, 1300.0, -1),    # North Pacific high (NH anticyclone)
]


def wind_field(lat, lon):
    """10 m u, v in m/s: trades, westerlies, polar easterlies, vortices."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = np.asarray(lon, dtype=np.float64)
    u = (-6.0 * np.exp(-((lat - 13.0) / 9.0) ** 2)
         - 7.0 * np.exp(-((lat + 13.0) / 10.0) ** 2)
         + 7.0 * np.exp(-((lat - 47.0) / 10.0) ** 2)
         + 11.0 * np.exp(-((lat + 50.0) / 10.0) ** 2)
         - 3.0 * np.exp(-((np.abs(lat) - 70.0) / 7.0) ** 2))
    v = (2.5 * np.exp(-((lat + 8.0) / 10.0) ** 2)
         - 2.0 * np.exp(-((lat - 18.0) / 8.0) ** 2)
         + 1.0 * np.exp(-((lat - 45.0) / 10.0) ** 2)
         - 1.5 * np.exp(-((lat + 45.0) / 10.0) ** 2))
    u = u + 1.5 * NOISE_WIND_U(lat, lon)
    v = v + 1.5 * NOISE_WIND_V(lat, lon)
    inflow = np.tan(np.radians(20.0))
    for lat0, lon0, vmax, rmax, sense in VORTICES:
        dx = np.radians(_norm180(lon - lon0)) * np.cos(np.radians(lat)) * 6371.0
        dy = np.radians(lat - lat0) * 6371.0
        r = np.hypot(dx, dy)
        rr = r / rmax
        vt = vmax * rr * np.exp(0.5 * (1.0 - rr ** 2))
        with np.errstate(divide="ignore", invalid="ignore"):
            ex = np.where(r > 0, dx / r, 0.0)
            ey = np.where(r > 0, dy / r, 0.0)
        # tangential (sense) plus cross-isobaric flow toward lows / out of highs
        cyclonic = sense * np.sign(lat0)  # +1 cyclone, -1 anticyclone
        u += vt * (-sense * ey - cyclonic * inflow * ex)
        v += vt * (sense * ex - cyclonic * inflow * ey)
    # Taper to calm at the poles where grid-relative u/v are ill-defined.
    taper = np.clip(np.cos(np.radians(lat)) / np.cos(np.radians(80.0)), 0.0, 1.0)
    return u * taper, v * taper


def t850_field(lat, lon):
    """850 hPa temperature in K over North America: warm south, cold north,
    a ridge over the West and a trough over the Great Lakes/Ohio Valley."""
    lat = np.asarray(lat, dtype=np.float64)
    lon = _norm180(lon)
    lat_eff = (lat + 8.0 * np.exp(-((lon + 85.0) / 9.0) ** 2)
               - 5.0 * np.exp(-((lon + 112.0) / 10.0) ** 2))
    t = 285.0 + 10.0 * np.tanh((40.0 - lat_eff) / 12.0)
    t += 3.0 * gauss2(lat, lon, 36, -108, 6, 8)     # hot south-west plateau
    t += 0.7 * NOISE_T850(lat, lon)
    return t


# --------------------------------------------------------------------------
# Lambert conformal conic on a sphere (Snyder 1987, eqs. 15-1..15-11)
# --------------------------------------------------------------------------
class LambertConformal:
    def __init__(self, lat1, lat2, lat0, lon0, radius=EARTH_RADIUS):
        p1, p2, p0 = np.radians([lat1, lat2, lat0])
        if abs(lat1 - lat2) < 1e-12:
            n = np.sin(p1)
        else:
            n = (np.log(np.cos(p1) / np.cos(p2))
                 / np.log(np.tan(np.pi / 4 + p2 / 2) / np.tan(np.pi / 4 + p1 / 2)))
        self.n = float(n)
        self.F = float(np.cos(p1) * np.tan(np.pi / 4 + p1 / 2) ** n / n)
        self.R = float(radius)
        self.lon0 = float(lon0)
        self.rho0 = self.R * self.F / np.tan(np.pi / 4 + p0 / 2) ** n

    def forward(self, lat, lon):
        phi = np.radians(np.asarray(lat, dtype=np.float64))
        rho = self.R * self.F / np.tan(np.pi / 4 + phi / 2) ** self.n
        theta = self.n * np.radians(_norm180(np.asarray(lon) - self.lon0))
        return rho * np.sin(theta), self.rho0 - rho * np.cos(theta)

    def inverse(self, x, y):
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        s = np.sign(self.n)
        rho = s * np.hypot(x, self.rho0 - y)
        theta = np.arctan2(s * x, s * (self.rho0 - y))
        lat = np.degrees(2 * np.arctan((self.R * self.F / rho) ** (1 / self.n)) - np.pi / 2)
        lon = _norm180(self.lon0 + np.degrees(theta / self.n))
        return lat, lon


# --------------------------------------------------------------------------
# GRIB2 helpers
# --------------------------------------------------------------------------
def new_grib2():
    h = ec.codes_grib_new_from_samples("regular_ll_sfc_grib2")
    # Synthetic data: no real originating centre.  GRIB2 section 1 stores the
    # centre in 2 octets, so "missing" is 65535 (255 would decode as a centre
    # name such as "consensus" in some eccodes versions).
    ec.codes_set_missing(h, "centre")
    ec.codes_set(h, "subCentre", 0)
    ec.codes_set(h, "tablesVersion", 28)
    ec.codes_set(h, "significanceOfReferenceTime", 1)       # start of forecast
    ec.codes_set(h, "productionStatusOfProcessedData", 2)   # research products
    ec.codes_set(h, "typeOfProcessedData", 1)               # forecast
    ec.codes_set(h, "dataDate", REF_DATE)
    ec.codes_set(h, "dataTime", REF_TIME)
    ec.codes_set(h, "productDefinitionTemplateNumber", 0)
    ec.codes_set(h, "typeOfGeneratingProcess", 2)           # forecast
    ec.codes_set(h, "generatingProcessIdentifier", 255)
    ec.codes_set(h, "indicatorOfUnitOfTimeRange", 1)        # hour
    ec.codes_set(h, "forecastTime", STEP_H)
    return h


def set_regular_ll(h, ni, nj, lat_first, lon_first, dlat, dlon):
    ec.codes_set(h, "gridDefinitionTemplateNumber", 0)
    ec.codes_set(h, "shapeOfTheEarth", 6)
    ec.codes_set(h, "Ni", ni)
    ec.codes_set(h, "Nj", nj)
    ec.codes_set(h, "iScansNegatively", 0)
    ec.codes_set(h, "jScansPositively", 0)     # N -> S
    ec.codes_set(h, "jPointsAreConsecutive", 0)
    ec.codes_set(h, "latitudeOfFirstGridPointInDegrees", lat_first)
    ec.codes_set(h, "longitudeOfFirstGridPointInDegrees", lon_first)
    ec.codes_set(h, "latitudeOfLastGridPointInDegrees", lat_first - (nj - 1) * dlat)
    ec.codes_set(h, "longitudeOfLastGridPointInDegrees", lon_first + (ni - 1) * dlon)
    ec.codes_set(h, "iDirectionIncrementInDegrees", dlon)
    ec.codes_set(h, "jDirectionIncrementInDegrees", dlat)
    ec.codes_set(h, "ijDirectionIncrementGiven", 1)
    ec.codes_set(h, "uvRelativeToGrid", 0)


def set_param(h, discipline, category, number, sfc_type, sfc_scale, sfc_value):
    ec.codes_set(h, "discipline", discipline)
    ec.codes_set(h, "parameterCategory", category)
    ec.codes_set(h, "parameterNumber", number)
    ec.codes_set(h, "typeOfFirstFixedSurface", sfc_type)
    if sfc_value is None:
        ec.codes_set_missing(h, "scaleFactorOfFirstFixedSurface")
        ec.codes_set_missing(h, "scaledValueOfFirstFixedSurface")
    else:
        ec.codes_set(h, "scaleFactorOfFirstFixedSurface", sfc_scale)
        ec.codes_set(h, "scaledValueOfFirstFixedSurface", sfc_value)
    ec.codes_set(h, "typeOfSecondFixedSurface", 255)
    ec.codes_set_missing(h, "scaleFactorOfSecondFixedSurface")
    ec.codes_set_missing(h, "scaledValueOfSecondFixedSurface")


def set_packing(h, packing, decimal_scale, bits):
    ec.codes_set(h, "packingType", packing)
    ec.codes_set(h, "decimalScaleFactor", decimal_scale)
    ec.codes_set(h, "bitsPerValue", bits)


def write_messages(path, handles):
    with open(path, "wb") as f:
        for h in handles:
            f.write(ec.codes_get_message(h))
            ec.codes_release(h)


WARNINGS = []


def try_packing(make, preferred, fallback):
    """Build a message with the preferred packing; if eccodes cannot write
    it (or it does not round-trip), fall back."""
    for packing in (preferred, fallback):
        try:
            h = make(packing)
            msg = ec.codes_get_message(h)
            chk = ec.codes_new_from_message(msg)
            ok = ec.codes_get(chk, "packingType") == packing
            ec.codes_get_values(chk)
            ec.codes_release(chk)
            if ok:
                return h, packing
            ec.codes_release(h)
        except ec.CodesInternalError as e:  # noqa: PERF203
            WARNINGS.append(f"eccodes could not write {packing}: {e}")
        if packing == preferred:
            WARNINGS.append(f"falling back from {preferred} to {fallback}")
    raise RuntimeError(f"cannot write {preferred} nor {fallback}")


# --------------------------------------------------------------------------
# 1. global_t2m.grib2
# --------------------------------------------------------------------------
def make_global_t2m(mask1):
    lon2d, lat2d = np.meshgrid(LON_1DEG, LAT_1DEG)
    t = t2m_field(lat2d, lon2d, mask1, VALID_HOUR_UTC)
    h = new_grib2()
    set_regular_ll(h, 360, 181, 90.0, 0.0, 1.0, 1.0)
    set_param(h, 0, 0, 0, 103, 0, 2)             # 2 m above ground
    # 16-bit simple packing.  eccodes derives bitsPerValue itself whenever
    # decimalScaleFactor != 0 (D=2 would give 14 bits), so a 16-bit field
    # means D=0 and an automatic binary scale (E=-9, step 2**-9 ~ 0.002 K).
    set_packing(h, "grid_simple", 0, 16)
    ec.codes_set_values(h, t.ravel())
    write_messages(os.path.join(HERE, "global_t2m.grib2"), [h])
    return t


# --------------------------------------------------------------------------
# 2. global_uv10.grib2
# --------------------------------------------------------------------------
LAT_2DEG = 90.0 - 2.0 * np.arange(91, dtype=np.float64)


def make_global_uv10():
    # GRIB2 longitudes are unsigned, so a -180..178 grid is stored (as ECMWF
    # open data does) with longitudeOfFirstGridPoint = 180 and
    # longitudeOfLastGridPoint = 178: the row wraps through 360/0.
    lon = -180.0 + 2.0 * np.arange(180, dtype=np.float64)
    lon2d, lat2d = np.meshgrid(lon, LAT_2DEG)
    u, v = wind_field(lat2d, lon2d)
    handles = []
    used = None
    # u uses second-order spatial differencing (the usual NCEP choice), v
    # first-order, so one file exercises both.  eccodes' complex packing
    # always writes D=0 and picks the binary scale from bitsPerValue:
    # 12 bits gives E=-6, i.e. a step of 1/64 m/s.
    for number, values, order in ((2, u, 2), (3, v, 1)):
        def make(packing, number=number, values=values, order=order):
            h = new_grib2()
            set_regular_ll(h, 180, 91, 90.0, -180.0, 2.0, 2.0)
            set_param(h, 0, 2, number, 103, 0, 10)   # 10 m above ground
            ec.codes_set(h, "packingType", packing)
            if packing == "grid_complex_spatial_differencing":
                ec.codes_set(h, "orderOfSpatialDifferencing", order)
            ec.codes_set(h, "bitsPerValue", 12)
            ec.codes_set_values(h, values.ravel())
            return h
        h, used = try_packing(make, "grid_complex_spatial_differencing", "grid_complex")
        handles.append(h)
    write_messages(os.path.join(HERE, "global_uv10.grib2"), handles)
    return u, v, used


# --------------------------------------------------------------------------
# 3. lambert_t850.grib2
# --------------------------------------------------------------------------
LAMBERT_GRIB = dict(nx=120, ny=90, dx=40000.0, dy=40000.0, lad=25.0,
                    latin1=25.0, latin2=25.0, lov=265.0,
                    lat_first=19.0, lon_first=241.0)


def lambert_grib_latlon():
    g = LAMBERT_GRIB
    proj = LambertConformal(g["latin1"], g["latin2"], g["lad"], g["lov"])
    x0, y0 = proj.forward(g["lat_first"], g["lon_first"])
    x = x0 + g["dx"] * np.arange(g["nx"])
    y = y0 + g["dy"] * np.arange(g["ny"])          # first point SW, S -> N
    xx, yy = np.meshgrid(x, y)
    return proj.inverse(xx, yy)


def make_lambert_t850():
    g = LAMBERT_GRIB
    lat, lon = lambert_grib_latlon()
    t = t850_field(lat, lon)

    def make(packing):
        h = new_grib2()
        ec.codes_set(h, "gridDefinitionTemplateNumber", 30)
        ec.codes_set(h, "shapeOfTheEarth", 6)
        ec.codes_set(h, "Nx", g["nx"])
        ec.codes_set(h, "Ny", g["ny"])
        ec.codes_set(h, "latitudeOfFirstGridPointInDegrees", g["lat_first"])
        ec.codes_set(h, "longitudeOfFirstGridPointInDegrees", g["lon_first"])
        ec.codes_set(h, "LaDInDegrees", g["lad"])
        ec.codes_set(h, "LoVInDegrees", g["lov"])
        ec.codes_set(h, "DxInMetres", g["dx"])
        ec.codes_set(h, "DyInMetres", g["dy"])
        ec.codes_set(h, "projectionCentreFlag", 0)
        ec.codes_set(h, "Latin1InDegrees", g["latin1"])
        ec.codes_set(h, "Latin2InDegrees", g["latin2"])
        ec.codes_set(h, "latitudeOfSouthernPoleInDegrees", -90.0)
        ec.codes_set(h, "longitudeOfSouthernPoleInDegrees", 0.0)
        ec.codes_set(h, "iScansNegatively", 0)
        ec.codes_set(h, "jScansPositively", 1)        # S -> N
        ec.codes_set(h, "jPointsAreConsecutive", 0)
        ec.codes_set(h, "uvRelativeToGrid", 1)
        set_param(h, 0, 0, 0, 100, 0, 85000)          # 850 hPa
        set_packing(h, packing, 2, 16)
        ec.codes_set_values(h, t.ravel())
        return h

    h, used = try_packing(make, "grid_jpeg", "grid_simple")
    write_messages(os.path.join(HERE, "lambert_t850.grib2"), [h])
    return t, used


# --------------------------------------------------------------------------
# 4. sst_missing.grib2
# --------------------------------------------------------------------------
SST_MISSING = 9999.0


def make_sst(mask1):
    lon = 2.0 * np.arange(180, dtype=np.float64)
    lon2d, lat2d = np.meshgrid(lon, LAT_2DEG)
    land = land_mask_from_1deg(lat2d, lon2d, mask1)
    sst = sst_field(lat2d, lon2d)
    values = np.where(land, SST_MISSING, sst)
    h = new_grib2()
    set_regular_ll(h, 180, 91, 90.0, 0.0, 2.0, 2.0)
    set_param(h, 10, 3, 0, 1, None, None)           # ground or water surface
    set_packing(h, "grid_simple", 2, 16)
    ec.codes_set(h, "bitmapPresent", 1)
    ec.codes_set(h, "missingValue", SST_MISSING)
    ec.codes_set_values(h, values.ravel())
    write_messages(os.path.join(HERE, "sst_missing.grib2"), [h])
    return np.where(land, np.nan, sst)


# --------------------------------------------------------------------------
# 5a. era_like.nc (NetCDF4, CF-1.8)
# --------------------------------------------------------------------------
T2M_SCALE = 0.002
T2M_OFFSET = 265.0
T2M_FILL = np.int16(-32767)


def make_era_like(mask1):
    path = os.path.join(HERE, "era_like.nc")
    lat = -90.0 + 2.0 * np.arange(91, dtype=np.float64)   # ascending, S -> N
    lon = 2.0 * np.arange(180, dtype=np.float64)
    hours = np.array([0.0, 6.0])
    lon2d, lat2d = np.meshgrid(lon, lat)
    land = land_mask_from_1deg(lat2d, lon2d, mask1)

    t2m = np.stack([t2m_field(lat2d, lon2d, land, int(hh) % 24) for hh in hours])
    packed = np.rint((t2m - T2M_OFFSET) / T2M_SCALE).astype(np.int16)
    # A few fill points: a small block and some isolated points.
    fill = np.zeros(packed.shape, dtype=bool)
    fill[1, 60:63, 100:105] = True                 # 30..34N, 200..208E
    fill[0, 45, 0] = True                          # equator, lon 0
    fill[0, 80, 179] = True
    fill[1, 10, 20] = True
    packed[fill] = T2M_FILL

    msl = np.stack([msl_field(lat2d, lon2d, hh) for hh in hours]).astype(np.float32)

    if os.path.exists(path):
        os.remove(path)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        ds.set_auto_maskandscale(False)
        ds.Conventions = "CF-1.8"
        ds.title = "tilecast synthetic ERA-like sample"
        ds.source = "synthetic: sample-data/make_samples.py"
        ds.comment = ("Synthetic data built from formulas and seeded noise; "
                      "not real observations, analyses or forecasts.")
        ds.license = "Apache-2.0 (released with the tilecast project)"
        ds.createDimension("time", len(hours))
        ds.createDimension("lat", len(lat))
        ds.createDimension("lon", len(lon))

        vt = ds.createVariable("time", "f8", ("time",))
        vt.standard_name = "time"
        vt.long_name = "time"
        vt.units = "hours since 2026-07-01 00:00:00"
        vt.calendar = "standard"
        vt.axis = "T"
        vt[:] = hours

        vlat = ds.createVariable("lat", "f8", ("lat",))
        vlat.standard_name = "latitude"
        vlat.long_name = "latitude"
        vlat.units = "degrees_north"
        vlat.axis = "Y"
        vlat[:] = lat

        vlon = ds.createVariable("lon", "f8", ("lon",))
        vlon.standard_name = "longitude"
        vlon.long_name = "longitude"
        vlon.units = "degrees_east"
        vlon.axis = "X"
        vlon[:] = lon

        v = ds.createVariable("t2m", "i2", ("time", "lat", "lon"),
                              fill_value=T2M_FILL, zlib=True, complevel=4,
                              shuffle=True, chunksizes=(1, len(lat), len(lon)))
        v.scale_factor = np.float64(T2M_SCALE)
        v.add_offset = np.float64(T2M_OFFSET)
        v.missing_value = T2M_FILL
        v.units = "K"
        v.standard_name = "air_temperature"
        v.long_name = "2 metre temperature"
        v.set_auto_maskandscale(False)   # we pack ourselves (np.rint)
        v[:] = packed

        v = ds.createVariable("msl", "f4", ("time", "lat", "lon"),
                              zlib=True, complevel=4, shuffle=True,
                              chunksizes=(1, len(lat), len(lon)))
        v.units = "Pa"
        v.standard_name = "air_pressure_at_mean_sea_level"
        v.long_name = "Mean sea level pressure"
        v[:] = msl

    unpacked = np.where(fill, np.nan, packed.astype(np.float64) * T2M_SCALE + T2M_OFFSET)
    return unpacked, t2m, msl


# --------------------------------------------------------------------------
# 5b. lambert_tas.nc (NetCDF3 classic, CF projected grid)
# --------------------------------------------------------------------------
LAMBERT_NC = dict(lat1=35.0, lat2=65.0, lat0=50.0, lon0=10.0,
                  nx=64, ny=48, dx=50000.0, dy=50000.0)
TAS_FILL = np.float32(-9999.0)


def lambert_nc_coords():
    g = LAMBERT_NC
    proj = LambertConformal(g["lat1"], g["lat2"], g["lat0"], g["lon0"])
    x = (np.arange(g["nx"]) - (g["nx"] - 1) / 2.0) * g["dx"]
    y = (np.arange(g["ny"]) - (g["ny"] - 1) / 2.0) * g["dy"]
    xx, yy = np.meshgrid(x, y)
    lat, lon = proj.inverse(xx, yy)
    return proj, x, y, lat, lon


def make_lambert_tas():
    g = LAMBERT_NC
    path = os.path.join(HERE, "lambert_tas.nc")
    proj, x, y, lat, lon = lambert_nc_coords()
    land = land_mask_of(lat, lon)
    tas = t2m_field(lat, lon, land, VALID_HOUR_UTC).astype(np.float32)
    fill = np.zeros(tas.shape, dtype=bool)
    fill[0:3, 0:4] = True           # a missing corner block
    fill[30, 40] = True
    tas[fill] = TAS_FILL

    if os.path.exists(path):
        os.remove(path)
    with netCDF4.Dataset(path, "w", format="NETCDF3_CLASSIC") as ds:
        ds.set_auto_maskandscale(False)
        ds.Conventions = "CF-1.8"
        ds.title = "tilecast synthetic Lambert conformal sample"
        ds.source = "synthetic: sample-data/make_samples.py"
        ds.comment = ("Synthetic data built from formulas and seeded noise; "
                      "not real observations, analyses or forecasts.")
        ds.license = "Apache-2.0 (released with the tilecast project)"
        ds.createDimension("y", g["ny"])
        ds.createDimension("x", g["nx"])

        gm = ds.createVariable("Lambert_Conformal", "i4", ())
        gm.grid_mapping_name = "lambert_conformal_conic"
        gm.standard_parallel = np.array([g["lat1"], g["lat2"]], dtype=np.float64)
        gm.longitude_of_central_meridian = np.float64(g["lon0"])
        gm.latitude_of_projection_origin = np.float64(g["lat0"])
        gm.false_easting = np.float64(0.0)
        gm.false_northing = np.float64(0.0)
        gm.earth_radius = np.float64(EARTH_RADIUS)
        gm[...] = 0

        vx = ds.createVariable("x", "f8", ("x",))
        vx.standard_name = "projection_x_coordinate"
        vx.long_name = "x coordinate of projection"
        vx.units = "m"
        vx.axis = "X"
        vx[:] = x

        vy = ds.createVariable("y", "f8", ("y",))
        vy.standard_name = "projection_y_coordinate"
        vy.long_name = "y coordinate of projection"
        vy.units = "m"
        vy.axis = "Y"
        vy[:] = y

        vlat = ds.createVariable("lat", "f8", ("y", "x"))
        vlat.standard_name = "latitude"
        vlat.long_name = "latitude"
        vlat.units = "degrees_north"
        vlat[:] = lat

        vlon = ds.createVariable("lon", "f8", ("y", "x"))
        vlon.standard_name = "longitude"
        vlon.long_name = "longitude"
        vlon.units = "degrees_east"
        vlon[:] = lon

        v = ds.createVariable("tas", "f4", ("y", "x"), fill_value=TAS_FILL)
        v.standard_name = "air_temperature"
        v.long_name = "Near-surface (2 m) air temperature"
        v.units = "K"
        v.coordinates = "lat lon"
        v.grid_mapping = "Lambert_Conformal"
        v.set_auto_maskandscale(False)
        v[:] = tas
    return np.where(fill, np.nan, tas), lat, lon


# --------------------------------------------------------------------------
# Verification (round trips)
# --------------------------------------------------------------------------
def read_grib_values(path):
    out = []
    with open(path, "rb") as f:
        while True:
            h = ec.codes_grib_new_from_file(f)
            if h is None:
                break
            vals = ec.codes_get_values(h)
            info = {k: ec.codes_get(h, k) for k in
                    ("shortName", "packingType", "bitsPerValue",
                     "decimalScaleFactor", "binaryScaleFactor", "numberOfMissing")}
            if ec.codes_is_defined(h, "orderOfSpatialDifferencing"):
                info["orderOfSpatialDifferencing"] = ec.codes_get(
                    h, "orderOfSpatialDifferencing")
            if ec.codes_get(h, "bitmapPresent"):
                vals = np.where(vals == ec.codes_get(h, "missingValue"), np.nan, vals)
            lats = ec.codes_get_array(h, "latitudes")
            lons = ec.codes_get_array(h, "longitudes")
            out.append((vals, info, lats, lons))
            ec.codes_release(h)
    return out


def check(name, got, want, tol):
    got = np.asarray(got, dtype=np.float64).ravel()
    want = np.asarray(want, dtype=np.float64).ravel()
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        raise AssertionError(f"{name}: missing-value pattern differs")
    ok = ~np.isnan(want)
    err = float(np.max(np.abs(got[ok] - want[ok]))) if ok.any() else 0.0
    status = "ok" if err <= tol else "FAIL"
    print(f"  {name}: max |decoded - encoded| = {err:.3g} (tolerance {tol:g}) {status}")
    if err > tol:
        raise AssertionError(name)


def verify(t2m, u, v, t850, sst, era_t2m, era_t2m_raw, era_msl, tas, tas_lat, tas_lon):
    print("verifying round trips:")
    (vals, info, lats, lons), = read_grib_values(os.path.join(HERE, "global_t2m.grib2"))
    print("  global_t2m:", info)
    check("global_t2m values", vals, t2m, 2.0 ** -10 + 1e-6)
    lon2d, lat2d = np.meshgrid(LON_1DEG, LAT_1DEG)
    check("global_t2m lat", lats, lat2d, 1e-6)
    check("global_t2m lon", lons, lon2d, 1e-6)

    msgs = read_grib_values(os.path.join(HERE, "global_uv10.grib2"))
    assert len(msgs) == 2
    for (vals, info, lats, lons), want, nm in zip(msgs, (u, v), ("u10", "v10")):
        print(f"  global_uv10 {nm}:", info)
        check(f"global_uv10 {nm} values", vals, want, 2.0 ** -7 + 1e-6)
    lon2d, lat2d = np.meshgrid(-180.0 + 2.0 * np.arange(180), LAT_2DEG)
    check("global_uv10 lat", msgs[0][2], lat2d, 1e-6)
    check("global_uv10 lon", _norm180(msgs[0][3]), lon2d, 1e-6)

    (vals, info, lats, lons), = read_grib_values(os.path.join(HERE, "lambert_t850.grib2"))
    print("  lambert_t850:", info)
    check("lambert_t850 values", vals, t850, 0.0051)
    mlat, mlon = lambert_grib_latlon()
    check("lambert_t850 lat (eccodes vs own LCC)", lats, mlat, 1e-4)
    check("lambert_t850 lon (eccodes vs own LCC)", _norm180(lons), mlon, 1e-4)

    (vals, info, lats, lons), = read_grib_values(os.path.join(HERE, "sst_missing.grib2"))
    print("  sst_missing:", info)
    check("sst_missing values (NaN = bitmap-missing)", vals, sst, 0.0051)

    with netCDF4.Dataset(os.path.join(HERE, "era_like.nc")) as ds:
        got = ds["t2m"][:]   # auto mask and scale
        got = np.ma.filled(got.astype(np.float64), np.nan)
        check("era_like t2m (scale/offset/_FillValue)", got, era_t2m, 1e-9)
        check("era_like t2m vs unpacked truth", got[~np.isnan(got)],
              era_t2m_raw[~np.isnan(got)], T2M_SCALE / 2 + 1e-9)
        check("era_like msl", ds["msl"][:], era_msl, 0.0)
        print(f"  era_like t2m fill points: {int(np.isnan(got).sum())}, "
              f"msl range {float(ds['msl'][:].min()):.0f}..{float(ds['msl'][:].max()):.0f} Pa")
    with netCDF4.Dataset(os.path.join(HERE, "lambert_tas.nc")) as ds:
        got = np.ma.filled(ds["tas"][:].astype(np.float64), np.nan)
        check("lambert_tas tas", got, tas, 0.0)
        proj, x, y, _, _ = lambert_nc_coords()
        # forward-project the stored lat/lon back to x/y
        fx, fy = proj.forward(ds["lat"][:], ds["lon"][:])
        xx, yy = np.meshgrid(x, y)
        check("lambert_tas lat/lon -> x (m)", fx, xx, 1e-3)
        check("lambert_tas lat/lon -> y (m)", fy, yy, 1e-3)
        # Independent check of the secant-cone formula: let eccodes' own
        # Lambert iterator compute the same grid.
        lat_nc = np.asarray(ds["lat"][:])
        lon_nc = np.asarray(ds["lon"][:])
    g = LAMBERT_NC
    h = ec.codes_grib_new_from_samples("regular_ll_sfc_grib2")
    ec.codes_set(h, "gridDefinitionTemplateNumber", 30)
    for key, val in (("shapeOfTheEarth", 6), ("Nx", g["nx"]), ("Ny", g["ny"]),
                     ("latitudeOfFirstGridPointInDegrees", float(lat_nc[0, 0])),
                     ("longitudeOfFirstGridPointInDegrees", float(lon_nc[0, 0]) % 360.0),
                     ("LaDInDegrees", g["lat0"]), ("LoVInDegrees", g["lon0"]),
                     ("Latin1InDegrees", g["lat1"]), ("Latin2InDegrees", g["lat2"]),
                     ("DxInMetres", g["dx"]), ("DyInMetres", g["dy"]),
                     ("iScansNegatively", 0), ("jScansPositively", 1)):
        ec.codes_set(h, key, val)
    ec.codes_set_values(h, np.full(g["nx"] * g["ny"], 280.0))
    chk = ec.codes_new_from_message(ec.codes_get_message(h))
    elat = ec.codes_get_array(chk, "latitudes").reshape(lat_nc.shape)
    elon = ec.codes_get_array(chk, "longitudes").reshape(lat_nc.shape)
    ec.codes_release(chk)
    ec.codes_release(h)
    # first point is stored to 1e-6 degree in GRIB, hence the tolerance
    check("lambert_tas lat (eccodes Lambert vs own LCC)", elat, lat_nc, 1e-5)
    check("lambert_tas lon (eccodes Lambert vs own LCC)", _norm180(elon), lon_nc, 1e-5)


def main():
    mask1 = land_mask_1deg()
    print(f"land fraction of the 1-deg mask (by points): {mask1.mean():.3f}")
    t2m = make_global_t2m(mask1)
    u, v, uv_packing = make_global_uv10()
    t850, t850_packing = make_lambert_t850()
    sst = make_sst(mask1)
    era_t2m, era_t2m_raw, era_msl = make_era_like(mask1)
    tas, tas_lat, tas_lon = make_lambert_tas()
    print(f"global_t2m range {t2m.min():.1f}..{t2m.max():.1f} K")
    print(f"global_uv10 packing {uv_packing}, max speed {np.hypot(u, v).max():.1f} m/s")
    print(f"lambert_t850 packing {t850_packing}, range {t850.min():.1f}..{t850.max():.1f} K")
    print(f"sst range {np.nanmin(sst):.2f}..{np.nanmax(sst):.2f} K, "
          f"missing {int(np.isnan(sst).sum())}")
    verify(t2m, u, v, t850, sst, era_t2m, np.stack(era_t2m_raw), era_msl,
           tas, tas_lat, tas_lon)
    for w in WARNINGS:
        print("warning:", w)
    total = 0
    for name in ("global_t2m.grib2", "global_uv10.grib2", "lambert_t850.grib2",
                 "sst_missing.grib2", "era_like.nc", "lambert_tas.nc"):
        size = os.path.getsize(os.path.join(HERE, name))
        total += size
        print(f"{name:20s} {size:8d} bytes")
    print(f"{'total':20s} {total:8d} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
