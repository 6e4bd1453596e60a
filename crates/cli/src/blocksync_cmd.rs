//! `zferry blocksync SRC DST`: make DST (file, image or zvol) equal SRC by writing only the
//! 4 KiB blocks that differ — the seed's "intelligent dd". Copy-on-write storage pays for
//! every rewritten block, so unchanged ones are never written; zero blocks become holes.

use std::fs::{File, OpenOptions};
use std::io::{BufReader, Seek, SeekFrom};
use std::sync::Arc;

use anyhow::{Context, Result};
use zferry_blocksync::{Options, sync_metered};
use zferry_progress::{CountingReader, Meter};

use crate::cli::BlocksyncArgs;
use crate::op_progress::OpProgress;
use crate::{exit, human, output};

pub fn run(args: &BlocksyncArgs) -> Result<u8> {
    let (source, size): (Box<dyn std::io::Read + Send>, Option<u64>) = if args.source == "-" {
        (Box::new(BufReader::new(std::io::stdin())), None)
    } else {
        let mut f =
            File::open(&args.source).with_context(|| format!("opening source {}", args.source))?;
        // Seeking to the end sizes block devices too; then back to the start.
        let size = f.seek(SeekFrom::End(0)).ok();
        f.seek(SeekFrom::Start(0))
            .with_context(|| format!("rewinding source {}", args.source))?;
        zferry_blocksync::hint_sequential(&f);
        (Box::new(f), size)
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
    let progress = OpProgress::start(args.target.clone(), args.json);
    let meter = Meter::new(size, Some(progress.observer()));
    let source = CountingReader::new(source, Arc::clone(&meter));
    let report = sync_metered(source, &target, &opts, Some(&meter));
    if report.is_ok() {
        meter.finish();
    }
    progress.finish(report.is_ok());
    let report = report.with_context(|| format!("syncing {} into {}", args.source, args.target))?;
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
