//! POSIX ACLs of container backups: the text GNU tar and bsdtar put in the PAX records
//! `SCHILY.acl.access` / `SCHILY.acl.default` (vzdump runs tar with `--acls`), and the binary
//! value of the `system.posix_acl_access` / `system.posix_acl_default` xattrs through which
//! Linux reads and writes ACLs.
//!
//! Text (what `acl_to_text`/`acl_from_text` of libacl use): entries separated by newlines or
//! commas, each `tag:qualifier:perms`, tags `user`/`group`/`mask`/`other` (or `u`/`g`/`m`/`o`),
//! an empty qualifier for the owner/owning group/mask/other, perms of `r`, `w`, `x` and `-`.
//! GNU tar writes a user or group name where the host that made the archive knows one, even
//! with `--numeric-owner` (`group:adm:r-x`; seen with GNU tar 1.34), else the numeric id;
//! `pct restore` runs tar on the Proxmox host, which maps the name back through the host's
//! user database. So names are resolved here through this host's `/etc/passwd` and
//! `/etc/group` ([`Names`]), the same mapping a restore with the original archive makes; a
//! name this host does not know cannot become an ACL here: its text is kept as the archive had
//! it ([`STASH_ACCESS`]) and written back on restore. bsdtar and star append the numeric id as
//! a fourth field (`user:alice:r-x:1000`), which then wins over the name.
//!
//! Binary (`linux/posix_acl_xattr.h`): a little-endian `u32` version 2, then per entry
//! `u16 tag, u16 perm, u32 id` (little-endian); tags 0x01 user-obj, 0x02 user, 0x04 group-obj,
//! 0x08 group, 0x10 mask, 0x20 other; the id is `u32::MAX` for all but user and group
//! entries. The kernel wants entries sorted by tag, then id, and returns them that way, so
//! [`Acl::to_xattr`] sorts: the bytes then compare equal to what the file system reports.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::path::Path;

/// The xattr holding a file's access ACL.
pub const XATTR_ACCESS: &[u8] = b"system.posix_acl_access";
/// The xattr holding a directory's default ACL.
pub const XATTR_DEFAULT: &[u8] = b"system.posix_acl_default";
/// The PAX record of an access ACL.
pub const PAX_ACCESS: &[u8] = b"SCHILY.acl.access";
/// The PAX record of a default ACL.
pub const PAX_DEFAULT: &[u8] = b"SCHILY.acl.default";

/// Where the text of an access ACL naming a user or group this host does not know is kept,
/// as the archive had it, instead of the ACL (see `tree`): a `trusted.*` xattr, which neither
/// vzdump's tar nor an unprivileged container reads or writes. A restore writes it back as
/// the `SCHILY.acl.access` record, so `pct restore` maps the names on the Proxmox host, as it
/// would from the original archive.
pub const STASH_ACCESS: &[u8] = b"trusted.zferry.acl_access_text";
/// [`STASH_ACCESS`] for a directory's default ACL.
pub const STASH_DEFAULT: &[u8] = b"trusted.zferry.acl_default_text";

const VERSION: u32 = 2;
const UNDEFINED_ID: u32 = u32::MAX;

/// An entry's tag, with the kernel's values (their order is the required entry order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Tag {
    UserObj = 0x01,
    User = 0x02,
    GroupObj = 0x04,
    Group = 0x08,
    Mask = 0x10,
    Other = 0x20,
}

impl Tag {
    fn from_u16(v: u16) -> Option<Tag> {
        Some(match v {
            0x01 => Tag::UserObj,
            0x02 => Tag::User,
            0x04 => Tag::GroupObj,
            0x08 => Tag::Group,
            0x10 => Tag::Mask,
            0x20 => Tag::Other,
            _ => return None,
        })
    }

    fn named(self) -> bool {
        matches!(self, Tag::User | Tag::Group)
    }
}

/// One ACL entry: `id` is the uid/gid of a named user/group entry, else `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub tag: Tag,
    pub id: Option<u32>,
    /// `r` 4, `w` 2, `x` 1.
    pub perm: u16,
}

/// A valid POSIX ACL, entries in the kernel's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acl {
    entries: Vec<Entry>,
}

