//! The exception tree, and the one way core calls run: detached from the
//! interpreter, with panics caught and every error mapped to a class.
//!
//! The classes are made with `type()` at import so that two of them can
//! also derive from a builtin: `InvalidArgument` and `InvalidName` are
//! `ValueError`s, `IoError` is an `OSError`.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// The root class: (name, docstring).
const ROOT: (&str, &str) = ("LogpondError", "Base class of every logpond error. `code` names the kind.");

/// The builtin a class derives from besides `LogpondError`: Python's own
/// rule (the kinds themselves are the core's `ErrorCode`s).
fn python_base(code: logpond::ErrorCode) -> Option<&'static str> {
    match code {
        logpond::ErrorCode::InvalidName | logpond::ErrorCode::InvalidArgument => Some("ValueError"),
        logpond::ErrorCode::Io => Some("OSError"),
        _ => None,
    }
}

/// (class name, `code`, builtin base besides the parent, docstring): the
/// root first, then one class per core error code.
fn classes() -> Vec<(&'static str, &'static str, Option<&'static str>, String)> {
    let mut out = vec![(ROOT.0, "", None, ROOT.1.to_string())];
    for code in logpond::ErrorCode::ALL {
        let mut doc = code.summary().to_string();
        if *code == logpond::ErrorCode::Io {
            doc.push_str(" Also an OSError (errno is set when known).");
        }
        out.push((code.class_name(), code.as_str(), python_base(*code), doc));
    }
    out
}

static TYPES: PyOnceLock<Vec<Py<PyType>>> = PyOnceLock::new();

/// Creates the classes (once) and adds them to the module, with
/// `_ERROR_CODES`: every code the core has (the tests check that each one
/// has its class).
pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    let types = TYPES.get_or_try_init(py, || make_types(py))?;
    for ((name, ..), ty) in classes().iter().zip(types) {
        m.add(*name, ty.bind(py))?;
    }
    let codes: Vec<&str> = logpond::ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    m.add("_ERROR_CODES", codes)?;
    Ok(())
}

fn make_types(py: Python<'_>) -> PyResult<Vec<Py<PyType>>> {
    let builtins = py.import("builtins")?;
    let type_ = builtins.getattr("type")?;
    let classes = classes();
    let mut out: Vec<Py<PyType>> = Vec::with_capacity(classes.len());
    for (name, code, extra, doc) in &classes {
        let mut bases = Vec::with_capacity(2);
        match out.first() {
            Some(root) => bases.push(root.bind(py).clone().into_any()),
            None => bases.push(builtins.getattr("Exception")?),
        }
        if let Some(extra) = extra {
            bases.push(builtins.getattr(*extra)?);
        }
        let dict = PyDict::new(py);
        dict.set_item("__module__", "logpond")?;
        dict.set_item("__doc__", doc.as_str())?;
        dict.set_item("code", if code.is_empty() { None } else { Some(*code) })?;
        let ty = type_.call1((*name, PyTuple::new(py, bases)?, dict))?;
        out.push(ty.cast_into::<PyType>()?.unbind());
    }
    Ok(out)
}

fn class<'py>(py: Python<'py>, code: &str) -> Option<Bound<'py, PyType>> {
    let types = TYPES.get(py)?;
    // The root first, then ErrorCode::ALL in order.
    let i = logpond::ErrorCode::ALL.iter().position(|c| c.as_str() == code).map_or(0, |i| i + 1);
    types.get(i).map(|t| t.bind(py).clone())
}

/// An error of the class for `code` (the root class for an unknown code).
pub fn error(py: Python<'_>, code: &str, msg: String) -> PyErr {
    match class(py, code) {
        Some(ty) => PyErr::from_type(ty, msg),
        None => PyRuntimeError::new_err(msg),
    }
}

/// Whether `err` is of the class for `code`.
pub fn is_code(py: Python<'_>, err: &PyErr, code: &str) -> bool {
    class(py, code).is_some_and(|ty| err.get_type(py).is(&ty))
}

/// `InvalidArgument` (a `ValueError`) for a conversion the binding refuses.
pub fn invalid(py: Python<'_>, msg: String) -> PyErr {
    error(py, "INVALID_ARGUMENT", msg)
}

/// Maps a core error to its class.
pub fn to_py(py: Python<'_>, e: logpond::Error) -> PyErr {
    let code = e.code();
    if let logpond::Error::Io(io) = &e {
        if let (Some(errno), Some(ty)) = (logpond::storage::os_error(io), class(py, code.as_str())) {
            return PyErr::from_type(ty, (errno, e.to_string()));
        }
    }
    error(py, code.as_str(), e.to_string())
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}

/// Runs `f` (a core call) with the interpreter released, so other Python
/// threads run while it touches storage or waits for the pond's lock; a
/// panic becomes a `LogpondError`, never a `PanicException`.
pub fn detached<T, F>(py: Python<'_>, f: F) -> PyResult<T>
where
    F: FnOnce() -> logpond::Result<T> + Send,
    T: Send,
{
    match py.detach(|| catch_unwind(AssertUnwindSafe(f))) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(to_py(py, e)),
        Err(payload) => {
            Err(error(py, "", format!("internal error in logpond (a bug): {}", panic_message(&*payload))))
        }
    }
}
