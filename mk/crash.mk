# Crash loops through the bindings (tests/crash, docs/CRASH.md): Python and
# Node worker processes are SIGKILLed at random moments over every
# operation family; after each kill the pond is reopened and checked (no
# acknowledged operation lost, no corrupt record). Then the shared family:
# seven Python and Node processes on ONE pond at once (producers, a roller,
# group members and queue workers, a reader), random ones SIGKILLed and
# replaced. `make crash` is the long run (>= 1,000 kills, then >= 200 of the
# shared family); `make test-crash` the short one `make test` runs.
# CRASH_SEED=N replays a run's schedule; the driver prints its seed.

CRASH_KILLS ?= 1200
CRASH_SHORT_KILLS ?= 240
CRASH_SHARED_KILLS ?= 300
CRASH_SHORT_SHARED_KILLS ?= 100
CRASH_DRIVER := $(PY_BIN)/python tests/crash/driver.py

.PHONY: crash test-crash

crash: python-install build-node
	$(CRASH_DRIVER) --kills $(CRASH_KILLS) --shared-kills $(CRASH_SHARED_KILLS)

# At most ~4 minutes: no round starts after 150 s (the queue drain follows),
# the shared family kills for at most 45 s (its checks follow).
# CRASH_SHORT_SHARED_FLAGS: extra flags of the family (e.g.
# --shared-no-rolls, so segments never roll).
CRASH_SHORT_SHARED_FLAGS ?=
test-crash: python-install build-node
	$(CRASH_DRIVER) --kills $(CRASH_SHORT_KILLS) --max-seconds 150 \
		--shared-kills $(CRASH_SHORT_SHARED_KILLS) --shared-seconds 45 $(CRASH_SHORT_SHARED_FLAGS)
