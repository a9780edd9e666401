# Crash loops through the bindings (tests/crash, docs/CRASH.md): Python and
# Node worker processes are SIGKILLed at random moments over every
# operation family; after each kill the pond is reopened and checked (no
# acknowledged operation lost, no corrupt record). `make crash` is the long
# run (>= 1,000 kills); `make test-crash` the short one `make test` runs.
# CRASH_SEED=N replays a run's schedule; the driver prints its seed.

CRASH_KILLS ?= 1200
CRASH_SHORT_KILLS ?= 240
CRASH_DRIVER := $(PY_BIN)/python tests/crash/driver.py

.PHONY: crash test-crash

crash: python-install build-node
	$(CRASH_DRIVER) --kills $(CRASH_KILLS)

# At most ~3 minutes: no round starts after 150 s (the queue drain follows).
test-crash: python-install build-node
	$(CRASH_DRIVER) --kills $(CRASH_SHORT_KILLS) --max-seconds 150
