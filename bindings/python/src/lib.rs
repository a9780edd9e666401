//! Python binding of logpond, as the native module `logpond._native`.
//! Thin: argument conversion, error mapping and releasing the interpreter
//! around core calls. The Pythonic layer is `python/logpond/__init__.py`.

mod clock;
mod consumer;
mod convert;
mod errors;
mod pond;
mod queue;
mod record;
mod wait;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    errors::register(m)?;
    m.add_class::<pond::Pond>()?;
    m.add_class::<record::Record>()?;
    m.add_class::<record::RecordMetadata>()?;
    m.add_class::<clock::ManualClock>()?;
    m.add_class::<consumer::Consumer>()?;
    m.add_class::<queue::Queue>()?;
    m.add_class::<queue::Delivery>()?;
    m.add("FORMAT_VERSION", logpond::FORMAT_VERSION)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_function(wrap_pyfunction!(_panic_for_tests, m)?)?;
    m.add_function(wrap_pyfunction!(_after_fork_in_child, m)?)?;
    m.add_function(wrap_pyfunction!(_cli_main, m)?)?;
    Ok(())
}

/// The `logpond` command (the console script): runs `args` (without the
/// program name) through the one Rust implementation, with the
/// interpreter released; returns the exit code.
#[pyfunction]
fn _cli_main(py: Python<'_>, args: Vec<String>) -> u8 {
    py.detach(|| logpond_cli::run(args))
}

/// Registered with `os.register_at_fork`: handles opened before a fork
/// fail in the child (see `logpond::fork`).
#[pyfunction]
fn _after_fork_in_child() {
    logpond::fork::note_fork_in_child();
}

/// Panics inside a core-call wrapper, so the tests can check that a panic
/// reaches Python as a `LogpondError` (never a `PanicException`).
#[pyfunction]
fn _panic_for_tests(py: Python<'_>) -> PyResult<()> {
    errors::detached(py, || -> logpond::Result<()> { panic!("deliberate panic for the tests") })
}
