# The two fresh-machine commands (see README):  make demo   |   make test
VENV := .venv
PYTEST_ARGS ?= -m "not gpu"

.PHONY: install demo test bench

install:
	bash scripts/install.sh

demo: install
	$(VENV)/bin/ibert demo

test: install
	bash scripts/test.sh $(PYTEST_ARGS)
