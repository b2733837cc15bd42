//! Real image files for tests: JPEGs with and without EXIF (orientation, capture time, GPS), a
//! PNG that declares far more pixels than it holds, and uploads over real HTTP in every form the
//! server takes.

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::{ImageEncoder, Rgb, RgbImage};
use sha2::{Digest, Sha256};

use crate::TestServer;

/// sha256 as lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A `width`×`height` picture: its left half red, its right half blue, with a little noise from
/// `seed` so that different seeds make different files.
pub fn picture(width: u32, height: u32, seed: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        // A cheap integer hash per pixel: noise a JPEG cannot squeeze away, like a real photo's.
        let mut h =
            x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663) ^ seed.wrapping_mul(83_492_791);
        h ^= h >> 13;
        h = h.wrapping_mul(0x5bd1_e995);
        h ^= h >> 15;
        let n = (h % 48) as u8;
        if x < width / 2 {
            Rgb([200 + n, n, n])
        } else {
            Rgb([n, n, 200 + n])
        }
    })
}

/// EXIF for a photo: an orientation, a capture time, and a GPS position.
#[derive(Clone, Debug, Default)]
pub struct Exif {
    /// EXIF orientation, 1 to 8.
    pub orientation: Option<u16>,
    /// `YYYY:MM:DD HH:MM:SS`.
    pub taken_at: Option<&'static str>,
    /// `+08:00`.
    pub offset: Option<&'static str>,
    /// Latitude and longitude, degrees (north and east positive).
    pub gps: Option<(f64, f64)>,
}

fn rational(value: f64) -> Vec<exif::Rational> {
    let degrees = value.abs().floor();
    let minutes = ((value.abs() - degrees) * 60.0).floor();
    let seconds = ((value.abs() - degrees) * 60.0 - minutes) * 60.0;
    vec![
        exif::Rational::from((degrees as u32, 1)),
        exif::Rational::from((minutes as u32, 1)),
        exif::Rational::from(((seconds * 1000.0).round() as u32, 1000)),
    ]
}

fn exif_bytes(exif: &Exif) -> Vec<u8> {
    use exif::{Field, In, Tag, Value};
    let mut fields = Vec::new();
    if let Some(orientation) = exif.orientation {
        fields.push(Field {
            tag: Tag::Orientation,
            ifd_num: In::PRIMARY,
            value: Value::Short(vec![orientation]),
        });
    }
    if let Some(taken_at) = exif.taken_at {
        fields.push(Field {
            tag: Tag::DateTimeOriginal,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![taken_at.as_bytes().to_vec()]),
        });
    }
    if let Some(offset) = exif.offset {
        fields.push(Field {
            tag: Tag::OffsetTimeOriginal,
            ifd_num: In::PRIMARY,
            value: Value::Ascii(vec![offset.as_bytes().to_vec()]),
        });
    }
    if let Some((lat, lon)) = exif.gps {
        let reference = |r: &str| Value::Ascii(vec![r.as_bytes().to_vec()]);
        fields.extend([
            Field {
                tag: Tag::GPSLatitudeRef,
                ifd_num: In::PRIMARY,
                value: reference(if lat < 0.0 { "S" } else { "N" }),
            },
            Field {
                tag: Tag::GPSLatitude,
                ifd_num: In::PRIMARY,
                value: Value::Rational(rational(lat)),
            },
            Field {
                tag: Tag::GPSLongitudeRef,
                ifd_num: In::PRIMARY,
                value: reference(if lon < 0.0 { "W" } else { "E" }),
            },
            Field {
                tag: Tag::GPSLongitude,
                ifd_num: In::PRIMARY,
                value: Value::Rational(rational(lon)),
            },
        ]);
    }
    let mut writer = exif::experimental::Writer::new();
    for field in &fields {
        writer.push_field(field);
    }
    let mut out = Cursor::new(Vec::new());
    writer.write(&mut out, false).unwrap();
    out.into_inner()
}

/// A JPEG of [`picture`], with `exif` embedded when given.
pub fn jpeg(width: u32, height: u32, seed: u32, exif: Option<&Exif>) -> Vec<u8> {
    let image = picture(width, height, seed);
    let mut out = Vec::new();
    let mut encoder = JpegEncoder::new_with_quality(&mut out, 90);
    if let Some(exif) = exif {
        encoder.set_exif_metadata(exif_bytes(exif)).unwrap();
    }
    encoder
        .write_image(
            image.as_raw(),
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
    out
}

/// A PNG of a few hundred bytes whose header declares `side`×`side` pixels: a decompression
/// bomb, as far as any decoder that believes the header is concerned.
pub fn png_bomb(side: u32) -> Vec<u8> {
    png_declaring(side, 8)
}

/// A PNG of a few hundred bytes whose header declares `side`×`side` RGBA pixels of
/// `bit_depth` bits a channel (8 or 16).
pub fn png_declaring(side: u32, bit_depth: u8) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(data);
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&crc.finalize().to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::new();
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&side.to_be_bytes());
    header.extend_from_slice(&[bit_depth, 6, 0, 0, 0]); // RGBA, deflate, no interlace
    chunk(&mut out, b"IHDR", &header);
    // A little zlib stream of zeros: what a bomb would inflate from.
    chunk(
        &mut out,
        b"IDAT",
        &[
            0x78, 0x9c, 0xed, 0xc1, 0x01, 0x0d, 0x00, 0x00, 0x00, 0xc2, 0xa0, 0xf7, 0x4f, 0x6d,
            0x0e, 0x37, 0xa0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A finished upload's answer: status, headers and the body as JSON.
#[derive(Debug)]
pub struct UploadReply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as JSON (`Null` when empty).
    pub body: serde_json::Value,
}

impl UploadReply {
    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name)?.to_str().ok()
    }

    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    /// `Upload-Offset`, failing the test when it is missing.
    #[track_caller]
    pub fn offset(&self) -> u64 {
        self.header("upload-offset")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no Upload-Offset: {self:?}"))
    }
}

