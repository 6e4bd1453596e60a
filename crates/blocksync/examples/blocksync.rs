//! `blocksync SRC DST [--no-punch] [--dry-run] [--parallelism N] [--chunk BYTES]`: make DST equal
//! SRC writing only changed 4 KiB blocks, print the report as JSON. Used by the benchmark; the
//! real command is `zferry blocksync`.

use std::fs::{File, OpenOptions};
use std::num::NonZeroUsize;
use std::process::ExitCode;

use zferry_blocksync::{ChunkSize, Options, sync};

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("blocksync: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut paths = Vec::new();
    let mut opts = Options::default();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--no-punch" => opts.punch_holes = false,
            "--dry-run" => opts.dry_run = true,
            "--parallelism" => {
                let n: usize = args.next().ok_or("--parallelism needs N")?.parse()?;
                opts.parallelism = NonZeroUsize::new(n).ok_or("--parallelism must be > 0")?;
            }
            "--chunk" => {
                opts.chunk_size = args
                    .next()
                    .ok_or("--chunk needs BYTES")?
                    .parse::<ChunkSize>()?;
            }
            _ => paths.push(a),
        }
    }
    let [src, dst] = paths.as_slice() else {
        return Err(
            "usage: blocksync SRC DST [--no-punch] [--dry-run] [--parallelism N] [--chunk BYTES]"
                .into(),
        );
    };
    let source = File::open(src)?;
    zferry_blocksync::hint_sequential(&source);
    let target = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dst)?;
    let report = sync(source, &target, &opts)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
