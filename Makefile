# Reasonscope: the two commands a user needs are `make run` and `make test`.
# Both install missing Debian packages (packaging/debian-packages.txt) first.

PRESET  ?= release
BUILD   ?= build
JOBS    ?= $(shell nproc)
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PKGS    := $(shell grep -v '^\s*\#' packaging/debian-packages.txt | grep -v '^\s*$$')

.PHONY: deps build test run bench package asan fuzz clean format

deps:
	@missing=""; for p in $(PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; \
	else echo "All Debian packages present."; fi

build: deps
	cmake --preset $(PRESET) >/dev/null
	cmake --build --preset $(PRESET) -j $(JOBS)

test: build
	ctest --preset $(PRESET) -j $(JOBS)

run: build
	./$(BUILD)/bin/reasonscope

bench: build
	./$(BUILD)/bin/reasonscope bench --model resources/models/reasoner.gguf

# The .deb: its own build, with the CUDA backend's code for the data-centre
# and desktop GPUs it ships for (SASS for each, PTX of the newest for later
# ones; CI builds sm_80 only, see CMakeLists.txt).
PKG_CUDA_ARCHS ?= 80-real;86-real;89-real;90-real;100-real;120-real;120-virtual
package: deps
	cmake --preset release -B build-package "-DRS_CUDA_ARCHITECTURES=$(PKG_CUDA_ARCHS)" >/dev/null
	cmake --build build-package -j $(JOBS)
	cd build-package && cpack -G DEB

asan: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# Runs each libFuzzer target (clang, ASan/UBSan) for FUZZ_SECONDS: the GGUF
# reader, run import -> store -> every export -> compare, the tokenizer on the
# bundled model's vocabulary, and the Jinja chat-template interpreter. Corpora
# grow in build-asan/fuzz/NAME/corpus; a crashing input is left beside it.
# (Under the asan preset, ctest runs each for 30 s: tests/fuzz.)
FUZZ_SECONDS ?= 300
FUZZERS := gguf run_import tokenizer chat_template
fuzz: deps
	cmake --preset asan >/dev/null
	cmake --build --preset asan -j $(JOBS) $(foreach f,$(FUZZERS),--target fuzz_$(f))
	set -e; for f in $(FUZZERS); do \
	  cmake -DFUZZER=build-asan/bin/fuzz_$$f -DNAME=$$f -DSECONDS=$(FUZZ_SECONDS) \
	        -DWORK=build-asan/fuzz/$$f -DSOURCE_DIR=$(CURDIR) -DREFERENCE_DIR=$(CURDIR)/../shared/reference \
	        -P tools/fuzz/run_fuzzer.cmake; \
	done

format:
	find app engine kernels storage views plugins tests tools -name '*.cpp' -o -name '*.h' -o -name '*.hpp' | xargs clang-format -i

clean:
	rm -rf build build-dev build-asan

# Retrains the bundled model from scratch (about 50 minutes on 2 cores) and
# re-measures its scaling table. Uses Debian's own python3 and python3-torch.
TRAIN_PKGS := $(shell grep -v '^\s*\#' tools/train-reasoner/debian-packages.txt | grep -v '^\s*$$')
.PHONY: train-model
train-model: build
	@missing=""; for p in $(TRAIN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'install ok installed' || missing="$$missing $$p"; \
	done; [ -z "$$missing" ] || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; }
	/usr/bin/python3 tools/train-reasoner/make_tasks.py
	/usr/bin/python3 tools/train-reasoner/train.py --steps 6000 --any-order --regroup --commute --bf16 --threads 2 --seed 7 --eval-every 0 --out resources/models/reasoner.gguf
	tools/train-reasoner/evaluate.sh hard 200 tools/train-reasoner/eval.md
