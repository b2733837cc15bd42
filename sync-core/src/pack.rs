//! Records compressed for storage, on the server and in a device's replica: JSON (an event's
//! canonical encoding, a projection) compressed with zstd and a dictionary trained on the
//! project's own records.
//!
//! A packed record is one format byte ([`FORMAT_PACKED`]), one byte naming its dictionary, then
//! one zstd frame that says its size. Reading one is bounded ([`MAX_UNPACKED_BYTES`]) and a
//! corrupt one is an error, never a panic.

/// The leading byte of a packed record.
pub const FORMAT_PACKED: u8 = 3;

/// The most bytes a record may hold packed: far more than an event
/// ([`crate::event::MAX_EVENT_BYTES`]) or the largest projection the kinds make (a card or a
/// schedule with its whole history is a few MB). [`pack`] refuses more, so nothing is stored
/// that could not be read, and [`unpack`] refuses a frame that claims more before it allocates.
pub const MAX_UNPACKED_BYTES: usize = 64 * 1024 * 1024;

/// zstd's level for records: the default. Higher levels gain little on records of a few KB
/// once the dictionary has their common text.
const LEVEL: i32 = 3;

/// Why a record could not be packed or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// zstd failed to compress.
    #[error("zstd: {0}")]
    Zstd(std::io::Error),
    /// The record is larger than a packed record may be ([`MAX_UNPACKED_BYTES`]).
    #[error("a record of {0} bytes is larger than {MAX_UNPACKED_BYTES}, the most one may hold")]
    TooLarge(usize),
    /// The record is not a packed record this release reads.
    #[error("corrupt {what} record: {why}")]
    Corrupt {
        /// What the record is.
        what: String,
        /// What is wrong with it.
        why: String,
    },
}

fn zstd_error(err: std::io::Error) -> PackError {
    PackError::Zstd(err)
}

/// A zstd dictionary trained on the project's own records (`anjian-server train-dictionaries`).
/// Its byte in a packed record names it, so a dictionary, once records are written with it, is
/// never changed: a better one is added with a new byte, and the old one stays to read the
/// records written with it (`dictionaries_are_fixed` pins each by its hash).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dictionary {
    /// Events' canonical encodings (the signed JSON).
    Events = 1,
    /// Projections' JSON.
    Projections = 2,
}

impl Dictionary {
    /// Every dictionary, by byte.
    pub const ALL: [Dictionary; 2] = [Dictionary::Events, Dictionary::Projections];

    /// The dictionary's bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Dictionary::Events => include_bytes!("dictionaries/events-1.zdict"),
            Dictionary::Projections => include_bytes!("dictionaries/projections-1.zdict"),
        }
    }

    /// The file it is kept in, under `sync-core/src/dictionaries/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Dictionary::Events => "events-1.zdict",
            Dictionary::Projections => "projections-1.zdict",
        }
    }

    fn from_byte(byte: u8) -> Option<Dictionary> {
        Dictionary::ALL.into_iter().find(|d| *d as u8 == byte)
    }

    fn index(self) -> usize {
        self as usize - 1
    }
}

/// Each dictionary prepared once, for compressing and for decompressing.
struct Prepared {
    encoders: Vec<zstd::dict::EncoderDictionary<'static>>,
    decoders: Vec<zstd::dict::DecoderDictionary<'static>>,
}

static PREPARED: std::sync::LazyLock<Prepared> = std::sync::LazyLock::new(|| Prepared {
    encoders: Dictionary::ALL
        .iter()
        .map(|d| zstd::dict::EncoderDictionary::copy(d.bytes(), LEVEL))
        .collect(),
    decoders: Dictionary::ALL
        .iter()
        .map(|d| zstd::dict::DecoderDictionary::copy(d.bytes()))
        .collect(),
});

