# Developer loop. Everything goes through tools/test.sh so that CI, the README and this
# Makefile run the same thing.
.PHONY: test fast lint schema docs bench demo

test:
	bash tools/test.sh

fast:  ## skip the live tests that start real servers
	bash tools/test.sh -m "not live and not slow"

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

schema:  ## regenerate the committed schema and the generated docs
	.venv/bin/python tools/generate.py

bench:
	.venv/bin/python bench/run.py

demo:
	.venv/bin/prodserver up