/// Why an ACL text or xattr value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclError {
    pub reason: String,
    /// The text names a user or group this host does not know: well-formed, but only a host
    /// with that name (the one `pct restore` runs on) can map it to an id.
    pub unknown_name: bool,
}

impl fmt::Display for AclError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

fn bad(msg: impl Into<String>) -> AclError {
    AclError {
        reason: msg.into(),
        unknown_name: false,
    }
}

fn parse_perm(s: &str, entry: &str) -> Result<u16, AclError> {
    let mut perm = 0;
    for c in s.chars() {
        perm |= match c {
            'r' => 4,
            'w' => 2,
            'x' => 1,
            '-' => 0,
            _ => return Err(bad(format!("entry {entry:?}: bad permission {c:?}"))),
        };
    }
    if s.is_empty() {
        return Err(bad(format!("entry {entry:?}: no permissions")));
    }
    Ok(perm)
}

/// The uid/gid of a named entry: the fourth field (star, bsdtar), a numeric qualifier, or
/// the name looked up in `names`.
fn qualifier_id(tag: Tag, qualifier: &str, id: Option<&str>, names: &Names) -> Option<u32> {
    let valid = |n: u32| (n != UNDEFINED_ID).then_some(n);
    if let Some(id) = id {
        return id.parse().ok().and_then(valid);
    }
    if let Ok(n) = qualifier.parse() {
        return valid(n);
    }
    let table = if tag == Tag::User {
        &names.users
    } else {
        &names.groups
    };
    table.get(qualifier).copied()
}

/// User and group names of a host's `/etc/passwd` and `/etc/group` (`name:x:id:...` lines).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    users: HashMap<String, u32>,
    groups: HashMap<String, u32>,
}

impl Names {
    /// This host's names; a missing or unreadable file gives no names (numeric ACLs still
    /// work; a named entry then fails with the reason).
    pub fn of_host() -> Names {
        let read = |p: &str| std::fs::read_to_string(Path::new(p)).unwrap_or_default();
        Names::parse(&read("/etc/passwd"), &read("/etc/group"))
    }

    /// Names from the text of a passwd and a group file; malformed lines are skipped.
    pub fn parse(passwd: &str, group: &str) -> Names {
        let table = |text: &str| {
            text.lines()
                .filter_map(|l| {
                    let mut f = l.split(':');
                    let name = f.next()?;
                    let id = f.nth(1)?.parse().ok()?;
                    (!name.is_empty() && !name.starts_with('#')).then(|| (name.to_owned(), id))
                })
                .collect()
        };
        Names {
            users: table(passwd),
            groups: table(group),
        }
    }
}

impl Acl {
    /// Parses the text of a `SCHILY.acl.*` record (see the module docs) and checks it; user
    /// and group names are looked up in `names`. A name `names` lacks is an error with
    /// `unknown_name` set, returned only once the whole text has passed every other check.
    pub fn parse_text(text: &str, names: &Names) -> Result<Acl, AclError> {
        let mut entries = Vec::new();
        let mut unknown: Option<AclError> = None;
        // Unknown names stand in with ids of their own (the same name, the same id), so the
        // rest of the checks (duplicates, mask) still run.
        let mut stand_ins: Vec<(Tag, &str)> = Vec::new();
        for raw in text.split([',', '\n']) {
            // Comments (`#effective:r--`) and blanks, as libacl's text form allows.
            let e = raw.split('#').next().unwrap_or_default().trim();
            if e.is_empty() {
                continue;
            }
            let fields: Vec<&str> = e.split(':').collect();
            let (tag, qualifier, perm, id) = match fields.as_slice() {
                [t, q, p] => (*t, *q, *p, None),
                [t, q, p, id] => (*t, *q, *p, Some(*id)),
                _ => {
                    return Err(bad(format!(
                        "entry {e:?}: expected tag:qualifier:permissions"
                    )));
                }
            };
            let has_id = !qualifier.is_empty();
            let tag = match (tag, has_id) {
                ("user" | "u", false) => Tag::UserObj,
                ("user" | "u", true) => Tag::User,
                ("group" | "g", false) => Tag::GroupObj,
                ("group" | "g", true) => Tag::Group,
                ("mask" | "m", false) => Tag::Mask,
                ("other" | "o", false) => Tag::Other,
                ("mask" | "m" | "other" | "o", true) => {
                    return Err(bad(format!("entry {e:?}: {tag} takes no qualifier")));
                }
                _ => return Err(bad(format!("entry {e:?}: unknown tag {tag:?}"))),
            };
            let id = if tag.named() {
                let found = qualifier_id(tag, qualifier, id, names);
                let is_name = id.is_none() && qualifier.parse::<u32>().is_err();
                if found.is_none() {
                    let err = AclError {
                        reason: format!(
                            "entry {e:?}: {qualifier:?} is neither a numeric id nor a {} this host knows ({})",
                            if tag == Tag::User { "user" } else { "group" },
                            if tag == Tag::User {
                                "/etc/passwd"
                            } else {
                                "/etc/group"
                            },
                        ),
                        unknown_name: is_name,
                    };
                    if !is_name {
                        return Err(err);
                    }
                    unknown.get_or_insert(err);
                }
                found.or_else(|| {
                    let k = stand_ins
                        .iter()
                        .position(|&s| s == (tag, qualifier))
                        .unwrap_or_else(|| {
                            stand_ins.push((tag, qualifier));
                            stand_ins.len() - 1
                        });
                    Some(UNDEFINED_ID - 1 - u32::try_from(k).unwrap_or(u32::MAX / 2))
                })
            } else {
                None
            };
            entries.push(Entry {
                tag,
                id,
                perm: parse_perm(perm, e)?,
            });
        }
        let acl = Acl::new(entries)?;
        unknown.map_or(Ok(acl), Err)
    }

