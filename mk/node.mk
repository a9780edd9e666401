# Node package targets (owned by the Node binding work).
#
# test-node works on a fresh machine: installs the npm dev dependencies
# (napi CLI, TypeScript) from package-lock.json, builds the addon in
# release mode, runs the node --test suite and type-checks index.d.ts
# against the typed usage files.

NODE_DIR := node
NPM ?= npm

.PHONY: test-node bench-node build-node

# npm writes node_modules/.package-lock.json on install: reinstall only
# when the lock file changed.
$(NODE_DIR)/node_modules/.package-lock.json: $(NODE_DIR)/package-lock.json $(NODE_DIR)/package.json
	cd $(NODE_DIR) && $(NPM) ci --no-audit --no-fund
	@touch $@

build-node: $(NODE_DIR)/node_modules/.package-lock.json
	cd $(NODE_DIR) && $(NPM) run build

test-node: build-node
	cd $(NODE_DIR) && $(NPM) test
	cd $(NODE_DIR) && $(NPM) run typecheck

bench-node: build-node
	cd $(NODE_DIR) && node bench.js
