//! The reader on its own thread: the same clusters across many extents (its buffers are
//! recycled), errors in stream order, and no hang when the caller stops early. Every crafted
//! archive of `corrupt.rs` and every generated one of `roundtrip.rs` also goes through both
//! readers (`common::read_all` compares them).

#![allow(clippy::unwrap_used, reason = "test code")]

mod common;
use common::read_all;
use std::io::{self, Read};
use zferry_vma::{DevId, HeaderSpec, PrefetchReader, Uuid, VmaError, VmaWriter};

/// One 24 MiB device (seven extents) whose blocks are data, sparse or zero by position.
fn archive() -> (Vec<u8>, Vec<u8>) {
    let size = 24 << 20;
    let mut image = vec![0u8; size];
    for (i, block) in image.chunks_mut(4096).enumerate() {
        match i % 7 {
            0 | 3 => {}
            5 => block[i % 4096] = 1,
            _ => block.iter_mut().enumerate().for_each(|(k, b)| {
                *b = u8::try_from((k + i) % 251).unwrap();
            }),
        }
    }
    let spec = HeaderSpec {
        uuid: Uuid::from_bytes([7; 16]),
        ctime: 0,
        configs: vec![],
        devices: vec![("drive-scsi0".into(), size as u64)],
    };
    let mut w = VmaWriter::new(Vec::new(), &spec).unwrap();
    w.write_device(DevId::new(1).unwrap(), &image[..]).unwrap();
    (w.finish().unwrap(), image)
}

#[test]
fn many_extents_read_back_identical_through_both_readers() {
    let (bytes, image) = archive();
    let (_, images) = read_all(&bytes).unwrap();
    assert_eq!(images, [image]);
    let mut r = PrefetchReader::spawn(io::Cursor::new(bytes.clone())).unwrap();
    while r.next_cluster().unwrap().is_some() {}
    assert_eq!(r.position(), bytes.len() as u64);
    assert!(r.next_cluster().unwrap().is_none(), "stays at the end");
}

/// Yields `ok` bytes, then fails.
struct FailsAfter {
    data: io::Cursor<Vec<u8>>,
    ok: u64,
}

impl Read for FailsAfter {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.data.position() >= self.ok {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "bad frame"));
        }
        let room = usize::try_from(self.ok - self.data.position()).unwrap();
        let n = buf.len().min(room);
        self.data.read(&mut buf[..n])
    }
}

#[test]
fn a_read_error_arrives_after_the_clusters_before_it_with_its_offset() {
    let (bytes, _) = archive();
    let cut = 10 << 20;
    let mut r = PrefetchReader::spawn(FailsAfter {
        data: io::Cursor::new(bytes),
        ok: cut,
    })
    .unwrap();
    let mut clusters = 0;
    let err = loop {
        match r.next_cluster() {
            Ok(Some(_)) => clusters += 1,
            Ok(None) => panic!("a failing stream must not end cleanly"),
            Err(e) => break e,
        }
    };
    assert!(clusters > 100, "{clusters} clusters before the error");
    assert!(
        matches!(err, VmaError::Io { offset, .. } if offset == cut),
        "{err}"
    );
}

#[test]
fn dropping_the_reader_mid_stream_does_not_hang() {
    let (bytes, _) = archive();
    let mut r = PrefetchReader::spawn(io::Cursor::new(bytes)).unwrap();
    assert!(r.next_cluster().unwrap().is_some());
    drop(r);
}

#[test]
fn a_stream_that_is_not_vma_fails_at_spawn() {
    let err = PrefetchReader::spawn(io::repeat(0)).unwrap_err();
    assert!(matches!(err, VmaError::BadMagic { .. }), "{err}");
}
