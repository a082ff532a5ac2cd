# The two commands of the README: `make demo` and `make test`. Both install what is missing
# (tools/install-deps.sh), configure a Release build in build/, and build.
BUILD ?= build
JOBS ?= $(shell nproc)

.PHONY: all deps build demo test bench format clean

all: build

deps:
	@BUILD_DIR=$(BUILD) tools/install-deps.sh

build: deps
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	./$(BUILD)/kiln backends
	./$(BUILD)/kiln demo --out $(BUILD)/demo/sine --logdir $(BUILD)/demo/sine/runs
	examples/finetune/run_demo.sh ./$(BUILD)/kiln $(BUILD)/demo/finetune

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

bench: build
	cmake --build $(BUILD) -j $(JOBS) --target kiln_microbench
	./$(BUILD)/kiln_microbench
	.venv/bin/python tools/bench/compare_ort.py --kiln $(BUILD)/kiln --models $(BUILD)/interop
	.venv/bin/python tools/bench/compare_torch.py --kiln $(BUILD)/kiln_train_bench

format:
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
