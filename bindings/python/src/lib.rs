//! Python binding of logpond: to be built.