    /// Sorts `entries` into the kernel's order and checks the rules `posix_acl_valid` applies:
    /// one owner, owning-group and other entry; at most one mask, required with named
    /// entries; no user or group named twice.
    pub fn new(mut entries: Vec<Entry>) -> Result<Acl, AclError> {
        entries.sort_by_key(|e| (e.tag, e.id));
        for w in entries.windows(2) {
            if (w[0].tag, w[0].id) == (w[1].tag, w[1].id) {
                let what = match w[0].id {
                    Some(id) => format!("{:?} {id}", w[0].tag),
                    None => format!("{:?}", w[0].tag),
                };
                return Err(bad(format!("{what} appears twice")));
            }
        }
        let has = |t: Tag| entries.iter().any(|e| e.tag == t);
        for (t, name) in [
            (Tag::UserObj, "user::"),
            (Tag::GroupObj, "group::"),
            (Tag::Other, "other::"),
        ] {
            if !has(t) {
                return Err(bad(format!("no {name} entry")));
            }
        }
        if entries.iter().any(|e| e.tag.named()) && !has(Tag::Mask) {
            return Err(bad("named user or group entries need a mask:: entry"));
        }
        if let Some(e) = entries.iter().find(|e| e.perm > 7) {
            return Err(bad(format!(
                "{:?} has bad permission bits {:#o}",
                e.tag, e.perm
            )));
        }
        Ok(Acl { entries })
    }

    /// The permission bits (`0o777`) a file has with this access ACL: the owner's and
    /// other's entries, and the mask (or, without one, the owning group's entry) as group
    /// bits — what `chmod` and setting the ACL keep in step.
    pub fn mode_bits(&self) -> u32 {
        let perm = |t: Tag| {
            self.entries
                .iter()
                .find(|e| e.tag == t)
                .map_or(0, |e| u32::from(e.perm))
        };
        let group = if self.entries.iter().any(|e| e.tag == Tag::Mask) {
            perm(Tag::Mask)
        } else {
            perm(Tag::GroupObj)
        };
        perm(Tag::UserObj) << 6 | group << 3 | perm(Tag::Other)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Only the owner, group and other entries: the permission bits say it all, and Linux
    /// stores no access ACL for it (setting one just sets the mode).
    pub fn is_minimal(&self) -> bool {
        self.entries.len() == 3
    }

    /// The binary xattr value (see the module docs).
    pub fn to_xattr(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 8 * self.entries.len());
        out.extend_from_slice(&VERSION.to_le_bytes());
        for e in &self.entries {
            out.extend_from_slice(&(e.tag as u16).to_le_bytes());
            out.extend_from_slice(&e.perm.to_le_bytes());
            out.extend_from_slice(&e.id.unwrap_or(UNDEFINED_ID).to_le_bytes());
        }
        out
    }

