# logpond: `make test` runs every test of every runtime, installing what it
# needs; `make demo` runs the main job; `make bench` prints benchmark numbers.
# Each runtime's targets live in mk/<runtime>.mk.

CARGO ?= cargo
WASM_TARGET := wasm32-unknown-unknown


.PHONY: test demo demo-rust test-polyglot bench setup-rust test-rust check-wasm lint fmt clean bench-rust

test: setup-rust lint test-rust check-wasm test-fuzz test-python test-node test-web test-polyglot test-crash

bench: bench-rust bench-python bench-node bench-web

setup-rust:
	rustup target add $(WASM_TARGET)
	rustup component add clippy rustfmt

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

test-rust:
	$(CARGO) test -p logpond --lib --tests --examples
	$(CARGO) test -p logpond --doc
	$(CARGO) test -p logpond-js-rules
	$(CARGO) test -p logpond-cli

# The core must build for browsers (no threads, no clock, no files there).
check-wasm:
	$(CARGO) build -p logpond --target $(WASM_TARGET)
	$(CARGO) clippy -p logpond --target $(WASM_TARGET) -- -D warnings

# The main job: a polyglot story (Python producer, Node consumer group,
# Python queue workers) on one pond directory. Builds what it needs.
demo: python-install build-node
	target/venv-python/bin/python demo/story.py

# The Rust-only tour of the log (retention, compaction, replay, reopen).
demo-rust:
	$(CARGO) run --release -p logpond --example demo

# Python writes, Node reads and resumes, a browser export opens in Python.
test-polyglot: python-install build-node
	PYTHON=$(CURDIR)/target/venv-python/bin/python target/venv-python/bin/pytest -q -p no:cacheprovider tests/polyglot

bench-rust:
	$(CARGO) bench -p logpond --bench log
	$(CARGO) bench -p logpond --bench shared

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

include mk/python.mk
include mk/node.mk
include mk/web.mk
include mk/crash.mk
include mk/fuzz.mk
