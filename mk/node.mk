# Node package targets (owned by the Node binding work).
.PHONY: test-node bench-node
test-node:
	@echo "node package: not built yet"
bench-node:
	@echo "node package: not built yet"
