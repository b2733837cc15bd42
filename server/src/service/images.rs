//! The image pipeline: what a photo (照片) is, checked before anything is decoded, then decoded
//! under limits, with its EXIF evidence read and its derived images made.
//!
//! Only JPEG, PNG and WebP are accepted. [`inspect`] reads the container's header and EXIF —
//! never the pixels — so a file that declares more pixels than the limits allow (a decompression
//! bomb: a few hundred bytes claiming 100000×100000) is refused before any large allocation.
//! [`render`] then decodes the whole image (a truncated file fails here; a large JPEG is decoded
//! scaled down in its DCT to what the renditions need), and makes the derived
//! images: thumbnails and the public rendition, each turned upright by the EXIF orientation,
//! flattened onto white and written as JPEG without any metadata — so what the public sees
//! carries no capture time, place or camera. The original is kept, byte for byte, as evidence.
//!
//! Everything here is CPU work on a blocking thread; callers bound how many run at once.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};

use crate::store::model::GpsPoint;

/// The limits a photo must fit before it is decoded.
#[derive(Clone, Copy, Debug)]
pub struct ImageLimits {
    /// The widest and tallest side accepted, in pixels.
    pub max_side: u32,
    /// The most pixels (width × height) accepted.
    pub max_pixels: u64,
}

/// Why a file is not an acceptable photo.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Not one of the accepted formats.
    #[error(
        "the file is {0}, not a JPEG, PNG or WebP image; photos (照片) must be JPEG, PNG or WebP"
    )]
    Unsupported(&'static str),
    /// Larger than the limits.
    #[error(
        "the image is {width}×{height} pixels, over the limit of {max_side} pixels a side and {max_pixels} pixels in all; send a smaller photo"
    )]
    TooLarge {
        /// Declared width.
        width: u32,
        /// Declared height.
        height: u32,
        /// The side limit.
        max_side: u32,
        /// The area limit.
        max_pixels: u64,
    },
    /// Decoding would need more memory than the pixel limit allows (deep colour, many frames).
    #[error(
        "the image needs more memory to decode than the limit of {max_pixels} pixels allows; send it as an ordinary 8-bit photo"
    )]
    TooMuchMemory {
        /// The area limit.
        max_pixels: u64,
    },
    /// Damaged: truncated, or not what its header says.
    #[error("the image cannot be read ({0}); it may be truncated or damaged, send it again")]
    Damaged(String),
}

/// What [`inspect`] learns from a photo without decoding it.
#[derive(Clone, Debug, PartialEq)]
pub struct Inspected {
    /// Its format.
    pub format: ImageFormat,
    /// Width in pixels, as stored.
    pub width: u32,
    /// Height in pixels, as stored.
    pub height: u32,
    /// The EXIF orientation, 1 to 8 (1 when absent or nonsense).
    pub orientation: u8,
    /// EXIF `DateTimeOriginal` (with `OffsetTimeOriginal` when present), ISO 8601.
    pub taken_at: Option<String>,
    /// EXIF GPS position.
    pub gps: Option<GpsPoint>,
}

impl Inspected {
    /// The media type, e.g. `image/jpeg`.
    pub fn media_type(&self) -> &'static str {
        self.format.to_mime_type()
    }

    /// The file extension its content type is known by (`jpg`, `png`, `webp`).
    pub fn extension(&self) -> &'static str {
        match self.format {
            ImageFormat::Png => "png",
            ImageFormat::WebP => "webp",
            _ => "jpg",
        }
    }
}

/// Reads a photo's format, dimensions and EXIF evidence, without decoding its pixels; refuses
/// what is not JPEG, PNG or WebP and what is over the limits.
pub fn inspect(bytes: &[u8], limits: ImageLimits) -> Result<Inspected, ImageError> {
    let format = match image::guess_format(bytes) {
        Ok(format @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)) => format,
        Ok(other) => return Err(ImageError::Unsupported(format_name(other))),
        Err(_) if is_heif(bytes) => {
            return Err(ImageError::Unsupported(
                "HEIC/HEIF (set the camera to \"Most Compatible\" or convert to JPEG)",
            ));
        }
        Err(_) => return Err(ImageError::Unsupported("not an image")),
    };
    let mut decoder = reader(bytes, format, limits)?
        .into_decoder()
        .map_err(|err| damaged_or_large(err, limits))?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits)?;
    let exif = decoder.exif_metadata().ok().flatten();
    let fields = exif.and_then(|raw| exif::Reader::new().read_raw(raw).ok());
    let orientation = fields
        .as_ref()
        .and_then(|f| f.get_field(exif::Tag::Orientation, exif::In::PRIMARY))
        .and_then(|f| f.value.get_uint(0))
        .and_then(|v| u8::try_from(v).ok())
        .filter(|v| (1..=8).contains(v))
        .unwrap_or(1);
    Ok(Inspected {
        format,
        width,
        height,
        orientation,
        taken_at: fields.as_ref().and_then(taken_at),
        gps: fields.as_ref().and_then(gps),
    })
}

