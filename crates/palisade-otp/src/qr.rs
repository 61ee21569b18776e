//! QR codes of key URIs, as SVG and PNG.

use std::fmt;
use std::sync::Arc;

use qrcode::render::svg;
use qrcode::{Color, EcLevel, QrCode};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Why a QR code could not be drawn ([`Error::QrUnrenderable`]): the key URI
/// is too long for a QR code, or the image could not be encoded.
///
/// Opaque, so that the QR and PNG encoders stay out of this crate's API: the
/// encoder's own error is the [`source`](std::error::Error::source), and
/// [`QrError::is_uri_too_long`] tells apart the one case an application can
/// fix (a shorter issuer or account name, or a shorter secret). Two errors
/// are equal when they have the same cause; a PNG encoder's error is equal
/// only to its clones.
#[derive(Clone, Debug)]
pub struct QrError(Cause);

#[derive(Clone, Debug)]
enum Cause {
    Code(qrcode::types::QrError),
    Png(Arc<png::EncodingError>),
    ImageTooLarge(usize),
}

impl QrError {
    /// Whether the key URI holds more than a QR code can (2331 bytes at
    /// error-correction level M).
    #[must_use]
    pub fn is_uri_too_long(&self) -> bool {
        matches!(self.0, Cause::Code(qrcode::types::QrError::DataTooLong))
    }
}

impl fmt::Display for QrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Cause::Code(qrcode::types::QrError::DataTooLong) => {
                f.write_str("the key URI is too long for a QR code")
            }
            Cause::Code(error) => write!(f, "the QR encoder refused the key URI: {error}"),
            Cause::Png(error) => write!(f, "the PNG encoder failed: {error}"),
            Cause::ImageTooLarge(side) => write!(f, "an image {side} pixels wide is too large"),
        }
    }
}

impl std::error::Error for QrError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.0 {
            Cause::Code(error) => Some(error),
            Cause::Png(error) => Some(&**error),
            Cause::ImageTooLarge(_) => None,
        }
    }
}

impl PartialEq for QrError {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Cause::Code(a), Cause::Code(b)) => a == b,
            (Cause::Png(a), Cause::Png(b)) => Arc::ptr_eq(a, b),
            (Cause::ImageTooLarge(a), Cause::ImageTooLarge(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for QrError {}

fn png_failed(error: png::EncodingError) -> Error {
    Error::QrUnrenderable(QrError(Cause::Png(Arc::new(error))))
}

/// Modules of white border around the symbol (ISO/IEC 18004 asks for 4).
const QUIET_ZONE: usize = 4;
/// Pixels per module in the PNG.
const SCALE: usize = 8;

fn encode(data: &[u8]) -> Result<QrCode> {
    QrCode::with_error_correction_level(data, EcLevel::M)
        .map_err(|e| Error::QrUnrenderable(QrError(Cause::Code(e))))
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
    let side = u32::try_from(side)
        .map_err(|_| Error::QrUnrenderable(QrError(Cause::ImageTooLarge(side))))?;
    let mut out = Zeroizing::new(Vec::new());
    {
        let mut encoder = png::Encoder::new(&mut *out, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(png_failed)?;
        writer.write_image_data(&pixels).map_err(png_failed)?;
        writer.finish().map_err(png_failed)?;
    }
    Ok(out)
}
