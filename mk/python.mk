# Python package targets (owned by the Python binding work).
.PHONY: test-python bench-python
test-python:
	@echo "python package: not built yet"
bench-python:
	@echo "python package: not built yet"
