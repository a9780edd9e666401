//! Writes the test vectors into `tests/vectors/<name>/` (`pond/` and
//! `expected.json`). Run from the repository root:
//! `cargo run -p logpond --example make_vectors`.

#[path = "../tests/common/vectors.rs"]
mod vectors;

use std::path::Path;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    for name in vectors::names() {
        let out = root.join(name);
        let _ = std::fs::remove_dir_all(&out);
        std::fs::create_dir_all(&out).unwrap();
        vectors::write(name, &out.join("pond"));
        // Reading opens the pond (and a queue), which changes files: read a copy.
        let scratch = tempfile::tempdir().unwrap();
        copy_dir(&out.join("pond"), scratch.path());
        let expected = vectors::expected(name, scratch.path());
        std::fs::write(out.join("expected.json"), serde_json::to_string_pretty(&expected).unwrap() + "\n")
            .unwrap();
        println!("wrote tests/vectors/{name}");
    }
}
