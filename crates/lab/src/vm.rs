//! Booting and stopping the lab guest.
//!
//! The guest runs the stock Debian kernel the host has installed (the one `zfs-dkms` built
//! a module for), with a tiny initramfs that mounts the host's `/` read-only over virtio-9p
//! under a tmpfs overlay, mounts the repository (and any other build directory, see
//! [`LabPaths::shares`]) read-write at its real path, and hands
//! over to `lab/guest-init.sh`. Commands reach the guest through a TCP port that qemu
//! forwards (user networking with `restrict=on`: the guest reaches nothing outside).

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::cpio::{Archive, Entry};

/// Bump when the initramfs layout or its `/init` changes, so cached images are rebuilt.
const INITRAMFS_VERSION: u32 = 3;
/// Modules the initramfs needs before it can reach the host's root filesystem.
const EARLY_MODULES: &[&str] = &["virtio_pci", "9pnet_virtio", "9p", "overlay"];
/// The agent's port inside the guest.
const GUEST_PORT: u16 = 7000;
const GUEST_ADDR: &str = "10.0.2.15";

/// Where the lab keeps its state and what it boots.
#[derive(Debug, Clone)]
pub struct LabPaths {
    /// The repository, shared read-write at the same path in the guest.
    pub repo: PathBuf,
    /// Further directories shared read-write at their own paths: `CARGO_TARGET_DIR` when it
    /// is outside the repository, and the `:`-separated `ZFERRY_LAB_SHARES`.
    ///
    /// Why: everything else the guest sees through the overlay of the host's `/`, and
    /// overlayfs does not support changes to its lower layer while mounted — a binary
    /// relinked on the host after boot crashed in the guest (SIGSEGV on stale pages).
    /// Directories that change while the lab runs must be shares, not overlay.
    pub extra_shares: Vec<PathBuf>,
    /// Runtime state: `state.json`, `console.log`, the qemu pid file.
    pub state_dir: PathBuf,
    /// Built initramfs images, reused across boots.
    pub cache_dir: PathBuf,
}

impl LabPaths {
    /// Defaults: the repository this tool was built from; state under `target/lab`;
    /// cache under `/var/cache/zferry-lab`. `ZFERRY_LAB_REPO`, `ZFERRY_LAB_DIR` and
    /// `ZFERRY_LAB_CACHE` override them.
    pub fn from_env() -> Self {
        let repo = std::env::var_os("ZFERRY_LAB_REPO").map_or_else(
            || Path::new(env!("CARGO_MANIFEST_DIR")).join("../.."),
            PathBuf::from,
        );
        let repo = repo.canonicalize().unwrap_or(repo);
        let state_dir = std::env::var_os("ZFERRY_LAB_DIR")
            .map_or_else(|| repo.join("target/lab"), PathBuf::from);
        let cache_dir = std::env::var_os("ZFERRY_LAB_CACHE")
            .map_or_else(|| PathBuf::from("/var/cache/zferry-lab"), PathBuf::from);
        let mut extra_shares: Vec<PathBuf> = Vec::new();
        let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from);
        let listed = std::env::var("ZFERRY_LAB_SHARES").unwrap_or_default();
        for dir in target.into_iter().chain(
            listed
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from),
        ) {
            let Ok(dir) = dir.canonicalize() else {
                continue;
            };
            if !dir.starts_with(&repo) && !extra_shares.contains(&dir) {
                extra_shares.push(dir);
            }
        }
        Self {
            repo,
            extra_shares,
            state_dir,
            cache_dir,
        }
    }

    fn state_file(&self) -> PathBuf {
        self.state_dir.join("state.json")
    }

    /// The console log of the current or last boot.
    pub fn console_log(&self) -> PathBuf {
        self.state_dir.join("console.log")
    }
}

/// What a running lab looks like, persisted in `state.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LabState {
    pub pid: u32,
    pub port: u16,
    pub kernel: String,
    pub accel: String,
    pub memory_mib: u32,
}

impl LabState {
    /// A client for this lab's agent.
    pub fn client(&self) -> Client {
        Client::new(SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)))
    }
}

/// Options for [`up`].
#[derive(Debug, Clone)]
pub struct BootOptions {
    pub memory_mib: u32,
    pub cpus: u32,
    /// How long to wait for the agent to answer with ZFS loaded.
    pub ready_timeout: Duration,
}

