//! QR codes of key URIs, as SVG and PNG.

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Modules of white border around the symbol (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: usize = 4;
/// Pixels per module in the PNG.
const SCALE: usize = 8;

fn encode(data: &[u8]) -> Result<QrCode> {
    QrCode::with_error_correction_level(data, EcLevel::M)
        .map_err(|e| Error::QrUnrenderable(e.to_string()))
}

pub(crate) fn svg(data: &[u8]) -> Result<Zeroizing<String>> {
    let code = encode(data)?;
    Ok(Zeroizing::new(
        code.render::<svg::Color<'_>>()
            .quiet_zone(true)
            .min_dimensions(256, 256)
            .build(),
    ))
}

pub(crate) fn png(data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let code = encode(data)?;
    let modules = code.width();
    let side = (modules + 2 * QUIET_ZONE) * SCALE;
    let mut pixels = Zeroizing::new(vec![0xff_u8; side * side]);
    for (index, color) in code.to_colors().into_iter().enumerate() {
        if color != Color::Dark {
            continue;
        }
        let (row, column) = (index / modules, index % modules);
        for dy in 0..SCALE {
            let y = (row + QUIET_ZONE) * SCALE + dy;
            let x = (column + QUIET_ZONE) * SCALE;
            let start = y * side + x;
            if let Some(run) = pixels.get_mut(start..start + SCALE) {
                run.fill(0);
            }
        }
    }
    let side = u32::try_from(side).map_err(|_| Error::QrUnrenderable("image too large".into()))?;
    let mut out = Zeroizing::new(Vec::new());
    {
        let mut encoder = png::Encoder::new(&mut *out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder
            .write_header()
            .map_err(|e| Error::QrUnrenderable(e.to_string()))?;
        writer
            .write_image_data(&pixels)
            .map_err(|e| Error::QrUnrenderable(e.to_string()))?;
        writer
            .finish()
            .map_err(|e| Error::QrUnrenderable(e.to_string()))?;
    }
    Ok(out)
}
