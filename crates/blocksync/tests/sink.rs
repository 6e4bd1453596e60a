//! BlockSink: blocks fed in shuffled order (as VMA clusters arrive) make the target equal the
//! image; only differing blocks are written; bad indexes and lengths are refused.

mod common;

use common::{BS, bytes, differing, read_file, write_file};
use proptest::prelude::*;
use zferry_blocksync::{BlockSink, Error, Options};

/// Deterministic Fisher–Yates from a seed.
fn shuffled(count: u64, seed: u64) -> Vec<u64> {
    let mut order: Vec<u64> = (0..count).collect();
    let noise = bytes(seed, order.len() * 8);
    for hi in (1..order.len()).rev() {
        let word = u64::from_le_bytes(noise[hi * 8..hi * 8 + 8].try_into().expect("8 bytes"));
        let lo = usize::try_from(word % (hi as u64 + 1)).expect("fits");
        order.swap(hi, lo);
    }
    order
}

/// Feed `image` into a sink on `old` in an order made of runs of 16 blocks (a VMA cluster), runs
/// shuffled; zero blocks are passed as `None`. With `whole`, a full cluster without zero
/// blocks goes in with one `put_blocks` (as the ingest does), else block by block.
fn feed(
    image: &[u8],
    old: &[u8],
    seed: u64,
    opts: &Options,
    whole: bool,
) -> (Vec<u8>, zferry_blocksync::Report) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("disk.raw");
    let target = write_file(&path, old);
    let mut sink = BlockSink::new(&target, image.len() as u64, opts).expect("sink");
    let blocks = image.len().div_ceil(BS) as u64;
    for cluster in shuffled(blocks.div_ceil(16), seed) {
        let (from, to) = (cluster * 16, (cluster + 1) * 16);
        let bytes_of = |b: u64| usize::try_from(b).expect("fits") * BS;
        if whole && to <= blocks && bytes_of(to) <= image.len() {
            let data = &image[bytes_of(from)..bytes_of(to)];
            if data.chunks(BS).all(|b| b.iter().any(|&x| x != 0)) {
                sink.put_blocks(from, data).expect("put_blocks");
                continue;
            }
        }
        for b in from..to.min(blocks) {
            let at = usize::try_from(b).expect("fits") * BS;
            let data = &image[at..(at + BS).min(image.len())];
            let put = if data.iter().all(|&x| x == 0) {
                None
            } else {
                Some(data)
            };
            sink.put(b, put).expect("put");
        }
    }
    let report = sink.finish().expect("finish");
    (read_file(&path), report)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn shuffled_clusters_make_target_equal(
        len in 0usize..300_000,
        old_len in 0usize..300_000,
        seed in any::<u64>(),
        zero_mask in any::<u64>(),
        punch in any::<bool>(),
        whole in any::<bool>(),
    ) {
        let mut image = bytes(seed, len);
        for (i, b) in image.chunks_mut(BS).enumerate() {
            if zero_mask >> (i % 64) & 1 == 1 {
                b.fill(0);
            }
        }
        let mut old = bytes(seed.rotate_left(7), old_len);
        let shared = old_len.min(len);
        // Keep about half the old blocks equal to the image so there is something to skip.
        for i in (0..shared / BS).step_by(2) {
            old[i * BS..(i + 1) * BS].copy_from_slice(&image[i * BS..(i + 1) * BS]);
        }
        let (changed, changed_bytes) = differing(&image, &old);
        let opts = Options { punch_holes: punch, record_changed: true, ..Options::default() };
        let (after, r) = feed(&image, &old, seed, &opts, whole);
        prop_assert_eq!(&after, &image);
        prop_assert_eq!(r.bytes_written + r.bytes_punched, changed_bytes);
        let mut got = r.changed_blocks.clone().expect("recorded");
        got.sort_unstable();
        prop_assert_eq!(got, changed);
        prop_assert_eq!(r.bytes_read_source, len as u64);

        let (again, r2) = feed(&image, &image, seed ^ 1, &opts, whole);
        prop_assert_eq!(again, image);
        prop_assert_eq!(r2.bytes_written + r2.bytes_punched, 0);
    }
}