impl Default for BootOptions {
    fn default() -> Self {
        Self {
            memory_mib: 4096,
            cpus: 2,
            ready_timeout: Duration::from_mins(3),
        }
    }
}

/// Reads the state of a lab that is up and answering, if any.
pub fn current(paths: &LabPaths) -> Option<LabState> {
    let text = fs::read_to_string(paths.state_file()).ok()?;
    let state: LabState = serde_json::from_str(&text).ok()?;
    process_alive(state.pid).then_some(state)
}

/// Boots the guest unless one is already running; returns once ZFS is loaded in it.
pub fn up(paths: &LabPaths, opts: &BootOptions) -> Result<LabState> {
    if let Some(state) = current(paths) {
        if state
            .client()
            .ping(Duration::from_secs(5))
            .is_ok_and(|p| p.zfs_loaded)
        {
            return Ok(state);
        }
        bail!(
            "a lab guest (pid {}) is running but not answering; stop it with `zferry-lab down`",
            state.pid
        );
    }
    let repo = shareable(&paths.repo)?;
    let extra: Vec<&str> = paths
        .extra_shares
        .iter()
        .map(|p| shareable(p))
        .collect::<Result<_>>()?;
    fs::create_dir_all(&paths.state_dir)
        .with_context(|| format!("creating {}", paths.state_dir.display()))?;
    let kernel = find_kernel()?;
    let initrd = ensure_initramfs(paths, &kernel)?;
    let port = free_port()?;
    let accel = pick_accel();
    let agent = std::env::current_exe().context("locating the zferry-lab binary")?;
    let pid_file = paths.state_dir.join("qemu.pid");
    let _ = fs::remove_file(&pid_file);
    let argv = qemu_argv(&QemuArgs {
        kernel: &kernel,
        initrd: &initrd,
        repo,
        extra_shares: &extra,
        guest_init: &paths.repo.join("lab/guest-init.sh"),
        agent: &agent,
        port,
        accel,
        memory_mib: opts.memory_mib,
        cpus: opts.cpus,
        console: &paths.console_log(),
        pid_file: &pid_file,
    });
    let started = Instant::now();
    let status = Command::new(&argv[0])
        .args(&argv[1..])
        .status()
        .context("starting qemu-system-x86_64")?;
    if !status.success() {
        bail!(
            "qemu-system-x86_64 failed to start ({status}); see {}",
            paths.console_log().display()
        );
    }
    let pid: u32 = fs::read_to_string(&pid_file)
        .context("reading qemu's pid file")?
        .trim()
        .parse()
        .context("parsing qemu's pid file")?;
    let state = LabState {
        pid,
        port,
        kernel: kernel.release.clone(),
        accel: accel.to_owned(),
        memory_mib: opts.memory_mib,
    };
    fs::write(paths.state_file(), serde_json::to_vec_pretty(&state)?)?;
    wait_ready(paths, &state, opts.ready_timeout)?;
    eprintln!(
        "zferry-lab: guest up in {:.1}s (kernel {}, {accel}, {} MiB, agent on 127.0.0.1:{port})",
        started.elapsed().as_secs_f64(),
        kernel.release,
        opts.memory_mib
    );
    Ok(state)
}