/// One derived image to make: the longest side at most `max_side`, as JPEG at `quality`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rendition {
    /// The longest side, in pixels; a smaller photo is not enlarged.
    pub max_side: u32,
    /// JPEG quality, 1 to 100.
    pub quality: u8,
}

/// Decodes a photo [`inspect`] accepted and makes each rendition (upright, flattened onto white,
/// JPEG without metadata), in the order given. A truncated or damaged file fails here.
pub fn render(
    bytes: &[u8],
    inspected: &Inspected,
    renditions: &[Rendition],
    limits: ImageLimits,
) -> Result<Vec<Vec<u8>>, ImageError> {
    let largest = renditions.iter().map(|r| r.max_side).max().unwrap_or(0);
    let image = decode(bytes, inspected, limits, largest)?;
    let orientation =
        Orientation::from_exif(inspected.orientation).unwrap_or(Orientation::NoTransforms);
    renditions
        .iter()
        .map(|r| {
            // Shrink first and turn the small image: turning the full one would copy it whole.
            let mut small = if image.width().max(image.height()) > r.max_side {
                image.thumbnail(r.max_side, r.max_side)
            } else {
                image.clone()
            };
            small.apply_orientation(orientation);
            encode_jpeg(&flatten(&small), r.quality)
        })
        .collect()
}

/// Decodes the whole image; a JPEG whose longer side is at least twice `side` is decoded at the
/// smallest DCT scale (1/2, 1/4 or 1/8) that still covers `side`, all the renditions need.
fn decode(
    bytes: &[u8],
    inspected: &Inspected,
    limits: ImageLimits,
    side: u32,
) -> Result<DynamicImage, ImageError> {
    let jpeg = inspected.format == ImageFormat::Jpeg;
    if jpeg && !jpeg_is_whole(bytes) {
        return Err(ImageError::Damaged("the JPEG has no end marker".into()));
    }
    if jpeg && inspected.width.max(inspected.height) / 2 >= side {
        check_size(inspected.width, inspected.height, limits)?;
        if let Some(image) = decode_jpeg_scaled(bytes, limits, side)? {
            return Ok(image);
        }
    }
    let decoder = reader(bytes, inspected.format, limits)?
        .into_decoder()
        .map_err(|err| damaged_or_large(err, limits))?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, limits)?;
    // The decoders hold their own allocations to the limit, but not the pixel buffer they
    // decode into (a 16-bit PNG takes 8 bytes a pixel): check its size, for every format.
    if decoder.total_bytes() > max_alloc(limits) {
        return Err(ImageError::TooMuchMemory {
            max_pixels: limits.max_pixels,
        });
    }
    DynamicImage::from_decoder(decoder).map_err(|err| damaged_or_large(err, limits))
}

/// Decodes a JPEG scaled in its DCT to the smallest of 1/8, 1/4 and 1/2 whose longer side is
/// still at least `side`: a 12-megapixel photo is decoded at 500×375 for a 320-pixel thumbnail
/// (a sixty-fourth of the pixels) and at 2000×1500 for a 1280-pixel view (a quarter), in that
/// share of the memory and of the inverse DCT's work. `None` for what this decoder does not scale (CMYK, 16-bit), which is decoded whole.
fn decode_jpeg_scaled(
    bytes: &[u8],
    limits: ImageLimits,
    side: u32,
) -> Result<Option<DynamicImage>, ImageError> {
    let damaged = |err: jpeg_decoder::Error| ImageError::Damaged(err.to_string());
    let mut decoder = jpeg_decoder::Decoder::new(bytes);
    decoder.set_max_decoding_buffer_size(usize::try_from(max_alloc(limits)).unwrap_or(usize::MAX));
    decoder.read_info().map_err(damaged)?;
    let Some(info) = decoder.info() else {
        return Ok(None);
    };
    if !matches!(
        info.pixel_format,
        jpeg_decoder::PixelFormat::L8 | jpeg_decoder::PixelFormat::RGB24
    ) {
        return Ok(None);
    }
    let side = u16::try_from(side).unwrap_or(u16::MAX);
    let (width, height) = decoder.scale(side, side).map_err(damaged)?;
    let pixels = decoder.decode().map_err(damaged)?;
    let (width, height) = (u32::from(width), u32::from(height));
    let image = match info.pixel_format {
        jpeg_decoder::PixelFormat::L8 => {
            image::GrayImage::from_raw(width, height, pixels).map(DynamicImage::ImageLuma8)
        }
        _ => RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8),
    };
    image.map(Some).ok_or_else(|| {
        ImageError::Damaged("the JPEG decoded to fewer pixels than it declares".into())
    })
}

