# sidecar/demo (issue 9): `make demo` needs the embedding model (the
# `model` target of mk/embed.mk) and Debian's wordnet-base corpus. These
# lines only add prerequisites to the Makefile's `demo` target; its recipe
# runs `./bin/knnbridge demo` against the provisioned (or OPENSEARCH_URL)
# cluster. KNNBRIDGE_DEMO_DOCS=all loads every definition (~117k).
.PHONY: wordnet demo-sidecar-load

WORDNET_DIR ?= /usr/share/wordnet

demo: model wordnet

wordnet:
	@if [ ! -f $(WORDNET_DIR)/data.noun ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's wordnet-base (the demo corpus)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wordnet-base >/dev/null; \
	  else \
	    echo "the demo needs Debian's wordnet-base: sudo apt-get install -y wordnet-base"; exit 1; \
	  fi; \
	fi

# The sidecar's 60-second loopback load test (32 clients searching); it
# prints p50/p99. Needs a cluster (OPENSEARCH_URL) and the model.
demo-sidecar-load: model
	KNNBRIDGE_SIDECAR_LOADTEST=1 $(GO) test -tags integration -count=1 -run TestSidecarLoad -v -timeout 10m ./integration/

# Sidecar overhead vs the peer (straight to OpenSearch), same run, ratios.
.PHONY: bench-sidecar
bench-sidecar:
	bench/sidecar/run.sh
