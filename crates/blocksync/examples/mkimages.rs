//! `mkimages A B SIZE_MIB PERMILLE`: write a deterministic pseudo-random image A (with some zero
//! regions, like a real disk) and a copy B in which about PERMILLE/1000 of the 4 KiB blocks are
//! changed, scattered. Prints the number of changed blocks. Benchmark fixture generator.

use std::fs::File;
use std::io::{BufWriter, Write};

const BS: usize = 4096;

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn fill(block: &mut [u8], seed: u64) {
    for (i, w) in block.chunks_mut(8).enumerate() {
        w.copy_from_slice(&mix(seed ^ ((i as u64) << 40)).to_le_bytes());
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [a, b, mib, permille] = args.as_slice() else {
        return Err("usage: mkimages A B SIZE_MIB PERMILLE".into());
    };
    let blocks = mib.parse::<u64>()? * (1 << 20) / BS as u64;
    let permille: u64 = permille.parse()?;
    let mut wa = BufWriter::with_capacity(4 << 20, File::create(a)?);
    let mut wb = BufWriter::with_capacity(4 << 20, File::create(b)?);
    let mut block = vec![0u8; BS];
    let mut changed = 0u64;
    for i in 0..blocks {
        // One 1 MiB region in 16 is zeros, as on a partly used disk.
        if (i / 256) % 16 == 5 {
            block.fill(0);
        } else {
            fill(&mut block, mix(i));
        }
        wa.write_all(&block)?;
        if mix(i ^ 0xC0FF_EE00_0000_0000) % 1000 < permille {
            block[0] ^= 0xff; // flipping one byte changes the block, zero or not
            block[BS / 2] ^= 0x55;
            changed += 1;
        }
        wb.write_all(&block)?;
    }
    wa.flush()?;
    wb.flush()?;
    println!("{changed}");
    Ok(())
}