fn reader(
    bytes: &[u8],
    format: ImageFormat,
    limits: ImageLimits,
) -> Result<ImageReader<Cursor<&[u8]>>, ImageError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    // The sides are checked by `check_size`, which names them; the decoder is held to the
    // allocation the pixel limit allows.
    let mut image_limits = Limits::default();
    image_limits.max_alloc = Some(max_alloc(limits));
    reader.limits(image_limits);
    Ok(reader)
}

/// The most memory one decode may take: 4 bytes a pixel (RGBA, 8 bits a channel) of the
/// pixel limit, and 16 MiB over.
fn max_alloc(limits: ImageLimits) -> u64 {
    limits.max_pixels.saturating_mul(4).saturating_add(1 << 24)
}

fn check_size(width: u32, height: u32, limits: ImageLimits) -> Result<(), ImageError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(ImageError::Damaged("the image has no pixels".into()));
    }
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(ImageError::TooLarge {
            width,
            height,
            max_side: limits.max_side,
            max_pixels: limits.max_pixels,
        });
    }
    Ok(())
}

fn damaged_or_large(err: image::ImageError, limits: ImageLimits) -> ImageError {
    match err {
        image::ImageError::Limits(_) => ImageError::TooMuchMemory {
            max_pixels: limits.max_pixels,
        },
        other => ImageError::Damaged(other.to_string()),
    }
}

/// Whether a JPEG ends with its end-of-image marker (`FF D9`), allowing trailing padding that
/// some cameras append. A file cut off in transit lacks it, and some decoders would otherwise
/// fill the missing rows with grey rather than fail.
fn jpeg_is_whole(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(64 * 1024)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn is_heif(bytes: &[u8]) -> bool {
    bytes.len() >= 12
        && &bytes[4..8] == b"ftyp"
        && matches!(
            &bytes[8..12],
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"mif1" | b"msf1" | b"heim" | b"heis" | b"avif"
        )
}

fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Gif => "a GIF image",
        ImageFormat::Bmp => "a BMP image",
        ImageFormat::Tiff => "a TIFF image",
        ImageFormat::Avif => "an AVIF image",
        ImageFormat::Ico => "an icon",
        _ => "an image of another format",
    }
}

fn taken_at(fields: &exif::Exif) -> Option<String> {
    let field = fields.get_field(exif::Tag::DateTimeOriginal, exif::In::PRIMARY)?;
    let exif::Value::Ascii(ref parts) = field.value else {
        return None;
    };
    let dt = exif::DateTime::from_ascii(parts.first()?).ok()?;
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second
    );
    if let Some(offset) = fields
        .get_field(exif::Tag::OffsetTimeOriginal, exif::In::PRIMARY)
        .and_then(|f| match &f.value {
            exif::Value::Ascii(parts) => parts
                .first()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            _ => None,
        })
        .filter(|o| o.len() == 6 && (o.starts_with('+') || o.starts_with('-')))
    {
        text.push_str(&offset);
    }
    Some(text)
}

