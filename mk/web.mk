# Browser package targets (owned by the browser binding work).
.PHONY: test-web bench-web
test-web:
	@echo "browser package: not built yet"
bench-web:
	@echo "browser package: not built yet"
