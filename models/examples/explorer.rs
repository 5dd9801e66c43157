//! Runs the explorer page until interrupted (the `lenet5 serve` command-to-be).
//!
//! ```sh
//! cargo run --release -p models --features serve --example explorer -- \
//!     [--checkpoint CKPT.safetensors] [--data DIR] [--host 127.0.0.1] [--port 8080] [--metrics FILE.csv]
//! ```
//!
//! Prints `explorer: listening on http://HOST:PORT/` once it accepts connections (with
//! `--port 0`, the port the system chose).

use std::path::PathBuf;
use std::process::ExitCode;

use models::explorer::{ServeOptions, serve};

const USAGE: &str = "usage: explorer [--checkpoint FILE] [--data DIR] [--host ADDR] [--port N] [--metrics FILE.csv]";

fn parse(args: impl Iterator<Item = String>) -> Result<ServeOptions, String> {
    let mut options = ServeOptions::default();
    let mut args = args.peekable();
    while let Some(flag) = args.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        match flag.as_str() {
            "--checkpoint" => options.checkpoint = Some(PathBuf::from(value)),
            "--data" => options.data = Some(PathBuf::from(value)),
            "--metrics" => options.metrics = Some(PathBuf::from(value)),
            "--host" => options.host = value,
            "--port" => options.port = value.parse().map_err(|_| format!("--port: {value:?} is not a port number"))?,
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    Ok(options)
}

fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match serve(options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("explorer: {e}");
            ExitCode::FAILURE
        }
    }
}
