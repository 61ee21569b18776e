//! The QR codes decode back to the exact key URI (read with `rqrr`, an
//! independent QR decoder).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "tests fail loudly"
)]

use palisade_otp::{Enrollment, KeyUri};

fn decode_png(png_bytes: &[u8]) -> String {
    let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    let (w, h) = (info.width as usize, info.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

#[test]
fn png_qr_code_decodes_to_the_uri() {
    for (issuer, account) in [
        ("Example Corp", "alice@example.com"),
        ("Ünïcödé & Co", "bob+ops@例え.jp"),
    ] {
        let enrollment = Enrollment::start(issuer, account).unwrap();
        let decoded = decode_png(&enrollment.qr_png().unwrap());
        assert_eq!(decoded, *enrollment.uri_exposed());
        let key = KeyUri::parse(&decoded).unwrap();
        assert_eq!((key.issuer(), key.account()), (Some(issuer), account));
        assert_eq!(key.secret(), enrollment.secret());
    }
}

#[test]
fn svg_qr_code_decodes_to_the_uri() {
    let enrollment = Enrollment::start("Example Corp", "alice@example.com").unwrap();
    let svg = enrollment.qr_svg().unwrap();
    assert!(svg.starts_with("<?xml") && svg.contains("<svg") && svg.ends_with("</svg>"));
    // Rasterise the SVG's path (qrcode writes one `Mx yhwvhHxVy` square per
    // dark module) and decode it like the PNG.
    let view: Vec<usize> = svg
        .split("viewBox=\"0 0 ")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|n| n.parse().unwrap())
        .collect();
    let (w, h) = (view[0], view[1]);
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut pixels = vec![255_u8; w * h];
    for rect in path.split('M').filter(|r| !r.is_empty()) {
        let nums: Vec<usize> = rect
            .split(|c: char| c.is_ascii_alphabetic() || c == ' ')
            .filter(|s| !s.is_empty())
            .map(|n| n.parse().unwrap())
            .collect();
        let [x, y, dx, dy, ..] = nums[..] else {
            panic!("unexpected path element {rect}")
        };
        for row in y..y + dy {
            pixels[row * w + x..row * w + x + dx].fill(0);
        }
    }
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| pixels[y * w + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    assert_eq!(grids[0].decode().unwrap().1, *enrollment.uri_exposed());
}

/// A key URI longer than a QR code holds: a typed error, with the QR
/// encoder's error as its source, for both images.
#[test]
fn a_uri_too_long_for_a_qr_code_is_a_typed_error_with_its_source() {
    use palisade_otp::Error;
    use std::error::Error as _;

    // A 1024-byte secret is 1639 base32 characters, and a name of 127 `é`
    // 762 percent-encoded ones: about 4000 characters, past the 3391 a QR
    // code holds at level M even in its densest (alphanumeric) mode.
    let secret = "A".repeat(1639);
    let name = "%C3%A9".repeat(127);
    let uri = format!("otpauth://totp/{name}:{name}?secret={secret}&issuer={name}");
    let key = KeyUri::parse(&uri).unwrap();
    assert!(
        key.to_uri_exposed().len() > 3391,
        "{}",
        key.to_uri_exposed().len()
    );
    let errors = [key.qr_svg().unwrap_err(), key.qr_png().unwrap_err()];
    for error in &errors {
        let Error::QrUnrenderable(cause) = error else {
            panic!("{error:?}")
        };
        assert!(cause.is_uri_too_long());
        assert_eq!(
            error.to_string(),
            "cannot draw the QR code: the key URI is too long for a QR code"
        );
        let source = error.source().unwrap();
        assert_eq!(source.to_string(), cause.to_string());
        // The encoder's own error, one level down.
        assert_eq!(source.source().unwrap().to_string(), "data too long");
    }
    assert_eq!(errors[0], errors[1]);
    assert_eq!(errors[0].clone(), errors[0]);
}
