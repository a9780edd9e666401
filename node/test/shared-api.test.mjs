// The API suite shared with the browser package (js/test/api.mjs), run
// against this package.
import test from 'node:test';
import * as logpond from 'logpond';
import { tests } from '../../js/test/api.mjs';

for (const [name, run] of tests) test(name, () => run(logpond));
