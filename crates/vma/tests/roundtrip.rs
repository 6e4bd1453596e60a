//! Property: any set of devices (sizes not multiples of 64 KiB or 4 KiB
//! included, random zero patterns) and configs, written in any cluster order,
//! reads back to identical images and configs.

#![allow(
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    reason = "test code over small generated data"
)]

mod common;
use common::read_all;
use proptest::prelude::*;
use std::collections::BTreeSet;
use zferry_vma::{ConfigBlob, DevId, HeaderSpec, Uuid, VmaWriter};

/// Image of `size` bytes; each 4 KiB block is zero, sparse or dense,
/// chosen by `pattern` (cycled).
fn image(size: usize, pattern: &[u8], seed: u8) -> Vec<u8> {
    let mut v = vec![0u8; size];
    for (bi, block) in v.chunks_mut(4096).enumerate() {
        match pattern[bi % pattern.len()] % 3 {
            0 => {}
            1 => block[(bi * 31) % block.len()] = seed | 1,
            _ => {
                for (i, b) in block.iter_mut().enumerate() {
                    *b = (i as u8) ^ seed ^ (bi as u8);
                }
            }
        }
    }
    v
}

fn names(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

prop_compose! {
    fn device()(size in prop_oneof![1usize..9000, 60_000usize..70_000, 100_000usize..400_000],
                pattern in prop::collection::vec(any::<u8>(), 1..20),
                seed in any::<u8>()) -> Vec<u8> {
        image(size, &pattern, seed)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn write_then_read_is_identity(
        images in prop::collection::vec(device(), 1..4),
        configs in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 0..4),
        order_seed in any::<u64>(),
        uuid in any::<[u8; 16]>(),
        ctime in any::<i64>(),
    ) {
        let configs: Vec<ConfigBlob> = configs
            .into_iter()
            .zip(names(4, "cfg-"))
            .map(|(data, name)| ConfigBlob { name, data })
            .collect();
        let spec = HeaderSpec {
            uuid: Uuid::from_bytes(uuid),
            ctime,
            configs: configs.clone(),
            devices: images
                .iter()
                .zip(names(images.len(), "drive-scsi"))
                .map(|(img, n)| (n, img.len() as u64))
                .collect(),
        };
        // All (device, cluster) pairs in a seed-shuffled order.
        let mut todo: Vec<(usize, usize)> = images
            .iter()
            .enumerate()
            .flat_map(|(d, img)| (0..img.len().div_ceil(65536)).map(move |c| (d, c)))
            .collect();
        let mut s = order_seed | 1;
        for i in (1..todo.len()).rev() {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            todo.swap(i, (s % (i as u64 + 1)) as usize);
        }
        let mut w = VmaWriter::new(Vec::new(), &spec).unwrap();
        for (d, c) in todo {
            let img = &images[d];
            let end = ((c + 1) * 65536).min(img.len());
            w.write_cluster(DevId::new(d as u8 + 1).unwrap(), c as u32, &img[c * 65536..end]).unwrap();
        }
        let bytes = w.finish().unwrap();

        let (h, back) = read_all(&bytes).unwrap();
        prop_assert_eq!(h.uuid, spec.uuid);
        prop_assert_eq!(h.ctime, ctime);
        prop_assert_eq!(&h.configs, &configs);
        prop_assert_eq!(h.devices.len(), images.len());
        prop_assert!(back == images, "images differ after round trip");

        // Zero blocks cost no data: archive size is exactly header, extent
        // headers and the non-zero blocks.
        let nonzero: usize = images
            .iter()
            .map(|img| img.chunks(4096).filter(|b| b.iter().any(|&x| x != 0)).count())
            .sum();
        let clusters: usize = images.iter().map(|i| i.len().div_ceil(65536)).sum();
        let extents = clusters.div_ceil(59);
        prop_assert_eq!(bytes.len(), h.header_size as usize + extents * 512 + nonzero * 4096);
    }
}

#[test]
fn writer_refuses_missing_and_duplicate_clusters() {
    let spec = HeaderSpec {
        uuid: Uuid::nil(),
        ctime: 0,
        configs: vec![],
        devices: vec![("d".into(), 3 * 65536)],
    };
    let id = DevId::new(1).unwrap();
    let zero = vec![0u8; 65536];
    let ones = vec![1u8; 65536];
    let mut w = VmaWriter::new(Vec::new(), &spec).unwrap();
    w.write_cluster(id, 0, &zero).unwrap();
    let e = w.write_cluster(id, 0, &zero).unwrap_err();
    assert!(matches!(
        e,
        zferry_vma::WriteError::DuplicateCluster {
            dev_id: 1,
            cluster: 0
        }
    ));
    let e = w.write_cluster(id, 3, &zero).unwrap_err();
    assert!(matches!(
        e,
        zferry_vma::WriteError::ClusterOutOfRange {
            dev_id: 1,
            cluster: 3
        }
    ));
    w.write_cluster(id, 2, &ones).unwrap();
    let e = w.finish().unwrap_err();
    assert!(matches!(
        e,
        zferry_vma::WriteError::Incomplete {
            dev_id: 1,
            cluster: 1
        }
    ));
}

#[test]
fn writer_refuses_bad_specs() {
    let base = HeaderSpec {
        uuid: Uuid::nil(),
        ctime: 0,
        configs: vec![],
        devices: vec![("d".into(), 1)],
    };
    let with = |f: &dyn Fn(&mut HeaderSpec)| {
        let mut s = base.clone();
        f(&mut s);
        VmaWriter::new(Vec::new(), &s).unwrap_err()
    };
    assert!(matches!(
        with(&|s| s.devices.clear()),
        zferry_vma::WriteError::DeviceCount { count: 0 }
    ));
    assert!(matches!(
        with(&|s| s.devices[0].0 = "a/b".into()),
        zferry_vma::WriteError::BadName { .. }
    ));
    assert!(matches!(
        with(&|s| s.devices[0].1 = 0),
        zferry_vma::WriteError::BadDeviceSize { .. }
    ));
    assert!(matches!(
        with(&|s| s.devices.push(("d".into(), 5))),
        zferry_vma::WriteError::DuplicateName { .. }
    ));
    assert!(matches!(
        with(&|s| s.configs.push(ConfigBlob {
            name: "big".into(),
            data: vec![1; 70_000]
        })),
        zferry_vma::WriteError::ConfigTooLarge { .. }
    ));
    let many: BTreeSet<usize> = (0..255).collect();
    assert!(matches!(
        with(&|s| s.devices = many.iter().map(|i| (format!("d{i}"), 1)).collect()),
        zferry_vma::WriteError::DeviceCount { count: 255 }
    ));
}
