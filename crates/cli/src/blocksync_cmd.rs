//! `zferry blocksync SRC DST`: make DST (file, image or zvol) equal SRC by writing only the
//! 4 KiB blocks that differ — the seed's "intelligent dd". Copy-on-write storage pays for
//! every rewritten block, so unchanged ones are never written; zero blocks become holes.

use std::fs::{File, OpenOptions};
use std::io::BufReader;

use anyhow::{Context, Result};
use zferry_blocksync::{Options, sync};

use crate::cli::BlocksyncArgs;
use crate::{exit, human, output};

pub fn run(args: &BlocksyncArgs) -> Result<u8> {
    let source: Box<dyn std::io::Read + Send> = if args.source == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        Box::new(
            File::open(&args.source).with_context(|| format!("opening source {}", args.source))?,
        )
    };
    let target = OpenOptions::new()
        .read(true)
        .write(!args.dry_run)
        .create(!args.dry_run)
        .truncate(false)
        .open(&args.target)
        .with_context(|| format!("opening target {}", args.target))?;
    let opts = Options {
        punch_holes: !args.no_punch,
        dry_run: args.dry_run,
        ..Options::default()
    };
    let report = sync(source, &target, &opts)
        .with_context(|| format!("syncing {} into {}", args.source, args.target))?;
    if args.json {
        output::json(&report)?;
    } else {
        output::line(&format!(
            "{}: compared {}, read {} + {}, {} blocks changed: wrote {}, punched {}{}",
            args.target,
            human::bytes(report.bytes_compared),
            human::bytes(report.bytes_read_source),
            human::bytes(report.bytes_read_target),
            report.blocks_changed,
            human::bytes(report.bytes_written),
            human::bytes(report.bytes_punched),
            if report.dry_run {
                " (dry run: nothing written)"
            } else {
                ""
            },
        ))?;
    }
    Ok(exit::OK)
}
