//! Compression of delivered objects: GZIP, Snappy (the Snappy framing format, as Firehose
//! writes it), HADOOP_SNAPPY (Hadoop's block format, readable by Hadoop's SnappyCodec) or
//! none. ZIP is refused when a delivery stream starts, so nothing is ever written in a format
//! other than the one its extension names.

use std::io::Write as _;

use fjord_common::firehose::Compression;

/// Largest uncompressed chunk of one HADOOP_SNAPPY block (Hadoop's default buffer size).
const HADOOP_BLOCK_BYTES: usize = 256 * 1024;

/// Whether objects can be written in `compression`.
pub(crate) fn is_supported(compression: Compression) -> bool {
    !matches!(compression, Compression::Zip)
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
        Compression::Snappy => {
            let mut encoder = snap::write::FrameEncoder::new(Vec::with_capacity(data.len() / 2));
            encoder.write_all(&data).ok()?;
            encoder.into_inner().ok()
        }
        Compression::HadoopSnappy => hadoop_snappy(&data),
        Compression::Zip => None,
    }
}

/// Hadoop's block format: per chunk, the uncompressed length, then one compressed block
/// with its length (both 4-byte big-endian).
fn hadoop_snappy(data: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = snap::raw::Encoder::new();
    let mut out = Vec::with_capacity(data.len() / 2 + 16);
    for chunk in data.chunks(HADOOP_BLOCK_BYTES) {
        let block = encoder.compress_vec(chunk).ok()?;
        out.extend_from_slice(&u32::try_from(chunk.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&u32::try_from(block.len()).ok()?.to_be_bytes());
        out.extend_from_slice(&block);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    fn sample() -> Vec<u8> {
        (0..40_000u32)
            .flat_map(|i| format!("{{\"n\":{i}}}\n").into_bytes())
            .collect()
    }

    #[test]
    fn gzip_round_trips() {
        let data = sample();
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
    }

    #[test]
    fn snappy_is_the_framing_format() {
        let data = sample();
        let compressed = compress(Compression::Snappy, data.clone()).unwrap();
        assert!(compressed.starts_with(b"\xff\x06\x00\x00sNaPpY"));
        let mut decoded = Vec::new();
        snap::read::FrameDecoder::new(compressed.as_slice())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, data);
    }

    #[test]
    fn hadoop_snappy_is_length_prefixed_blocks() {
        let data = sample();
        assert!(data.len() > HADOOP_BLOCK_BYTES, "several blocks");
        let compressed = compress(Compression::HadoopSnappy, data.clone()).unwrap();
        let mut decoded = Vec::new();
        let mut rest = compressed.as_slice();
        let mut decoder = snap::raw::Decoder::new();
        while !rest.is_empty() {
            let raw = u32::from_be_bytes(rest[..4].try_into().unwrap()) as usize;
            let length = u32::from_be_bytes(rest[4..8].try_into().unwrap()) as usize;
            let block = decoder.decompress_vec(&rest[8..8 + length]).unwrap();
            assert_eq!(block.len(), raw);
            assert!(raw <= HADOOP_BLOCK_BYTES);
            decoded.extend_from_slice(&block);
            rest = &rest[8 + length..];
        }
        assert_eq!(decoded, data);
        assert_eq!(
            compress(Compression::HadoopSnappy, Vec::new()),
            Some(Vec::new())
        );
    }

    #[test]
    fn zip_is_refused() {
        assert!(!is_supported(Compression::Zip));
        assert_eq!(compress(Compression::Zip, vec![1]), None);
        for supported in [
            Compression::Uncompressed,
            Compression::Gzip,
            Compression::Snappy,
            Compression::HadoopSnappy,
        ] {
            assert!(is_supported(supported));
        }
    }
}
