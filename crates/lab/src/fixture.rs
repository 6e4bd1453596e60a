//! Throwaway pools for tests on real ZFS, described in a compact setup language.
//!
//! ```text
//! fs data                 # zfs create <pool>/data
//! fs data/child -o compression=lz4
//! vol vol1 64M            # zfs create -V 64M <pool>/vol1
//! write data/f 1M         # 1 MiB of pseudo-random bytes into <mountpoint of data>/f
//! snap data@a             # zfs snapshot <pool>/data@a
//! rsnap data@b            # zfs snapshot -r <pool>/data@b
//! bookmark data@a #a      # zfs bookmark <pool>/data@a <pool>/data#a
//! prop data zferry:x=1    # zfs set zferry:x=1 <pool>/data
//! hold keep data@a        # zfs hold keep <pool>/data@a
//! ```
//! Paths are relative to the pool. Each line is one argv; blank lines, `#` lines and
//! ` # …` trailing comments are skipped (`#` without a following space is a bookmark). A pool is destroyed when its [`TestPool`] drops, unless `ZFERRY_LAB_KEEP=1`
//! (always keep) or `ZFERRY_LAB_KEEP=failed` and the test is panicking — then its name and
//! backing file are printed so it can be inspected in the lab by hand.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use zferry_exec::{CommandSpec, Executor, LocalExecutor, Output};

/// Where pool backing files live in the guest (guest RAM: size pools accordingly).
pub const POOL_DIR: &str = "/var/tmp/zferry-test-pools";

/// One step of a setup description, as argv (pool-relative names already resolved).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Zfs(Vec<String>),
    Write {
        dataset: String,
        file: String,
        bytes: u64,
    },
}

/// Parses a setup description for `pool`.
pub fn parse_setup(pool: &str, text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.split_once(" # ").map_or(raw, |(l, _)| l).trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let at = |msg: &str| format!("setup line {}: {msg}: {raw:?}", n + 1);
        let full = |rel: &str| format!("{pool}/{rel}");
        let step = match words.as_slice() {
            ["fs", name, opts @ ..] => {
                let mut argv = vec!["create".to_owned(), "-p".to_owned()];
                argv.extend(opts.iter().map(|s| (*s).to_owned()));
                argv.push(full(name));
                Step::Zfs(argv)
            }
            ["vol", name, size, opts @ ..] => {
                let mut argv = vec![
                    "create".to_owned(),
                    "-p".to_owned(),
                    "-V".to_owned(),
                    (*size).to_owned(),
                ];
                argv.extend(opts.iter().map(|s| (*s).to_owned()));
                argv.push(full(name));
                Step::Zfs(argv)
            }
            ["snap", snap] => Step::Zfs(vec!["snapshot".into(), full(snap)]),
            ["rsnap", snap] => Step::Zfs(vec!["snapshot".into(), "-r".into(), full(snap)]),
            ["bookmark", snap, mark] => {
                let ds = snap
                    .split_once('@')
                    .ok_or_else(|| at("bookmark needs ds@snap"))?
                    .0;
                Step::Zfs(vec![
                    "bookmark".into(),
                    full(snap),
                    format!("{}{mark}", full(ds)),
                ])
            }
            ["prop", name, assignment] => {
                Step::Zfs(vec!["set".into(), (*assignment).into(), full(name)])
            }
            ["hold", tag, snap] => Step::Zfs(vec!["hold".into(), (*tag).into(), full(snap)]),
            ["write", path, size] => {
                let (ds, file) = path
                    .rsplit_once('/')
                    .ok_or_else(|| at("write needs dataset/file"))?;
                Step::Write {
                    dataset: full(ds),
                    file: file.to_owned(),
                    bytes: parse_size(size).ok_or_else(|| at("bad size"))?,
                }
            }
            _ => return Err(at("unknown step")),
        };
        steps.push(step);
    }
    Ok(steps)
}