async fn upload_reply(response: reqwest::Response) -> UploadReply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    UploadReply {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    }
}

/// `sha256 <base64>` of a chunk, for `Upload-Checksum`.
pub fn checksum(chunk: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "sha256 {}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(chunk))
    )
}

impl TestServer {
    /// `POST /v1/uploads` for a file of `length` bytes announced with `sha256`.
    pub async fn create_upload(&self, token: &str, length: u64, sha256: &str) -> UploadReply {
        use base64::Engine as _;
        let metadata = format!(
            "filename {},sha256 {}",
            base64::engine::general_purpose::STANDARD.encode("现场.jpg"),
            base64::engine::general_purpose::STANDARD.encode(sha256)
        );
        let response = reqwest::Client::new()
            .post(self.url("/v1/uploads"))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Length", length)
            .header("Upload-Metadata", metadata)
            .send()
            .await
            .unwrap();
        upload_reply(response).await
    }

    /// Creates an upload that must be new, and returns its `Location`.
    pub async fn upload_location(&self, token: &str, length: u64, sha256: &str) -> String {
        let created = self.create_upload(token, length, sha256).await;
        assert_eq!(created.status, 201, "{created:?}");
        created.header("location").unwrap().to_string()
    }

    /// `HEAD` an upload.
    pub async fn upload_offset(&self, token: &str, location: &str) -> UploadReply {
        let response = reqwest::Client::new()
            .head(self.url(location))
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        upload_reply(response).await
    }

    /// Appends `chunk` at `offset`: `PATCH`, or `POST` with `X-HTTP-Method-Override` when
    /// `override_method`; with its checksum when `checksum` is given.
    pub async fn append(
        &self,
        token: &str,
        location: &str,
        offset: u64,
        chunk: &[u8],
        checksum: Option<String>,
        override_method: bool,
    ) -> UploadReply {
        let http = reqwest::Client::new();
        let mut request = if override_method {
            http.post(self.url(location))
                .header("X-HTTP-Method-Override", "PATCH")
        } else {
            http.patch(self.url(location))
        };
        request = request
            .bearer_auth(token)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset)
            .header("Content-Type", "application/offset+octet-stream")
            .body(chunk.to_vec());
        if let Some(checksum) = checksum {
            request = request.header("Upload-Checksum", checksum);
        }
        upload_reply(request.send().await.unwrap()).await
    }

    /// Uploads a whole file by the resumable protocol in chunks of `chunk` bytes; returns the
    /// answer to the last append (or to the creation, when the server had the file).
    pub async fn upload(&self, token: &str, bytes: &[u8], chunk: usize) -> UploadReply {
        let created = self
            .create_upload(token, bytes.len() as u64, &sha256_hex(bytes))
            .await;
        if created.status != 201 {
            return created;
        }
        let location = created.header("location").unwrap().to_string();
        let mut offset = 0;
        loop {
            let end = (offset + chunk).min(bytes.len());
            let part = &bytes[offset..end];
            let reply = self
                .append(
                    token,
                    &location,
                    offset as u64,
                    part,
                    Some(checksum(part)),
                    false,
                )
                .await;
            if reply.status != 204 {
                return reply;
            }
            offset = end;
        }
    }

    /// `POST /v1/blobs` as `wx.uploadFile` sends it: one multipart form with `file` and
    /// `sha256`.
    pub async fn upload_form(&self, token: &str, bytes: &[u8], sha256: &str) -> UploadReply {
        let boundary = "----wxUploadBoundary7MA4YWxkTrZu0gW";
        let mut body = Vec::new();
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"sha256\"\r\n\r\n{sha256}\r\n\
                 --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"wx-tmp.jpg\"\r\n\
                 Content-Type: image/jpeg\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let response = reqwest::Client::new()
            .post(self.url("/v1/blobs"))
            .bearer_auth(token)
            .header(
                "Content-Type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        upload_reply(response).await
    }

    /// `GET path` with a token (or none) and extra headers; the raw answer.
    pub async fn fetch(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new().get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }
}