#[test]
fn contiguous_puts_coalesce_into_one_target_pass() {
    // 64 changed blocks in order: the sink reads and compares them as runs; all are written.
    let image = bytes(3, 64 * BS);
    let old = vec![1u8; 64 * BS];
    let (after, r) = feed(&image, &old, 0, &Options::default(), false);
    assert_eq!(after, image);
    assert_eq!(r.blocks_changed, 64);
    assert_eq!(r.bytes_written, 64 * 4096);
    assert_eq!(r.bytes_read_target, 64 * 4096);
}

#[test]
fn refuses_blocks_beyond_size_and_wrong_lengths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let target = write_file(&dir.path().join("t"), &[]);
    let mut sink = BlockSink::new(&target, 10_000, &Options::default()).expect("sink");
    // 10 000 bytes: blocks 0 and 1 are full, block 2 holds 1808 bytes, block 3 does not exist.
    assert!(matches!(
        sink.put(3, None),
        Err(Error::BlockBeyondSize {
            block_index: 3,
            size: 10_000
        })
    ));
    assert!(matches!(
        sink.put(2, Some(&[7u8; BS])),
        Err(Error::BadBlockLength {
            block_index: 2,
            got: 4096,
            expected: 1808
        })
    ));
    assert!(matches!(
        sink.put(0, Some(&[7u8; 100])),
        Err(Error::BadBlockLength {
            block_index: 0,
            got: 100,
            expected: 4096
        })
    ));
    assert!(matches!(
        sink.put(u64::MAX, None),
        Err(Error::BlockBeyondSize { .. })
    ));
    sink.put(2, Some(&[7u8; 1808])).expect("partial last block");
    let r = sink.finish().expect("finish");
    assert_eq!(r.final_size, 10_000);
    assert_eq!(r.bytes_written, 1808);
    let data = read_file(&dir.path().join("t"));
    assert_eq!(data.len(), 10_000);
    assert!(data[..8192].iter().all(|&b| b == 0));
    assert!(data[8192..].iter().all(|&b| b == 7));
}

#[test]
fn a_block_put_twice_ends_with_the_later_content() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("t");
    let target = write_file(&path, &[0u8; 2 * BS]);
    let mut sink = BlockSink::new(&target, 2 * BS as u64, &Options::default()).expect("sink");
    sink.put(1, Some(&[1u8; BS])).expect("put");
    sink.put(0, Some(&[2u8; BS])).expect("put");
    sink.put(1, Some(&[3u8; BS])).expect("put");
    sink.finish().expect("finish");
    let data = read_file(&path);
    assert!(data[..BS].iter().all(|&b| b == 2));
    assert!(data[BS..].iter().all(|&b| b == 3));
}

/// A block put again after its first content was applied must be compared against what the
/// first put left, not against the target as it was: the writes and punches of the first put
/// happen on a worker thread, so the sink must wait for them before re-reading that range.
#[test]
fn a_block_put_again_is_compared_with_what_the_first_put_left() {
    const BLOCKS: usize = 512;
    let old: Vec<u8> = (0..BLOCKS * BS)
        .map(|i| u8::try_from(i / BS % 251 + 1).expect("< 256"))
        .collect();
    for punch in [true, false] {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        let target = write_file(&path, &old);
        let opts = Options {
            punch_holes: punch,
            ..Options::default()
        };
        let mut sink = BlockSink::new(&target, old.len() as u64, &opts).expect("sink");
        // First every block becomes zeros (a punch or a zero write each)…
        for b in 0..BLOCKS as u64 {
            sink.put(b, None).expect("put zeros");
            // A gap, so the runs stay one block each.
            sink.put((b + BLOCKS as u64 / 2) % BLOCKS as u64, None)
                .expect("put zeros");
        }
        // …then gets its old content back: equal to the target as it *was*, so a sink that
        // compared against stale bytes would write nothing and leave the zeros.
        for b in 0..BLOCKS {
            sink.put(b as u64, Some(&old[b * BS..(b + 1) * BS]))
                .expect("put old");
        }
        sink.finish().expect("finish");
        assert!(
            differing(&read_file(&path), &old).0.is_empty(),
            "punch={punch}: every block must end with the later (old) content"
        );
    }
}
