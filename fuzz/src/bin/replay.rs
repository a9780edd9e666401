//! Runs one fuzz target on input files, without AFL++: for reproducing a
//! crash or a failing short-run input. A panic is the finding; a run that
//! returns prints "ok". Usage: replay <target> <file>...

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(name), files) = (args.next(), args.collect::<Vec<_>>()) else {
        eprintln!("usage: replay <target> <file>...");
        std::process::exit(2);
    };
    let target = logpond_fuzz::target(&name);
    for file in files {
        let data = match std::fs::read(&file) {
            Ok(data) => data,
            Err(e) => {
                eprintln!("reading {file}: {e}");
                std::process::exit(2);
            }
        };
        logpond_fuzz::execute(target, &data);
        println!("{file}: ok");
    }
}
