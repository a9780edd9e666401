//! Writes the seed corpus of every target (or of the targets named after
//! the directory) to `<dir>/<target>/seed-<n>`: `make fuzz` starts AFL++
//! from them. Usage: seeds <dir> [target...]

use std::path::PathBuf;

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        eprintln!("usage: seeds <dir> [target...]");
        std::process::exit(2);
    };
    let only: Vec<String> = args.collect();
    for target in logpond_fuzz::TARGETS.iter().filter(|t| only.is_empty() || only.iter().any(|n| n == t.name))
    {
        let out = dir.join(target.name);
        if let Err(e) = std::fs::create_dir_all(&out) {
            eprintln!("creating {}: {e}", out.display());
            std::process::exit(1);
        }
        let seeds = (target.seeds)();
        for (i, seed) in seeds.iter().enumerate() {
            let path = out.join(format!("seed-{i:04}"));
            if let Err(e) = std::fs::write(&path, seed) {
                eprintln!("writing {}: {e}", path.display());
                std::process::exit(1);
            }
        }
        println!("{}: {} seeds in {}", target.name, seeds.len(), out.display());
    }
}
