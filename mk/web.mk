# Browser package targets (owned by the browser binding work).
#
# test-web works on a fresh machine: installs Chromium and chromedriver
# (apt) when missing, the wasm32 target, the wasm-bindgen CLI 0.2.130 when
# missing (a one-time ~4 min `cargo install`), the npm dev dependencies
# (playwright-core, TypeScript, Vite) from web/package-lock.json; builds the
# wasm module (release) into web/pkg/ (ignored); runs the binding crate's
# wasm-bindgen tests in Node, type-checks index.d.ts against
# web/test/usage.ts, and runs the browser suite (headless Chromium driven by
# playwright-core): persistence, API, worker, Vite build, conformance
# scenarios, demo (screenshot in target/web-demo.png).

WEB_DIR := web
NPM ?= npm
WASM_BINDGEN_VERSION := 0.2.130
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test-web bench-web build-web web-chromium web-toolchain

web-chromium:
	@if [ ! -x /usr/bin/chromium ] || ! command -v chromedriver >/dev/null 2>&1; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y chromium chromium-driver; \
	fi

web-toolchain:
	rustup target add $(WASM_TARGET)
	@if ! wasm-bindgen --version 2>/dev/null | grep -q ' $(WASM_BINDGEN_VERSION)$$'; then \
		$(CARGO) install wasm-bindgen-cli --version $(WASM_BINDGEN_VERSION); \
	fi

# npm writes node_modules/.package-lock.json on install: reinstall only
# when the lock file changed.
$(WEB_DIR)/node_modules/.package-lock.json: $(WEB_DIR)/package-lock.json $(WEB_DIR)/package.json
	cd $(WEB_DIR) && $(NPM) ci --no-audit --no-fund
	@touch $@

build-web: web-toolchain $(WEB_DIR)/node_modules/.package-lock.json
	cd $(WEB_DIR) && node scripts/build.mjs

test-web: web-chromium build-web
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
		$(CARGO) test -p logpond-wasm --target $(WASM_TARGET) --tests
	cd $(WEB_DIR) && $(NPM) run typecheck
	cd $(WEB_DIR) && $(NPM) test

bench-web: web-chromium build-web
	cd $(WEB_DIR) && node bench/run.mjs
