// The browser side of the conformance scenarios: the runner both JS
// packages share (js/test/scenarios.mjs, served as /js-test/), each
// scenario on a fresh IndexedDB pond; `reopen` is close (which flushes)
// then `Pond.openIndexedDb` on the same name.

import * as logpond from '/src/index.js';
import { runScenario as run } from '/js-test/scenarios.mjs';

const { Pond } = logpond;

/**
 * Runs one scenario; resolves with the failures (empty when it passes).
 * @param {any} scenario
 * @returns {Promise<string[]>}
 */
export function runScenario(scenario) {
  const name = `scenario-${scenario.name}-${Math.random().toString(36).slice(2)}`;
  return run(logpond, scenario, {
    open: (clock) => Pond.openIndexedDb(name, { clock }),
    reopen: async (pond, clock) => {
      await pond.close();
      return Pond.openIndexedDb(name, { clock });
    },
    dispose: async (pond) => {
      await pond.close().catch(() => {});
      await Pond.deleteIndexedDb(name).catch(() => {});
    },
  });
}
