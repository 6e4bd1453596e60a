//! A minimal writer for the `newc` cpio format the kernel unpacks as an initramfs.
//!
//! Only what the lab's initramfs needs: directories, regular files and symlinks, all
//! owned by root. Layout per entry: the 110-byte ASCII header `070701` + 13 fields of 8
//! hex digits, the NUL-terminated name padded to 4 bytes, the data padded to 4 bytes;
//! the archive ends with an entry named `TRAILER!!!`.

use std::io::{self, Write};

/// One entry's kind and content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Dir,
    File { data: Vec<u8>, executable: bool },
    Symlink { target: String },
}

/// Accumulates entries and writes them as one archive.
#[derive(Debug, Default)]
pub struct Archive {
    entries: Vec<(String, Entry)>,
}

impl Archive {
    /// Adds an entry; `path` is relative to the archive root (no leading `/`).
    pub fn add(&mut self, path: impl Into<String>, entry: Entry) {
        self.entries.push((path.into(), entry));
    }

    /// Writes the archive with a trailer.
    pub fn write_to(&self, out: &mut impl Write) -> io::Result<()> {
        let mut written = 0usize;
        for (ino, (path, entry)) in self.entries.iter().enumerate() {
            let (mode, data): (u32, &[u8]) = match entry {
                Entry::Dir => (0o040_755, &[]),
                Entry::File { data, executable } => {
                    (if *executable { 0o100_755 } else { 0o100_644 }, data)
                }
                Entry::Symlink { target } => (0o120_777, target.as_bytes()),
            };
            let nlink = if matches!(entry, Entry::Dir) { 2 } else { 1 };
            written += write_entry(out, ino + 1, mode, nlink, path, data, written)?;
        }
        write_entry(out, 0, 0, 1, "TRAILER!!!", &[], written)?;
        Ok(())
    }
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

fn write_entry(
    out: &mut impl Write,
    ino: usize,
    mode: u32,
    nlink: u32,
    name: &str,
    data: &[u8],
    offset: usize,
) -> io::Result<usize> {
    let namesize = name.len() + 1;
    let header = format!(
        "070701{ino:08x}{mode:08x}{uid:08x}{gid:08x}{nlink:08x}{mtime:08x}{size:08x}\
         {dmaj:08x}{dmin:08x}{rmaj:08x}{rmin:08x}{namesize:08x}{check:08x}",
        uid = 0,
        gid = 0,
        mtime = 0,
        size = data.len(),
        dmaj = 0,
        dmin = 0,
        rmaj = 0,
        rmin = 0,
        check = 0,
    );
    debug_assert_eq!(header.len(), 110);
    let zeros = [0u8; 4];
    out.write_all(header.as_bytes())?;
    out.write_all(name.as_bytes())?;
    out.write_all(&[0])?;
    let after_name = offset + header.len() + namesize;
    out.write_all(&zeros[..pad4(after_name)])?;
    out.write_all(data)?;
    let after_data = after_name + pad4(after_name) + data.len();
    out.write_all(&zeros[..pad4(after_data)])?;
    Ok(after_data + pad4(after_data) - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_is_aligned_and_ends_with_trailer() {
        let mut a = Archive::default();
        a.add("bin", Entry::Dir);
        a.add(
            "bin/sh",
            Entry::Symlink {
                target: "busybox".into(),
            },
        );
        a.add(
            "init",
            Entry::File {
                data: b"#!/bin/sh\n".to_vec(),
                executable: true,
            },
        );
        let mut buf = Vec::new();
        a.write_to(&mut buf).unwrap();
        assert_eq!(buf.len() % 4, 0);
        let text = String::from_utf8_lossy(&buf);
        assert!(text.contains("TRAILER!!!"));
        assert_eq!(text.matches("070701").count(), 4);
        // The init file's header: mode 100755, size 10.
        let init_at = text.find("init\0").unwrap();
        let header = &text[init_at - 110..init_at];
        assert_eq!(&header[14..22], "000081ed");
        assert_eq!(&header[54..62], "0000000a");
    }

    /// The real `cpio` tool, when present, must list exactly what we wrote.
    #[test]
    fn real_cpio_reads_it() {
        let Ok(cpio) = which("cpio") else { return };
        let mut a = Archive::default();
        a.add("d", Entry::Dir);
        a.add(
            "d/file",
            Entry::File {
                data: vec![7; 1001],
                executable: false,
            },
        );
        a.add(
            "link",
            Entry::Symlink {
                target: "d/file".into(),
            },
        );
        let mut buf = Vec::new();
        a.write_to(&mut buf).unwrap();
        let mut child = std::process::Command::new(cpio)
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&buf).unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8(out.stdout).unwrap(), "d\nd/file\nlink\n");
    }

    fn which(name: &str) -> Result<std::path::PathBuf, ()> {
        ["/usr/bin", "/bin"]
            .iter()
            .map(|d| std::path::Path::new(d).join(name))
            .find(|p| p.exists())
            .ok_or(())
    }
}