    /// Decodes a binary xattr value.
    pub fn from_xattr(v: &[u8]) -> Result<Acl, AclError> {
        let (head, body) = v
            .split_first_chunk::<4>()
            .ok_or_else(|| bad("ACL xattr shorter than its header"))?;
        let version = u32::from_le_bytes(*head);
        if version != VERSION {
            return Err(bad(format!("ACL xattr version {version}, expected 2")));
        }
        if body.len() % 8 != 0 {
            return Err(bad(format!("ACL xattr of {} bytes", v.len())));
        }
        let entries = body
            .chunks_exact(8)
            .map(|c| {
                let tag = u16::from_le_bytes([c[0], c[1]]);
                let perm = u16::from_le_bytes([c[2], c[3]]);
                let id = u32::from_le_bytes([c[4], c[5], c[6], c[7]]);
                let tag = Tag::from_u16(tag).ok_or_else(|| bad(format!("ACL tag {tag:#x}")))?;
                Ok(Entry {
                    tag,
                    id: tag.named().then_some(id),
                    perm,
                })
            })
            .collect::<Result<Vec<_>, AclError>>()?;
        Acl::new(entries)
    }

    /// The text GNU tar writes with `--numeric-owner`: one entry per line (no trailing
    /// newline), numeric qualifiers, e.g. `user::rwx\nuser:1000:r-x\ngroup::r-x\nmask::r-x\nother::r-x`.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            let tag = match e.tag {
                Tag::UserObj | Tag::User => "user",
                Tag::GroupObj | Tag::Group => "group",
                Tag::Mask => "mask",
                Tag::Other => "other",
            };
            let q = e.id.map(|id| id.to_string()).unwrap_or_default();
            let bit = |b: u16, c: char| if e.perm & b == 0 { '-' } else { c };
            let _ = write!(
                out,
                "{tag}:{q}:{}{}{}",
                bit(4, 'r'),
                bit(2, 'w'),
                bit(1, 'x')
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GNU: &str = "user::rwx\nuser:1000:r-x\ngroup::r-x\ngroup:33:rwx\nmask::rwx\nother::r--";

    #[test]
    fn text_to_binary_to_text_round_trips() {
        let acl = Acl::parse_text(GNU, &Names::default()).expect("valid");
        let bin = acl.to_xattr();
        assert_eq!(bin.len(), 4 + 6 * 8);
        assert_eq!(&bin[..4], &[2, 0, 0, 0]);
        // user:1000:r-x, second entry: tag 2, perm 5, id 1000, little-endian.
        assert_eq!(&bin[12..20], &[2, 0, 5, 0, 0xe8, 0x03, 0, 0]);
        // other::r--, last: id undefined.
        assert_eq!(&bin[44..52], &[0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff]);
        let back = Acl::from_xattr(&bin).expect("decodes");
        assert_eq!(back, acl);
        assert_eq!(back.to_text(), GNU);
        assert!(!acl.is_minimal());
        assert_eq!(acl.mode_bits(), 0o774);
        let minimal = Acl::parse_text("u::rw-,g::r--,o::---", &Names::default()).expect("valid");
        assert_eq!(minimal.mode_bits(), 0o640);
    }

    #[test]
    fn star_and_short_forms_and_any_order_give_the_same_acl() {
        let star = "user::rwx,user:alice:r-x:1000,group::r-x,group:www:rwx:33,mask::rwx,other::r--";
        let short = "o::r,m::rwx,g:33:rwx,g::rx,u:1000:rx,u::rwx\n";
        let commented = "user::rwx\nuser:1000:r-x\t#effective:r-x\ngroup::r-x\ngroup:33:rwx\nmask::rwx\nother::r--\n";
        let want = Acl::parse_text(GNU, &Names::default()).expect("valid");
        for t in [star, short, commented] {
            assert_eq!(
                Acl::parse_text(t, &Names::default()).as_ref(),
                Ok(&want),
                "{t:?}"
            );
        }
    }

    #[test]
    fn malformed_text_is_refused_with_the_reason() {
        for (text, why) in [
            ("user::rwx,group::r-x", "no other:: entry"),
            (
                "user::rwx,user:1000:r-x,group::r-x,other::r--",
                "need a mask",
            ),
            (
                "user::rwx,group::r-x,other::r--,other::r--",
                "appears twice",
            ),
            ("user::rwz,group::r-x,other::r--", "bad permission 'z'"),
            ("user::rwx,group::r-x,other::r--,bogus::r--", "unknown tag"),
            (
                "user::rwx,user:alice:r-x,group::r-x,mask::r-x,other::r--",
                "neither a numeric id nor a user this host knows (/etc/passwd)",
            ),
            ("user::rwx,group::r-x,other:5:r--", "takes no qualifier"),
            ("user:rwx", "expected tag:qualifier:permissions"),
        ] {
            let e = Acl::parse_text(text, &Names::default()).expect_err(text);
            assert!(e.reason.contains(why), "{text:?}: {e}");
            assert_eq!(e.unknown_name, why.contains("host knows"), "{text:?}");
        }
    }

    #[test]
    fn names_resolve_through_the_hosts_passwd_and_group() {
        let names = Names::parse(
            "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken\n",
            "root:x:0:\nadm:x:4:syslog\nwww:x:33:\n#comment:x:9:\n",
        );
        // As GNU tar 1.34 wrote journald's default ACL (names where the host had one).
        let gnu = "user::rwx\nuser:alice:r-x\ngroup::r-x\ngroup:adm:r-x\ngroup:www:rwx\nmask::rwx\nother::r-x\n";
        let acl = Acl::parse_text(gnu, &names).expect("valid");
        assert_eq!(
            acl.to_text(),
            "user::rwx\nuser:1000:r-x\ngroup::r-x\ngroup:4:r-x\ngroup:33:rwx\nmask::rwx\nother::r-x"
        );
        // A group name is not looked up among users.
        let e =
            Acl::parse_text("u::rwx,u:adm:r-x,g::r-x,m::r-x,o::---", &names).expect_err("user adm");
        assert!(
            e.reason
                .contains("\"adm\" is neither a numeric id nor a user"),
            "{e}"
        );
        let e = Acl::parse_text("u::rwx,g:comment:r-x,g::r-x,m::r-x,o::---", &names)
            .expect_err("commented-out group");
        assert!(e.reason.contains("/etc/group") && e.unknown_name, "{e}");
    }

    #[test]
    fn an_unknown_name_is_reported_only_for_an_otherwise_valid_text() {
        let names = Names::default();
        // Valid apart from the names: the unknown-name error, for the first one.
        let e = Acl::parse_text("u::rwx,u:bob:r-x,g:ops:r--,g::r-x,m::r-x,o::---", &names)
            .expect_err("bob is unknown");
        assert!(e.reason.contains("\"bob\"") && e.unknown_name, "{e}");
        // The same unknown user twice is a duplicate, whatever its id would be.
        let dup = Acl::parse_text("u::rwx,u:bob:r-x,u:bob:r--,g::r-x,m::r-x,o::---", &names)
            .expect_err("duplicate");
        assert!(
            dup.reason.contains("appears twice") && !dup.unknown_name,
            "{dup}"
        );
        // An unknown name does not hide a structural fault elsewhere.
        let e = Acl::parse_text("u::rwx,u:bob:r-x,g::r-x,o::---", &names).expect_err("no mask");
        assert!(e.reason.contains("need a mask") && !e.unknown_name, "{e}");
        // A numeric id that is not valid is not a name.
        let e = Acl::parse_text("u::rwx,u:4294967295:r-x,g::r-x,m::r-x,o::---", &names)
            .expect_err("undefined id");
        assert!(!e.unknown_name, "{e}");
    }

    #[test]
    fn bad_binary_values_are_refused() {
        let good = Acl::parse_text("u::rw-,g::r--,o::---", &Names::default()).expect("valid");
        assert!(good.is_minimal());
        let bin = good.to_xattr();
        assert!(Acl::from_xattr(&bin[..3]).is_err());
        assert!(Acl::from_xattr(&bin[..bin.len() - 1]).is_err());
        let mut v1 = bin.clone();
        v1[0] = 1;
        assert!(Acl::from_xattr(&v1).is_err());
        let mut tag = bin;
        tag[4] = 0x40;
        assert!(Acl::from_xattr(&tag).is_err());
    }
}
