//! Browser binding of logpond: to be built.