thread_local! {
    /// A compression context per thread and dictionary, made on first use: a context is
    /// hundreds of KB and slow to make, a frame is a few KB.
    static COMPRESSORS: std::cell::RefCell<Vec<Option<zstd::bulk::Compressor<'static>>>> =
        const { std::cell::RefCell::new(Vec::new()) };
    static DECOMPRESSORS: std::cell::RefCell<Vec<Option<zstd::bulk::Decompressor<'static>>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The context of `dictionary` among a thread's `slots`, made by `make` on first use.
fn context<T>(
    slots: &mut Vec<Option<T>>,
    dictionary: Dictionary,
    make: impl FnOnce() -> std::io::Result<T>,
) -> Result<&mut T, PackError> {
    if slots.is_empty() {
        slots.resize_with(Dictionary::ALL.len(), || None);
    }
    match &mut slots[dictionary.index()] {
        Some(context) => Ok(context),
        slot @ None => Ok(slot.insert(make().map_err(zstd_error)?)),
    }
}

/// Compresses `bytes` with `dictionary` onto `out`, after the format byte and the dictionary's
/// byte: the packed form [`unpack`] reads.
pub fn pack(dictionary: Dictionary, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), PackError> {
    if bytes.len() > MAX_UNPACKED_BYTES {
        return Err(PackError::TooLarge(bytes.len()));
    }
    out.push(FORMAT_PACKED);
    out.push(dictionary as u8);
    COMPRESSORS.with_borrow_mut(|compressors| {
        let compressor = context(compressors, dictionary, || {
            zstd::bulk::Compressor::with_prepared_dictionary(&PREPARED.encoders[dictionary.index()])
        })?;
        // Into the slice after what `out` holds (a `Vec` given to zstd is written from its
        // start), then cut to what the frame took.
        let start = out.len();
        out.resize(start + zstd::zstd_safe::compress_bound(bytes.len()), 0);
        match compressor.compress_to_buffer(bytes, &mut out[start..]) {
            Ok(written) => {
                out.truncate(start + written);
                Ok(())
            }
            Err(err) => {
                out.truncate(start - 2);
                Err(zstd_error(err))
            }
        }
    })
}

/// The bytes a packed record holds (written by [`pack`], format byte included), at most
/// [`MAX_UNPACKED_BYTES`]; `what` names it in the error.
pub fn unpack(what: &str, bytes: &[u8]) -> Result<Vec<u8>, PackError> {
    match bytes.split_first() {
        Some((&FORMAT_PACKED, rest)) => unpack_frame(what, rest),
        Some((version, _)) => Err(corrupt(
            what,
            &format_args!("format version {version}, not a packed one"),
        )),
        None => Err(corrupt(what, &"empty")),
    }
}

fn corrupt(what: &str, why: &dyn std::fmt::Display) -> PackError {
    PackError::Corrupt {
        what: what.to_string(),
        why: why.to_string(),
    }
}

/// The dictionary byte and frame after the format byte: [`unpack`] for a caller that read the
/// format byte itself.
pub fn unpack_frame(what: &str, rest: &[u8]) -> Result<Vec<u8>, PackError> {
    let corrupt = |why: &dyn std::fmt::Display| corrupt(what, why);
    let (&byte, frame) = rest
        .split_first()
        .ok_or_else(|| corrupt(&"no dictionary"))?;
    let dictionary = Dictionary::from_byte(byte)
        .ok_or_else(|| corrupt(&format_args!("unknown dictionary {byte}")))?;
    // The frame says how large it unpacks to (the compressor writes it); a frame that does not
    // say, or says more than the bound, is refused before anything is allocated.
    let size = match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size <= MAX_UNPACKED_BYTES as u64 => size as usize,
        Ok(Some(size)) => return Err(corrupt(&format_args!("unpacks to {size} bytes"))),
        Ok(None) | Err(_) => return Err(corrupt(&"no content size")),
    };
    DECOMPRESSORS.with_borrow_mut(|decompressors| {
        let decompressor = context(decompressors, dictionary, || {
            zstd::bulk::Decompressor::with_prepared_dictionary(
                &PREPARED.decoders[dictionary.index()],
            )
        })?;
        let mut out = Vec::with_capacity(size);
        decompressor
            .decompress_to_buffer(frame, &mut out)
            .map_err(|err| corrupt(&err))?;
        if out.len() != size {
            return Err(corrupt(&"shorter than its frame says"));
        }
        Ok(out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dictionaries records are written with, by hash: a dictionary in use is never
    /// changed, or the records written with it could not be read.
    #[test]
    fn dictionaries_are_fixed() {
        use sha2::Digest;
        for (dictionary, sha256) in [
            (
                Dictionary::Events,
                "3e5889073101e4e78ec201f052339d66c3c4f632f84d47ebd0a5e702e7ff7ee4",
            ),
            (
                Dictionary::Projections,
                "acd1549a4b7269685c8802bb1e6f77065f01c9dba39ac1e1e565f81fd7421771",
            ),
        ] {
            assert_eq!(
                hex::encode(sha2::Sha256::digest(dictionary.bytes())),
                sha256,
                "{dictionary:?}"
            );
        }
    }

    #[test]
    fn a_packed_record_is_unpacked_within_bounds_or_refused() {
        let mut packed = Vec::new();
        pack(Dictionary::Events, b"{\"a\":1}", &mut packed).unwrap();
        assert_eq!(unpack("test", &packed).unwrap(), b"{\"a\":1}");
        // More than the bound is not packed, so nothing unreadable is stored; and a frame that
        // claims more is refused before anything is allocated.
        let big = vec![b' '; MAX_UNPACKED_BYTES + 1];
        let mut refused = Vec::new();
        assert!(matches!(
            pack(Dictionary::Events, &big, &mut refused),
            Err(PackError::TooLarge(_))
        ));
        assert!(refused.is_empty());
        let mut too_big = vec![FORMAT_PACKED, Dictionary::Events as u8];
        too_big.extend(zstd::bulk::compress(&big, 1).unwrap());
        let err = unpack("test", &too_big).unwrap_err().to_string();
        assert!(err.contains("unpacks to"), "{err}");
        // A frame without its size (streamed): refused.
        let mut streamed = vec![FORMAT_PACKED, Dictionary::Events as u8];
        let mut encoder = zstd::stream::Encoder::new(&mut streamed, 3).unwrap();
        std::io::Write::write_all(&mut encoder, b"{}").unwrap();
        encoder.finish().unwrap();
        let err = unpack("test", &streamed).unwrap_err().to_string();
        assert!(err.contains("no content size"), "{err}");
        // An unknown dictionary, a cut frame, and nothing at all: corrupt, not a panic.
        let mut unknown = packed.clone();
        unknown[1] = 9;
        assert!(
            unpack("test", &unknown)
                .unwrap_err()
                .to_string()
                .contains("unknown dictionary")
        );
        let cut = &packed[..packed.len() - 2];
        assert!(
            unpack("test", cut)
                .unwrap_err()
                .to_string()
                .contains("corrupt test record")
        );
        assert!(unpack("test", &[FORMAT_PACKED]).is_err());
        assert!(unpack("test", &packed[..3]).is_err());
    }
}