fn parse_size(s: &str) -> Option<u64> {
    let (num, mult) = match s.as_bytes().last()? {
        b'K' => (&s[..s.len() - 1], 1 << 10),
        b'M' => (&s[..s.len() - 1], 1 << 20),
        b'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// A file-backed pool that exists for one test.
#[derive(Debug)]
pub struct TestPool {
    name: String,
    file: PathBuf,
    exec: LocalExecutor,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Fails the test (never skips) when there is no ZFS here.
pub fn require_zfs() {
    assert!(
        std::path::Path::new("/dev/zfs").exists(),
        "no /dev/zfs: tests on real ZFS must run in the lab (`scripts/test.sh`, or \
         `zferry-lab exec -- <test binary>`) or on a host with ZFS; a missing lab is a failure"
    );
}

impl TestPool {
    /// Creates a pool named `<prefix><pid>x<n>` on a sparse file of `size` (e.g. "256M").
    pub fn create(prefix: &str, size: &str) -> Self {
        require_zfs();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}{}x{n}", std::process::id());
        let file = PathBuf::from(POOL_DIR).join(format!("{name}.img"));
        std::fs::create_dir_all(POOL_DIR).expect("creating the pool directory");
        let exec = LocalExecutor::new();
        let pool = Self { name, file, exec };
        pool.run_ok("truncate", &["-s", size, pool.file_str()]);
        pool.run_ok(
            "zpool",
            &[
                "create",
                "-f",
                "-O",
                "mountpoint=/var/tmp/zferry-test-mnt/{}",
                &pool.name,
                pool.file_str(),
            ]
            .map(|a| a.replace("{}", &pool.name)),
        );
        pool
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `<pool>/<rel>`.
    pub fn ds(&self, rel: &str) -> String {
        format!("{}/{rel}", self.name)
    }

    fn file_str(&self) -> &str {
        self.file.to_str().expect("pool file path is UTF-8")
    }

    /// Applies a setup description (see the module docs); panics with the failing step.
    pub fn setup(&self, text: &str) -> &Self {
        for step in parse_setup(&self.name, text).unwrap_or_else(|e| panic!("{e}")) {
            match step {
                Step::Zfs(argv) => {
                    self.run_ok("zfs", &argv);
                }
                Step::Write {
                    dataset,
                    file,
                    bytes,
                } => self.write_file(&dataset, &file, bytes),
            }
        }
        self
    }

    fn write_file(&self, dataset: &str, file: &str, bytes: u64) {
        let out = self.run_ok("zfs", &["get", "-H", "-o", "value", "mountpoint", dataset]);
        let mountpoint = out.stdout_lossy().trim().to_owned();
        let mut data = Vec::with_capacity(usize::try_from(bytes).unwrap_or(0));
        // xorshift: cheap, incompressible enough for space accounting, deterministic per file.
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (bytes << 1) ^ file.len() as u64;
        while (data.len() as u64) < bytes {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.extend_from_slice(&x.to_le_bytes());
        }
        data.truncate(usize::try_from(bytes).unwrap_or(0));
        std::fs::write(format!("{mountpoint}/{file}"), data).expect("writing test data");
    }

    /// `zpool export`: the pool (a node's disks) goes away until [`TestPool::import`].
    pub fn export(&self) {
        self.run_ok("zpool", &["export", "-f", &self.name]);
    }

    /// Imports the pool exported by [`TestPool::export`] from its backing file.
    pub fn import(&self) {
        self.run_ok("zpool", &["import", "-d", self.file_str(), &self.name]);
    }

    /// Destroys the pool and creates an empty one with the same name on a fresh file: a
    /// replaced disk (same name, new pool guid, no data).
    pub fn replace_with_empty(&self, size: &str) {
        self.run_ok("zpool", &["destroy", "-f", &self.name]);
        let _ = std::fs::remove_file(&self.file);
        self.run_ok("truncate", &["-s", size, self.file_str()]);
        let mountpoint = format!("mountpoint=/var/tmp/zferry-test-mnt/{}", self.name);
        self.run_ok(
            "zpool",
            &[
                "create",
                "-f",
                "-O",
                &mountpoint,
                &self.name,
                self.file_str(),
            ],
        );
    }

    /// Runs `program args…` and panics with its stderr if it fails.
    pub fn run_ok<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Output {
        let cmd = CommandSpec::new(program).args(args.iter().map(|a| a.as_ref().to_owned()));
        let out = self.exec.run(&cmd).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            out.success(),
            "{} failed ({:?}): {}",
            cmd.argv().join(" "),
            out.status,
            out.stderr
        );
        out
    }

    /// Runs `program args…` and returns its output whatever the exit status.
    pub fn run<S: AsRef<str>>(&self, program: &str, args: &[S]) -> Output {
        let cmd = CommandSpec::new(program).args(args.iter().map(|a| a.as_ref().to_owned()));
        self.exec.run(&cmd).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The `zferry` binary built beside the running test binary (`target/<profile>/zferry`).
pub fn zferry_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps")
        .join("zferry");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p zferry`)",
        bin.display()
    );
    bin
}

/// Makes the `zferry` under test the one a remote shell finds (compressed replication runs
/// `zferry wire` on the far node): in the lab guest, `/usr/local/bin/zferry` becomes a link
/// to it (the guest's `/usr` is a tmpfs overlay; the host is untouched). On a real ZFS host
/// nothing is changed: install zferry in root's `PATH` there.
pub fn zferry_on_remote_path() {
    let in_lab = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .is_ok_and(|h| h.trim() == "zferry-lab");
    if !in_lab {
        return;
    }
    let link = PathBuf::from("/usr/local/bin/zferry");
    let want = zferry_binary();
    if std::fs::read_link(&link).is_ok_and(|t| t == want) {
        return;
    }
    // Parallel tests: each makes its own link and renames it over (atomic).
    let tmp = link.with_file_name(format!(".zferry-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&want, &tmp).expect("linking zferry into /usr/local/bin");
    std::fs::rename(&tmp, &link).expect("linking zferry into /usr/local/bin");
}

/// Runs the `zferry` binary (without `RUST_LOG`, so stderr holds only what zferry says);
/// returns its exit code, stdout and stderr.
pub fn run_zferry<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (i32, String, String) {
    let out = std::process::Command::new(zferry_binary())
        .args(args)
        .env_remove("RUST_LOG")
        .output()
        .expect("running zferry");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for TestPool {
    fn drop(&mut self) {
        let keep = match std::env::var("ZFERRY_LAB_KEEP").as_deref() {
            Ok("1") => true,
            Ok("failed") => std::thread::panicking(),
            _ => false,
        };
        if keep {
            let mut msg = String::new();
            let _ = write!(
                msg,
                "keeping pool {} (backing file {})",
                self.name,
                self.file.display()
            );
            eprintln!("{msg}");
            return;
        }
        let _ = self.run("zpool", &["destroy", "-f", &self.name]);
        let _ = std::fs::remove_file(&self.file);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_language_resolves_names_against_the_pool() {
        let steps = parse_setup(
            "p1",
            "# comment\nfs a/b -o compression=lz4\nvol v 64M\nsnap a@s1 # trailing\nrsnap a@s2\nbookmark a@s1 #m\nprop a zferry:x=1\nhold keep a@s1\nwrite a/f 2K\n",
        )
        .unwrap();
        assert_eq!(
            steps,
            vec![
                Step::Zfs(vec![
                    "create".into(),
                    "-p".into(),
                    "-o".into(),
                    "compression=lz4".into(),
                    "p1/a/b".into()
                ]),
                Step::Zfs(vec![
                    "create".into(),
                    "-p".into(),
                    "-V".into(),
                    "64M".into(),
                    "p1/v".into()
                ]),
                Step::Zfs(vec!["snapshot".into(), "p1/a@s1".into()]),
                Step::Zfs(vec!["snapshot".into(), "-r".into(), "p1/a@s2".into()]),
                Step::Zfs(vec!["bookmark".into(), "p1/a@s1".into(), "p1/a#m".into()]),
                Step::Zfs(vec!["set".into(), "zferry:x=1".into(), "p1/a".into()]),
                Step::Zfs(vec!["hold".into(), "keep".into(), "p1/a@s1".into()]),
                Step::Write {
                    dataset: "p1/a".into(),
                    file: "f".into(),
                    bytes: 2048
                },
            ]
        );
    }

    #[test]
    fn unknown_steps_name_their_line() {
        let err = parse_setup("p", "fs a\nfrobnicate x\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }
}