/// Stops the guest (if any) and forgets its state.
pub fn down(paths: &LabPaths) -> Result<bool> {
    let Some(state) = current(paths) else {
        let _ = fs::remove_file(paths.state_file());
        return Ok(false);
    };
    let _ = Command::new("kill")
        .args(["-TERM", &state.pid.to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(15);
    while process_alive(state.pid) && Instant::now() < deadline {
        sleep(Duration::from_millis(100));
    }
    if process_alive(state.pid) {
        let _ = Command::new("kill")
            .args(["-KILL", &state.pid.to_string()])
            .status();
    }
    let _ = fs::remove_file(paths.state_file());
    Ok(true)
}

fn wait_ready(paths: &LabPaths, state: &LabState, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let client = state.client();
    loop {
        if client
            .ping(Duration::from_secs(2))
            .is_ok_and(|reply| reply.zfs_loaded)
        {
            return Ok(());
        }
        if !process_alive(state.pid) {
            bail!(
                "the lab guest exited during boot; last console lines:\n{}",
                console_tail(paths, 30)
            );
        }
        if Instant::now() > deadline {
            let _ = down(paths);
            bail!(
                "the lab guest did not become ready within {}s; last console lines:\n{}",
                timeout.as_secs(),
                console_tail(paths, 30)
            );
        }
        sleep(Duration::from_millis(250));
    }
}

/// The last `n` lines of the console log, for error messages.
pub fn console_tail(paths: &LabPaths, n: usize) -> String {
    let text = fs::read_to_string(paths.console_log()).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
}

fn free_port() -> Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

/// KVM only when it can run a stock kernel: `kvm_pvm` (seen on these machines) cannot.
fn pick_accel() -> &'static str {
    if let Ok(forced) = std::env::var("ZFERRY_LAB_ACCEL") {
        if forced == "kvm" {
            return "kvm";
        }
        return "tcg";
    }
    let kvm = Path::new("/dev/kvm").exists() && !Path::new("/sys/module/kvm_pvm").exists();
    if kvm { "kvm" } else { "tcg" }
}

/// A kernel with a zfs module built for it.
#[derive(Debug, Clone)]
pub struct Kernel {
    pub release: String,
    pub image: PathBuf,
}

/// The newest installed kernel that has both an image in /boot and a zfs module.
pub fn find_kernel() -> Result<Kernel> {
    let mut found = Vec::new();
    for entry in fs::read_dir("/lib/modules").context("reading /lib/modules")? {
        let release = entry?.file_name().to_string_lossy().into_owned();
        let image = PathBuf::from(format!("/boot/vmlinuz-{release}"));
        let has_zfs = [
            "updates/dkms/zfs.ko",
            "updates/dkms/zfs.ko.xz",
            "extra/zfs.ko",
            "extra/zfs/zfs.ko",
        ]
        .iter()
        .any(|m| Path::new(&format!("/lib/modules/{release}/{m}")).exists());
        if has_zfs && image.exists() {
            found.push(Kernel { release, image });
        }
    }
    found.sort_by_key(|k| version_key(&k.release));
    found.pop().context(
        "no kernel with a zfs module found (looked for /boot/vmlinuz-* with \
         /lib/modules/*/updates/dkms/zfs.ko); run `lab/install-host-packages.sh` first",
    )
}

fn version_key(release: &str) -> Vec<u64> {
    release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Builds (or reuses) the initramfs for `kernel`.
fn ensure_initramfs(paths: &LabPaths, kernel: &Kernel) -> Result<PathBuf> {
    let out = paths.cache_dir.join(format!(
        "initrd-{}-v{INITRAMFS_VERSION}.cpio",
        kernel.release
    ));
    if out.exists() {
        return Ok(out);
    }
    fs::create_dir_all(&paths.cache_dir)
        .with_context(|| format!("creating {}", paths.cache_dir.display()))?;
    let busybox = Path::new("/bin/busybox");
    if !busybox.exists() {
        bail!("/bin/busybox is missing; run `lab/install-host-packages.sh` (busybox-static)");
    }
    let mut archive = Archive::default();
    for dir in [
        "bin",
        "dev",
        "proc",
        "sys",
        "lower",
        "rw",
        "newroot",
        "lib",
        "lib/modules",
    ] {
        archive.add(dir, Entry::Dir);
    }
    archive.add(
        "bin/busybox",
        Entry::File {
            data: fs::read(busybox)?,
            executable: true,
        },
    );
    archive.add(
        "bin/sh",
        Entry::Symlink {
            target: "busybox".into(),
        },
    );
    let mut order = String::new();
    for (n, module) in early_modules(&kernel.release)?.iter().enumerate() {
        let name = format!(
            "lib/modules/{n:02}-{}",
            module.file_name().unwrap_or_default().to_string_lossy()
        );
        archive.add(
            name.clone(),
            Entry::File {
                data: fs::read(module)?,
                executable: false,
            },
        );
        let _ = writeln!(order, "/{name}");
    }
    archive.add(
        "modules.order",
        Entry::File {
            data: order.into_bytes(),
            executable: false,
        },
    );
    archive.add(
        "init",
        Entry::File {
            data: INIT_SCRIPT.as_bytes().to_vec(),
            executable: true,
        },
    );
    let tmp = out.with_extension("tmp");
    let mut file = std::io::BufWriter::new(fs::File::create(&tmp)?);
    archive.write_to(&mut file)?;
    std::io::Write::flush(&mut file)?;
    drop(file);
    fs::rename(&tmp, &out)?;
    Ok(out)
}

/// Module files in load order, from `modprobe --show-depends` (built-ins need none).
fn early_modules(release: &str) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = Vec::new();
    for module in EARLY_MODULES {
        let out = Command::new("modprobe")
            .args(["-S", release, "--show-depends", module])
            .output()
            .context("running modprobe (package kmod)")?;
        if !out.status.success() {
            bail!(
                "modprobe --show-depends {module} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for path in parse_show_depends(&String::from_utf8_lossy(&out.stdout)) {
            if !files.contains(&path) {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// Parses `modprobe --show-depends` lines: `insmod /path/x.ko [params]` or `builtin x`.
fn parse_show_depends(text: &str) -> Vec<PathBuf> {
    text.lines()
        .filter_map(|l| l.strip_prefix("insmod "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(PathBuf::from)
        .collect()
}

/// A directory the guest mounts at the same path: UTF-8, no whitespace or commas (the
/// kernel command line carries the list).
fn shareable(dir: &Path) -> Result<&str> {
    let s = dir
        .to_str()
        .with_context(|| format!("{} is not UTF-8", dir.display()))?;
    if s.contains(|c: char| c.is_whitespace() || c == ',') {
        bail!("the lab cannot share a directory whose path contains whitespace or commas: {s}");
    }
    Ok(s)
}

struct QemuArgs<'a> {
    kernel: &'a Kernel,
    initrd: &'a Path,
    repo: &'a str,
    extra_shares: &'a [&'a str],
    guest_init: &'a Path,
    agent: &'a Path,
    port: u16,
    accel: &'a str,
    memory_mib: u32,
    cpus: u32,
    console: &'a Path,
    pid_file: &'a Path,
}

fn qemu_argv(a: &QemuArgs<'_>) -> Vec<String> {
    let accel = if a.accel == "kvm" {
        "kvm".to_owned()
    } else {
        "tcg,thread=multi".to_owned()
    };
    let cmdline = format!(
        "console=ttyS0 panic=-1 quiet loglevel=3 zferry_repo={} zferry_shares={} zferry_init={} zferry_agent={} zferry_listen={GUEST_ADDR}:{GUEST_PORT}",
        a.repo,
        a.extra_shares.join(","),
        a.guest_init.display(),
        a.agent.display()
    );
    let mut strs: Vec<String> = vec![
        "qemu-system-x86_64".into(),
        "-name".into(),
        "zferry-lab".into(),
        "-machine".into(),
        "q35".into(),
        "-accel".into(),
        accel,
        "-cpu".into(),
        "max".into(),
        "-smp".into(),
        a.cpus.to_string(),
        "-m".into(),
        a.memory_mib.to_string(),
        "-kernel".into(),
        a.kernel.image.display().to_string(),
        "-initrd".into(),
        a.initrd.display().to_string(),
        "-append".into(),
        cmdline,
        "-fsdev".into(),
        "local,id=hostroot,path=/,security_model=none,readonly=on".into(),
        "-device".into(),
        "virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot".into(),
        "-fsdev".into(),
        format!("local,id=repo,path={},security_model=none", a.repo),
        "-device".into(),
        "virtio-9p-pci,fsdev=repo,mount_tag=repo".into(),
        "-netdev".into(),
        format!(
            "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:{}-{GUEST_ADDR}:{GUEST_PORT}",
            a.port
        ),
        "-device".into(),
        "virtio-net-pci,netdev=n0".into(),
        "-display".into(),
        "none".into(),
        "-serial".into(),
        format!("file:{}", a.console.display()),
        "-monitor".into(),
        "none".into(),
        "-no-reboot".into(),
        "-daemonize".into(),
        "-pidfile".into(),
        a.pid_file.display().to_string(),
    ];
    for (n, dir) in a.extra_shares.iter().enumerate() {
        strs.push("-fsdev".into());
        strs.push(format!("local,id=share{n},path={dir},security_model=none"));
        strs.push("-device".into());
        strs.push(format!("virtio-9p-pci,fsdev=share{n},mount_tag=share{n}"));
    }
    strs
}

/// The initramfs `/init`: reach the host's root over 9p, overlay it, hand over.
const INIT_SCRIPT: &str = r#"#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
fail() { echo "zferry-lab initramfs: $*"; poweroff -f; }
for m in $(cat /modules.order); do insmod "$m" || fail "insmod $m"; done
arg() { for w in $(cat /proc/cmdline); do case "$w" in "$1="*) echo "${w#*=}";; esac; done; }
REPO=$(arg zferry_repo)
INIT=$(arg zferry_init)
OPTS=trans=virtio,version=9p2000.L,msize=524288,cache=none
mount -t 9p -o "$OPTS,ro" hostroot /lower || fail "mounting the host root over 9p"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot \
    || fail "mounting the overlay root"
# The guest's own /tmp and /run come first: a share may live under them (CI clones into
# /tmp), and mounting them later would hide it.
mount -t tmpfs -o mode=1777 tmpfs /newroot/tmp
mount -t tmpfs -o mode=0755 tmpfs /newroot/run
mkdir -p "/newroot$REPO"
mount -t 9p -o "$OPTS" repo "/newroot$REPO" || fail "mounting the repository over 9p"
n=0
for dir in $(arg zferry_shares | tr ',' ' '); do
    mkdir -p "/newroot$dir"
    mount -t 9p -o "$OPTS" "share$n" "/newroot$dir" || fail "mounting $dir over 9p"
    n=$((n + 1))
done
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/bash "$INIT"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn show_depends_keeps_order_and_skips_builtins() {
        let text = "builtin virtio\ninsmod /lib/modules/6.1.0-56-amd64/kernel/net/9p/9pnet.ko \ninsmod /lib/modules/6.1.0-56-amd64/kernel/net/9p/9pnet_virtio.ko \n";
        let got = parse_show_depends(text);
        assert_eq!(
            got,
            vec![
                PathBuf::from("/lib/modules/6.1.0-56-amd64/kernel/net/9p/9pnet.ko"),
                PathBuf::from("/lib/modules/6.1.0-56-amd64/kernel/net/9p/9pnet_virtio.ko"),
            ]
        );
    }

    #[test]
    fn versions_sort_numerically() {
        let mut v = vec!["6.1.0-9-amd64", "6.1.0-56-amd64", "6.1.0-10-amd64"];
        v.sort_by_key(|r| version_key(r));
        assert_eq!(v, ["6.1.0-9-amd64", "6.1.0-10-amd64", "6.1.0-56-amd64"]);
    }

    #[test]
    fn qemu_forwards_only_loopback_and_restricts_the_guest() {
        let k = Kernel {
            release: "6.1.0-56-amd64".into(),
            image: "/boot/vmlinuz-6.1.0-56-amd64".into(),
        };
        let argv = qemu_argv(&QemuArgs {
            kernel: &k,
            initrd: Path::new("/c/i.cpio"),
            repo: "/work/main",
            extra_shares: &["/work/tgt"],
            guest_init: Path::new("/work/main/lab/guest-init.sh"),
            agent: Path::new("/work/main/target/debug/zferry-lab"),
            port: 40000,
            accel: "tcg",
            memory_mib: 2048,
            cpus: 2,
            console: Path::new("/s/console.log"),
            pid_file: Path::new("/s/qemu.pid"),
        });
        let net = argv.iter().find(|a| a.starts_with("user,")).unwrap();
        assert!(net.contains("restrict=on"), "{net}");
        assert!(
            net.contains("hostfwd=tcp:127.0.0.1:40000-10.0.2.15:7000"),
            "{net}"
        );
        assert!(
            argv.iter()
                .any(|a| a == "local,id=hostroot,path=/,security_model=none,readonly=on")
        );
        assert!(argv.iter().any(|a| a == "tcg,thread=multi"));
        assert!(
            argv.iter()
                .any(|a| a == "local,id=share0,path=/work/tgt,security_model=none")
        );
        let cmdline = argv.iter().find(|a| a.starts_with("console=")).unwrap();
        assert!(cmdline.contains(" zferry_shares=/work/tgt "), "{cmdline}");
    }
}
