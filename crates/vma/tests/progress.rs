#![allow(clippy::unwrap_used)]
//! Progress of reading and extracting an archive: the observer sees the archive's bytes read
//! grow monotonically and end at the file size, and the written bytes end at the data size.

use std::sync::{Arc, Mutex};

use zferry_progress::{Meter, Progress, Totals};
use zferry_vma::{DevId, HeaderSpec, Uuid, VmaReader, VmaWriter, open_path_metered, ops};

/// 3 MiB of non-zero data and 1 MiB of zeros on one device: several [`Meter::STEP`]s.
fn archive() -> (Vec<u8>, u64) {
    let size = 4u64 << 20;
    let mut img = vec![0u8; usize::try_from(size).unwrap()];
    for (i, b) in img[..3 << 20].iter_mut().enumerate() {
        *b = u8::try_from(i % 251).unwrap() | 1;
    }
    let spec = HeaderSpec {
        uuid: Uuid::nil(),
        ctime: 0,
        configs: vec![],
        devices: vec![("drive-scsi0".into(), size)],
    };
    let mut w = VmaWriter::new(Vec::new(), &spec).unwrap();
    w.write_device(DevId::new(1).unwrap(), &img[..]).unwrap();
    (w.finish().unwrap(), 3 << 20)
}

#[test]
fn extract_reports_monotonic_bytes_ending_at_the_file_size() {
    let (bytes, data) = archive();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a.vma");
    std::fs::write(&file, &bytes).unwrap();

    let seen = Arc::new(Mutex::new(Vec::<Totals>::new()));
    let s = Arc::clone(&seen);
    let sink: Arc<dyn Progress> = Arc::new(move |t: &Totals| s.lock().unwrap().push(*t));
    let meter = Meter::new(Some(bytes.len() as u64), Some(sink));
    let (_, stream) = open_path_metered(&file, Some(Arc::clone(&meter))).unwrap();
    let summary = ops::extract_metered(
        VmaReader::new(stream).unwrap(),
        &dir.path().join("x"),
        Some(&meter),
    )
    .unwrap();
    meter.finish();

    let seen = seen.lock().unwrap();
    assert!(
        seen.len() >= 3,
        "one report per MiB read at least: {seen:?}"
    );
    for w in seen.windows(2) {
        assert!(w[0].read <= w[1].read, "read went back: {seen:?}");
        assert!(w[0].written <= w[1].written, "written went back: {seen:?}");
    }
    let last = seen.last().unwrap();
    assert_eq!(last.read, bytes.len() as u64);
    assert_eq!(last.total, Some(bytes.len() as u64));
    assert_eq!(last.written, data);
    assert_eq!(summary.devices[0].data_blocks * 4096, data);
}
