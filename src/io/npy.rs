//! Writing and reading NumPy `.npy` files (format version 1.0), float32 or float64
//! little-endian.
//!
//! `tilecast extract` writes a field as `(ny, nx)` float32 so users can compare it with
//! ecCodes or netCDF4 in two lines of Python; tests read the oracle's arrays back.

use std::io::Write;

/// Serialises a C-order float32 array of the given shape.
pub fn write_f32(out: &mut impl Write, shape: &[usize], values: &[f32]) -> std::io::Result<()> {
    header(out, "<f4", shape)?;
    let mut buf = Vec::with_capacity(values.len() * 4);
    for v in values {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&buf)
}

/// Serialises a C-order float64 array of the given shape (coordinates need the precision).
pub fn write_f64(out: &mut impl Write, shape: &[usize], values: &[f64]) -> std::io::Result<()> {
    header(out, "<f8", shape)?;
    let mut buf = Vec::with_capacity(values.len() * 8);
    for v in values {
        buf.extend_from_slice(&v.to_le_bytes());
    }
    out.write_all(&buf)
}

fn header(out: &mut impl Write, descr: &str, shape: &[usize]) -> std::io::Result<()> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_text = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut header =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Magic (6) + version (2) + length (2) + header + newline must be a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    out.write_all(b"\x93NUMPY\x01\x00")?;
    out.write_all(&(header.len() as u16).to_le_bytes())?;
    out.write_all(header.as_bytes())
}

/// Reads a C-order `<f4` or `<f8` array: (shape, values as f64). Errors on anything else.
pub fn read(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f64>), String> {
    if bytes.get(..6) != Some(b"\x93NUMPY") {
        return Err("not a .npy file".into());
    }
    let (hlen, start) = match bytes.get(6) {
        Some(1) => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        Some(2) | Some(3) => (
            u32::from_le_bytes(bytes.get(8..12).ok_or("short")?.try_into().unwrap()) as usize,
            12,
        ),
        _ => return Err("unknown .npy version".into()),
    };
    let header = std::str::from_utf8(bytes.get(start..start + hlen).ok_or("short header")?)
        .map_err(|e| e.to_string())?;
    if header.contains("'fortran_order': True") {
        return Err("fortran order".into());
    }
    let width = if header.contains("'<f8'") {
        8
    } else if header.contains("'<f4'") {
        4
    } else {
        return Err(format!("unsupported dtype in {header}"));
    };
    let shape_text = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or("no shape")?;
    let shape: Vec<usize> = shape_text
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.trim()
                .parse()
                .map_err(|_| format!("bad shape {shape_text}"))
        })
        .collect::<Result<_, _>>()?;
    let data = &bytes[start + hlen..];
    let n: usize = shape.iter().product();
    if data.len() < n * width {
        return Err("truncated data".into());
    }
    let values = data
        .chunks_exact(width)
        .take(n)
        .map(|c| {
            if width == 8 {
                f64::from_le_bytes(c.try_into().unwrap())
            } else {
                f32::from_le_bytes(c.try_into().unwrap()) as f64
            }
        })
        .collect();
    Ok((shape, values))
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let mut buf = Vec::new();
        super::write_f32(&mut buf, &[2, 3], &[1.0, 2.0, f32::NAN, 4.0, 5.0, 6.0]).unwrap();
        assert_eq!((buf.len() - 24) % 64, 0, "header padded to 64 bytes");
        let (shape, v) = super::read(&buf).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert!(v[2].is_nan() && v[5] == 6.0);
    }
}
