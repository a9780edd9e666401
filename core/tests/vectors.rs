//! The checked-in test vectors: the core reads exactly the expected records
//! from each, and its writer still produces them byte for byte.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::vectors;

fn vector_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors").join(name)
}

fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(dir: &Path, rel: &str, out: &mut BTreeMap<String, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = format!("{rel}{}", entry.file_name().to_string_lossy());
            if entry.file_type().unwrap().is_dir() {
                walk(&entry.path(), &format!("{name}/"), out);
            } else if !name.starts_with("LOCK") {
                out.insert(name, std::fs::read(entry.path()).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, "", &mut out);
    out
}

fn copy(from: &Path, to: &Path) {
    for (name, bytes) in files(from) {
        let target = to.join(&name);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::write(target, bytes).unwrap();
    }
}

#[test]
fn the_writer_reproduces_every_vector_byte_for_byte() {
    for name in vectors::names() {
        let fresh = tempfile::tempdir().unwrap();
        vectors::write(name, fresh.path());
        let want = files(&vector_dir(name).join("pond"));
        let got = files(fresh.path());
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{name}: file names");
        for (file, bytes) in &want {
            assert!(got[file] == *bytes, "{name}: {file} differs from the checked-in vector");
        }
    }
}

#[test]
fn every_vector_reads_back_as_expected() {
    for name in vectors::names() {
        let scratch = tempfile::tempdir().unwrap();
        copy(&vector_dir(name).join("pond"), scratch.path());
        let got = vectors::expected(name, scratch.path());
        let want: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(vector_dir(name).join("expected.json")).unwrap())
                .unwrap();
        assert_eq!(got, want, "{name}");
    }
}
