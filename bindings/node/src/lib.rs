//! Node.js binding of logpond: to be built.
