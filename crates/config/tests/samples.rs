//! Every file in samples/ must load cleanly; every file in samples/invalid/ must fail with
//! the message and line:col its header announces (`# expect: ...`, `# at: line:col`).

use std::fs;
use std::path::{Path, PathBuf};

use zferry_config::{Config, ConfigError};

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../samples")
}

fn toml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .expect("samples directory is readable")
        .map(|e| e.expect("directory entry is readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_samples_load() {
    let files = toml_files(&samples_dir());
    assert!(
        files.len() >= 3,
        "expected at least 3 samples, found {files:?}"
    );
    for f in files {
        if let Err(e) = Config::load(&f) {
            panic!("{} should be valid:\n{e}", f.display());
        }
    }
}

fn header<'a>(text: &'a str, key: &str, file: &Path) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .unwrap_or_else(|| panic!("{} lacks a `# {key}:` line", file.display()))
        .trim()
}

#[test]
fn invalid_samples_fail_where_announced() {
    let files = toml_files(&samples_dir().join("invalid"));
    assert!(
        files.len() >= 10,
        "expected at least 10 invalid samples, found {}",
        files.len()
    );
    for f in files {
        let text = fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("# expect: "),
            "{}: first line must be `# expect:`",
            f.display()
        );
        let expect = header(&text, "expect", &f);
        let at = header(&text, "at", &f);
        let Err(err) = Config::load(&f) else {
            panic!("{} should fail", f.display())
        };
        assert!(
            matches!(err, ConfigError::Parse(_) | ConfigError::Invalid(_)),
            "{err}"
        );
        let full = err.to_string();
        let hit = err
            .diagnostics()
            .iter()
            .find(|d| d.to_string().contains(expect));
        let Some(d) = hit else {
            panic!(
                "{}: no diagnostic contains {expect:?}; got:\n{full}",
                f.display()
            );
        };
        assert_eq!(
            format!("{}:{}", d.line, d.column),
            at,
            "{}: wrong position in:\n{full}",
            f.display()
        );
        assert!(
            full.starts_with(&format!("{}:", f.display())),
            "path missing in:\n{full}"
        );
    }
}

#[test]
fn missing_file_names_path_and_suggests_flag() {
    let err = Config::load(Path::new("/nonexistent/zferry.toml")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("/nonexistent/zferry.toml: cannot read config file"),
        "{msg}"
    );
    assert!(msg.contains("--config"), "{msg}");
}

/// The keys a section accepts, read from the parser's own "expected one of" list.
fn accepted_keys(section: &str) -> Vec<String> {
    let text = section.replace('@', "zzz-not-a-key = 1");
    let err = Config::from_str_with_path(&text, Path::new("probe.toml"))
        .expect_err("unknown key is refused");
    let msg = err.diagnostics()[0].message.clone();
    let list = msg.split_once("expected one of ").expect("list of keys").1;
    list.split(", ").map(str::to_owned).collect()
}

#[test]
fn full_sample_documents_every_key() {
    let full = fs::read_to_string(samples_dir().join("full.toml")).unwrap();
    let probes = [
        "@\n",
        "[global]\n@\n",
        "[nodes.n]\n@\n",
        "[templates.t]\n@\n",
        "[templates.t.monitor]\n@\n",
        "[datasets.\"a/b\"]\n@\n",
        "[datasets.\"a/b\"]\npre-snapshot = { argv = [\"/x\"], @ }\n",
        "[jobs.j]\n@\n",
        "[jobs.j]\nsource = { node = \"n\", dataset = \"a/b\", @ }\n",
        "[services.s]\n@\n",
    ];
    let mut missing = Vec::new();
    for probe in probes {
        let keys = accepted_keys(probe);
        assert!(keys.len() >= 2, "{probe}: {keys:?}");
        for key in keys {
            let documented = [
                format!("\n{key} = "),
                format!("{{ {key} = "),
                format!(", {key} = "),
                format!("[{key}"),
                format!(".{key}]"),
            ]
            .iter()
            .any(|pat| full.contains(pat.as_str()));
            if !documented {
                missing.push(key);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "samples/full.toml does not show: {missing:?}"
    );
}
