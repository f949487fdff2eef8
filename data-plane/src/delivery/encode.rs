//! Compression of delivered objects. GZIP and none are supported; the other Firehose formats
//! are refused when a delivery stream starts, so nothing is ever written in a format other
//! than the one its extension names.

use std::io::Write as _;

use fjord_common::firehose::Compression;

/// Whether objects can be written in `compression`.
pub(crate) fn is_supported(compression: Compression) -> bool {
    matches!(compression, Compression::Uncompressed | Compression::Gzip)
}

/// `data` in `compression`; `None` for a format [`is_supported`] refuses.
pub(crate) fn compress(compression: Compression, data: Vec<u8>) -> Option<Vec<u8>> {
    match compression {
        Compression::Uncompressed => Some(data),
        Compression::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(data.len() / 4),
                flate2::Compression::default(),
            );
            // Writing to a Vec cannot fail.
            encoder.write_all(&data).ok()?;
            encoder.finish().ok()
        }
        Compression::Zip | Compression::Snappy | Compression::HadoopSnappy => None,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn gzip_round_trips_and_unsupported_formats_are_refused() {
        let data = b"{\"a\":1}\n{\"a\":2}\n".repeat(100);
        let compressed = compress(Compression::Gzip, data.clone()).unwrap();
        assert!(compressed.len() < data.len());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, data);
        assert_eq!(
            compress(Compression::Uncompressed, data.clone()),
            Some(data)
        );
        for refused in [
            Compression::Zip,
            Compression::Snappy,
            Compression::HadoopSnappy,
        ] {
            assert!(!is_supported(refused));
            assert_eq!(compress(refused, vec![1]), None);
        }
    }
}
