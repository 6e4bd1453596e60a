//! Writing results to stdout. A closed pipe (`zferry status --json | head`) is the reader's
//! choice, not an error: output stops quietly instead of panicking like `println!`.

use std::io::{ErrorKind, Write};

use anyhow::Result;
use serde::Serialize;

/// Writes `text` to stdout as is.
pub fn text(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

/// Writes `text` and a newline.
pub fn line(text: &str) -> Result<()> {
    self::text(&format!("{text}\n"))
}

/// Writes `value` as pretty JSON and a newline.
pub fn json<T: Serialize>(value: &T) -> Result<()> {
    line(&serde_json::to_string_pretty(value)?)
}
