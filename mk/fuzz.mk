# Fuzzing targets (docs/FUZZING.md). The fuzz/ crate is not a workspace
# member: it builds into fuzz/target.
#
# test-fuzz: the short run of `make test`: fmt and clippy of the fuzz
#   crate, then every target's regressions, seeds and a fixed set of
#   deterministic mutations (stable Rust, no AFL++), in release.
# fuzz: AFL++ through cargo-afl, each target in turn on one core until
#   FUZZ_EXECS executions (FUZZ_POND_EXECS for open_pond and recovery),
#   then a tally; fails if any crash was saved. Installs afl++ (apt) and
#   cargo-afl when missing. `make fuzz FUZZ_EXECS=100000` is a quick run;
#   `make fuzz FUZZ_TARGETS="frames wire"` picks targets; FUZZ_SECONDS
#   also bounds each target's time.

FUZZ_DIR := fuzz
FUZZ_EXECS ?= 10000000
FUZZ_POND_EXECS ?= $(FUZZ_EXECS)
FUZZ_TARGETS ?=
FUZZ_SECONDS ?=
FUZZ_SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: test-fuzz fuzz fuzz-tools

test-fuzz:
	cd $(FUZZ_DIR) && $(CARGO) fmt -- --check
	cd $(FUZZ_DIR) && $(CARGO) clippy --all-targets --features afl -- -D warnings
	cd $(FUZZ_DIR) && $(CARGO) test --release

fuzz-tools:
	@command -v afl-fuzz >/dev/null 2>&1 || { $(FUZZ_SUDO) apt-get update && $(FUZZ_SUDO) apt-get install -y afl++; }
	@$(CARGO) afl --version >/dev/null 2>&1 || $(CARGO) install cargo-afl --locked
	@# cargo-afl builds its AFL++ runtime per Rust version; this is a no-op once built.
	@$(CARGO) afl config --build >/dev/null 2>&1 || true

fuzz: fuzz-tools
	CARGO=$(CARGO) FUZZ_EXECS=$(FUZZ_EXECS) FUZZ_POND_EXECS=$(FUZZ_POND_EXECS) FUZZ_SECONDS=$(FUZZ_SECONDS) \
		$(FUZZ_DIR)/afl.sh $(FUZZ_TARGETS)
