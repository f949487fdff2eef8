//! Compression of delivered objects: GZIP, Snappy (the Snappy framing format, as Firehose
//! writes it), HADOOP_SNAPPY (Hadoop's block format, readable by Hadoop's SnappyCodec), ZIP (an
//! archive holding one deflated file, named like the object without `.zip`) or none.

use std::io::Write as _;

use fjord_common::firehose::Compression;

/// Largest uncompressed chunk of one HADOOP_SNAPPY block (Hadoop's default buffer size).
const HADOOP_BLOCK_BYTES: usize = 256 * 1024;

/// `data` in `compression`; `entry` names the file inside a ZIP archive. `None` only if the
/// data is too large for the format (over 4 GiB for ZIP, which buffers never reach).
pub(crate) fn compress(compression: Compression, data: Vec<u8>, entry: &str) -> Option<Vec<u8>> {
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
        Compression::Zip => zip(entry, &data, chrono::Utc::now()),
    }
}

/// A ZIP archive of one deflated file `entry` holding `data`, dated `at`: local header, data,
/// central directory, end record (no ZIP64: at most 4 GiB).
fn zip(entry: &str, data: &[u8], at: chrono::DateTime<chrono::Utc>) -> Option<Vec<u8>> {
    use chrono::{Datelike as _, Timelike as _};
    let mut deflater = flate2::write::DeflateEncoder::new(
        Vec::with_capacity(data.len() / 4),
        flate2::Compression::default(),
    );
    deflater.write_all(data).ok()?;
    let compressed = deflater.finish().ok()?;
    let mut crc = flate2::Crc::new();
    crc.update(data);
    let crc = crc.sum();
    let size = u32::try_from(data.len()).ok()?;
    let compressed_size = u32::try_from(compressed.len()).ok()?;
    let name = entry.as_bytes();
    let name_length = u16::try_from(name.len()).ok()?;
    // MS-DOS time and date (two-second resolution, years from 1980).
    let time = ((at.hour() << 11) | (at.minute() << 5) | (at.second() / 2)) as u16;
    let date = (((at.year().clamp(1980, 2107) - 1980) as u32) << 9) | (at.month() << 5) | at.day();
    let date = date as u16;
    // Version 2.0, UTF-8 names (bit 11), deflate (8).
    let common = |out: &mut Vec<u8>| {
        out.extend_from_slice(&20u16.to_le_bytes());
        out.extend_from_slice(&0x0800u16.to_le_bytes());
        out.extend_from_slice(&8u16.to_le_bytes());
        out.extend_from_slice(&time.to_le_bytes());
        out.extend_from_slice(&date.to_le_bytes());
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&compressed_size.to_le_bytes());
        out.extend_from_slice(&size.to_le_bytes());
        out.extend_from_slice(&name_length.to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra field length
    };
    let mut out = Vec::with_capacity(compressed.len() + 2 * name.len() + 100);
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend_from_slice(name);
    out.extend_from_slice(&compressed);
    let directory_offset = u32::try_from(out.len()).ok()?;
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    out.extend_from_slice(&20u16.to_le_bytes()); // made by
    common(&mut out);
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    out.extend_from_slice(&0u16.to_le_bytes()); // disk number
    out.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // external attributes
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name);
    let directory_size = u32::try_from(out.len()).ok()? - directory_offset;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // this disk
    out.extend_from_slice(&0u16.to_le_bytes()); // directory's disk
    out.extend_from_slice(&1u16.to_le_bytes()); // entries on this disk
    out.extend_from_slice(&1u16.to_le_bytes()); // entries
    out.extend_from_slice(&directory_size.to_le_bytes());
    out.extend_from_slice(&directory_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // comment length
    Some(out)
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
        let compressed = compress(Compression::Gzip, data.clone(), "x").unwrap();
        assert!(compressed.len() < data.len());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, data);
        assert_eq!(
            compress(Compression::Uncompressed, data.clone(), "x"),
            Some(data)
        );
    }

    #[test]
    fn snappy_is_the_framing_format() {
        let data = sample();
        let compressed = compress(Compression::Snappy, data.clone(), "x").unwrap();
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
        let compressed = compress(Compression::HadoopSnappy, data.clone(), "x").unwrap();
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
            compress(Compression::HadoopSnappy, Vec::new(), "x"),
            Some(Vec::new())
        );
    }

    #[test]
    fn zip_is_one_deflated_file_with_its_checksum_and_directory() {
        let data = sample();
        let archive = compress(Compression::Zip, data.clone(), "events-1-x").unwrap();
        let u16_at = |at: usize| u16::from_le_bytes(archive[at..at + 2].try_into().unwrap());
        let u32_at = |at: usize| u32::from_le_bytes(archive[at..at + 4].try_into().unwrap());
        assert_eq!(u32_at(0), 0x0403_4b50, "a local file header");
        assert_eq!(u16_at(8), 8, "deflate");
        let compressed_size = u32_at(18) as usize;
        assert_eq!(u32_at(22) as usize, data.len());
        let name_length = u16_at(26) as usize;
        assert_eq!(&archive[30..30 + name_length], b"events-1-x");
        let start = 30 + name_length;
        let mut decoded = Vec::new();
        flate2::read::DeflateDecoder::new(&archive[start..start + compressed_size])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, data);
        let mut crc = flate2::Crc::new();
        crc.update(&data);
        assert_eq!(u32_at(14), crc.sum());
        let end = archive.len() - 22;
        assert_eq!(u32_at(end), 0x0605_4b50, "the end record");
        assert_eq!(u16_at(end + 10), 1, "one entry");
        let directory = u32_at(end + 16) as usize;
        assert_eq!(directory, start + compressed_size);
        assert_eq!(u32_at(directory), 0x0201_4b50, "the central directory");
    }
}
