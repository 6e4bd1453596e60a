//! Property tests: after a sync the target equals the source byte for byte, the bytes written
//! (plus punched) equal the bytes of the differing blocks, a second sync changes nothing, and the
//! pipelined engine agrees with the naive reference on random data.

mod common;

use std::num::NonZeroUsize;

use common::{BS, bytes, differing, read_file, write_file};
use proptest::prelude::*;
use zferry_blocksync::{ChunkSize, Options, Report, reference, sync};

#[derive(Debug, Clone)]
enum Edit {
    Random(usize),
    Zero(usize),
    FlipByte(usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        any::<usize>().prop_map(Edit::Random),
        any::<usize>().prop_map(Edit::Zero),
        any::<usize>().prop_map(Edit::FlipByte),
    ]
}

/// A source with some zero blocks, and a target derived from it by edits and a size change.
fn case() -> impl Strategy<Value = (Vec<u8>, Vec<u8>)> {
    (
        0usize..70_000,
        0usize..70_000,
        any::<u64>(),
        prop::collection::vec(edit(), 0..12),
        any::<u64>(),
    )
        .prop_map(|(src_len, tgt_len, seed, edits, zero_mask)| {
            let mut src = bytes(seed, src_len);
            for (i, b) in src.chunks_mut(BS).enumerate() {
                if zero_mask >> (i % 64) & 1 == 1 {
                    b.fill(0);
                }
            }
            let mut tgt = src.clone();
            tgt.resize(tgt_len, 0);
            for (n, e) in edits.iter().enumerate() {
                if tgt.is_empty() {
                    break;
                }
                match *e {
                    Edit::Random(at) => {
                        let at = at % tgt.len();
                        let end = (at + BS).min(tgt.len());
                        tgt[at..end].copy_from_slice(&bytes(seed ^ n as u64, end - at));
                    }
                    Edit::Zero(at) => {
                        let at = at % tgt.len();
                        let end = (at + 3 * BS).min(tgt.len());
                        tgt[at..end].fill(0);
                    }
                    Edit::FlipByte(at) => {
                        let at = at % tgt.len();
                        tgt[at] ^= 0x5a;
                    }
                }
            }
            (src, tgt)
        })
}

fn opts(punch: bool, chunk: usize, par: usize) -> Options {
    Options {
        punch_holes: punch,
        chunk_size: ChunkSize::new(chunk).expect("chunk"),
        parallelism: NonZeroUsize::new(par).expect("par"),
        record_changed: true,
        ..Options::default()
    }
}

/// Everything but timing, and target bytes read (prefetch reads whole chunks).
fn comparable(mut r: Report) -> Report {
    r.duration = std::time::Duration::ZERO;
    r.bytes_read_target = 0;
    r
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn sync_makes_target_equal_and_writes_only_changes(
        (src, old) in case(),
        punch in any::<bool>(),
        chunk_blocks in 1usize..5,
        par in 1usize..4,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        let target = write_file(&path, &old);
        let o = opts(punch, chunk_blocks * BS, par);
        let (changed, changed_bytes) = differing(&src, &old);

        let r = sync(src.as_slice(), &target, &o).expect("sync");
        prop_assert_eq!(read_file(&path), src.clone());
        prop_assert_eq!(r.bytes_written + r.bytes_punched, changed_bytes);
        prop_assert_eq!(r.blocks_changed, changed.len() as u64);
        prop_assert_eq!(r.changed_blocks.as_deref(), Some(changed.as_slice()));
        prop_assert_eq!(r.bytes_read_source, src.len() as u64);
        prop_assert_eq!(r.bytes_compared, src.len() as u64);
        // Target prefetch works in whole chunks, so it may read past the source end.
        prop_assert!(r.bytes_read_target >= old.len().min(src.len()) as u64);
        prop_assert!(r.bytes_read_target <= old.len() as u64);
        prop_assert_eq!(r.final_size, src.len() as u64);
        prop_assert_eq!(r.initial_size, old.len() as u64);
        if !punch {
            prop_assert_eq!(r.bytes_written, changed_bytes);
            prop_assert_eq!(r.holes_punched, 0);
        }

        let again = sync(src.as_slice(), &target, &o).expect("second sync");
        prop_assert_eq!(again.bytes_written, 0);
        prop_assert_eq!(again.bytes_punched, 0);
        prop_assert_eq!(again.blocks_changed, 0);
        prop_assert_eq!(read_file(&path), src);
    }

    #[test]
    fn pipelined_engine_matches_naive_reference(
        (src, old) in case(),
        punch in any::<bool>(),
        chunk_blocks in 1usize..5,
        par in 1usize..4,
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let fast_path = dir.path().join("fast");
        let slow_path = dir.path().join("slow");
        let fast = write_file(&fast_path, &old);
        let slow = write_file(&slow_path, &old);
        let o = opts(punch, chunk_blocks * BS, par);

        let rf = sync(src.as_slice(), &fast, &o).expect("fast");
        let rs = reference::sync_naive(src.as_slice(), &slow, &o).expect("naive");
        prop_assert_eq!(read_file(&fast_path), read_file(&slow_path));
        prop_assert_eq!(comparable(rf), comparable(rs));
    }

    #[test]
    fn dry_run_counts_but_leaves_target_untouched((src, old) in case(), punch in any::<bool>()) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        let target = write_file(&path, &old);
        let (changed, bytes) = differing(&src, &old);
        let o = Options { dry_run: true, ..opts(punch, 2 * BS, 2) };
        let r = sync(src.as_slice(), &target, &o).expect("dry run");
        prop_assert_eq!(read_file(&path), old);
        prop_assert_eq!(r.blocks_changed, changed.len() as u64);
        prop_assert_eq!(r.bytes_written + r.bytes_punched, bytes);
        prop_assert!(r.dry_run);
    }
}

#[test]
fn large_multi_chunk_sync_inline_and_prefetched() {
    // 9 MiB + 123 bytes: many default-sized chunks, the last partial; target read inline (1)
    // and by two prefetch threads (3).
    let len = 9 * (1 << 20) + 123;
    let src = bytes(7, len);
    let mut old = src.clone();
    for i in (0..len / BS).step_by(97) {
        old[i * BS + 5] ^= 1;
    }
    let (changed, bytes_changed) = differing(&src, &old);
    assert_eq!(changed.len(), 24);
    for par in [1, 3] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        let target = write_file(&path, &old);
        let o = Options {
            parallelism: NonZeroUsize::new(par).expect("par"),
            ..Options::default()
        };
        let r = sync(src.as_slice(), &target, &o).expect("sync");
        assert_eq!(read_file(&path), src, "parallelism {par}");
        assert_eq!(r.blocks_changed, 24);
        assert_eq!(r.bytes_written, bytes_changed);
        assert_eq!(r.bytes_written, 24 * 4096);
        assert_eq!(r.bytes_read_target, len as u64);
    }
}
