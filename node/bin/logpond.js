#!/usr/bin/env node
'use strict';
// The `logpond` command (`npx logpond`): the command line of the one Rust
// implementation, through the native addon (README, "Command line").

import('../lib/native.js').then(({ default: native }) => {
  process.exitCode = native.cliMain(process.argv.slice(2));
});