fn gps(fields: &exif::Exif) -> Option<GpsPoint> {
    let degrees = |tag, reference, negative: u8| -> Option<f64> {
        let field = fields.get_field(tag, exif::In::PRIMARY)?;
        let exif::Value::Rational(ref parts) = field.value else {
            return None;
        };
        if parts.len() < 3 || parts.iter().any(|p| p.denom == 0) {
            return None;
        }
        let value = parts[0].to_f64() + parts[1].to_f64() / 60.0 + parts[2].to_f64() / 3600.0;
        let sign = match fields.get_field(reference, exif::In::PRIMARY)?.value {
            exif::Value::Ascii(ref r) if r.first()?.first() == Some(&negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * value)
    };
    let lat = degrees(exif::Tag::GPSLatitude, exif::Tag::GPSLatitudeRef, b'S')?;
    let lon = degrees(exif::Tag::GPSLongitude, exif::Tag::GPSLongitudeRef, b'W')?;
    if !(-90.0..=90.0).contains(&lat) || !(-180.0..=180.0).contains(&lon) {
        return None;
    }
    let alt = fields
        .get_field(exif::Tag::GPSAltitude, exif::In::PRIMARY)
        .and_then(|f| match f.value {
            exif::Value::Rational(ref r) if r.first().is_some_and(|r| r.denom != 0) => {
                Some(r[0].to_f64())
            }
            _ => None,
        })
        .map(|alt| {
            let below = fields
                .get_field(exif::Tag::GPSAltitudeRef, exif::In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
                == Some(1);
            if below { -alt } else { alt }
        });
    Some(GpsPoint { lat, lon, alt })
}

/// The image as 8-bit RGB, transparent parts laid over white.
fn flatten(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut rgb = RgbImage::new(rgba.width(), rgba.height());
    for (out, px) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = px.0;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        out.0 = [over(r), over(g), over(b)];
    }
    rgb
}

fn encode_jpeg(image: &RgbImage, quality: u8) -> Result<Vec<u8>, ImageError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(image)
        .map_err(|err| ImageError::Damaged(format!("cannot encode a rendition: {err}")))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ImageLimits = ImageLimits {
        max_side: 8000,
        max_pixels: 40_000_000,
    };

    fn png(width: u32, height: u32) -> Vec<u8> {
        let image = DynamicImage::new_rgba8(width, height);
        let mut out = Cursor::new(Vec::new());
        image.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn formats_other_than_jpeg_png_webp_are_refused_by_name() {
        let mut heic = vec![0, 0, 0, 24];
        heic.extend_from_slice(b"ftypheic");
        heic.extend_from_slice(&[0; 16]);
        let err = inspect(&heic, LIMITS).unwrap_err();
        assert!(err.to_string().contains("HEIC"), "{err}");
        let err = inspect(b"just some text, not a photo", LIMITS).unwrap_err();
        assert!(matches!(err, ImageError::Unsupported("not an image")));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(
            inspect(gif, LIMITS).unwrap_err(),
            ImageError::Unsupported(_)
        ));
    }

    #[test]
    fn a_transparent_png_is_flattened_onto_white() {
        let bytes = png(20, 10);
        let inspected = inspect(&bytes, LIMITS).unwrap();
        assert_eq!(
            (inspected.width, inspected.height, inspected.orientation),
            (20, 10, 1)
        );
        let out = render(
            &bytes,
            &inspected,
            &[Rendition {
                max_side: 8,
                quality: 90,
            }],
            LIMITS,
        )
        .unwrap();
        let small = image::load_from_memory(&out[0]).unwrap().to_rgb8();
        assert_eq!(small.dimensions(), (8, 4));
        assert!(
            small.pixels().all(|p| p.0.iter().all(|c| *c > 240)),
            "white, not black"
        );
    }

    /// A 3000×2000 JPEG: left half red, right half blue, a grey band across the middle.
    fn halves_jpeg() -> Vec<u8> {
        let image = RgbImage::from_fn(3000, 2000, |x, y| {
            if (900..1100).contains(&y) {
                image::Rgb([128, 128, 128])
            } else if x < 1500 {
                image::Rgb([220, 20, 20])
            } else {
                image::Rgb([20, 20, 220])
            }
        });
        encode_jpeg(&image, 90).unwrap()
    }

    #[test]
    fn a_large_jpeg_is_decoded_scaled_down_to_what_the_renditions_need() {
        let bytes = halves_jpeg();
        let inspected = inspect(&bytes, LIMITS).unwrap();
        // A 320-pixel thumbnail needs only an eighth of each side; 1280 pixels, a half.
        let eighth = decode(&bytes, &inspected, LIMITS, 320).unwrap();
        assert_eq!((eighth.width(), eighth.height()), (375, 250));
        let half = decode(&bytes, &inspected, LIMITS, 1280).unwrap();
        assert_eq!((half.width(), half.height()), (1500, 1000));
        let whole = decode(&bytes, &inspected, LIMITS, 2048).unwrap();
        assert_eq!((whole.width(), whole.height()), (3000, 2000));
        // The thumbnail made from the scaled decode is the one made from the whole image.
        let from = |image: &DynamicImage| image.thumbnail(320, 320).to_rgb8();
        let (scaled, full) = (from(&eighth), from(&whole));
        assert_eq!(scaled.dimensions(), full.dimensions());
        let difference: u64 = scaled
            .as_raw()
            .iter()
            .zip(full.as_raw())
            .map(|(a, b)| u64::from(a.abs_diff(*b)))
            .sum();
        let mean = difference as f64 / scaled.as_raw().len() as f64;
        assert!(
            mean < 4.0,
            "the scaled thumbnail differs by {mean} a channel"
        );
        // A cut-off JPEG is refused on the scaled path as on the other.
        let cut = &bytes[..bytes.len() - 100];
        assert!(matches!(
            decode(cut, &inspected, LIMITS, 320),
            Err(ImageError::Damaged(_))
        ));
    }

    #[test]
    fn a_small_side_limit_refuses_before_decoding() {
        let bytes = png(300, 10);
        let limits = ImageLimits {
            max_side: 200,
            max_pixels: 1_000_000,
        };
        assert!(matches!(
            inspect(&bytes, limits).unwrap_err(),
            ImageError::TooLarge {
                width: 300,
                height: 10,
                ..
            }
        ));
    }
}
