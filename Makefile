# enevo — GNU Makefile. `make` builds ./enevo; `make run`, `make test`,
# `make asan`, `make bench`. `make run` and `make test` first install missing
# Debian packages (as root) via scripts/deps.sh.

CC       ?= cc
BUILD    ?= $(if $(filter 1,$(CUDA)),build-cuda,build)
OPT      ?= -O3 -fno-math-errno
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wshadow -Werror
ALLCFLAGS = -std=c11 $(WARN) $(CFLAGS) -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -Iinclude -Isrc -MMD -MP
LDLIBS   := -ldnnl -lopenblas -lcjson -lyaml -lpng -ljpeg -lz -ldl -lpthread -lm -fopenmp

# CUDA=1: also build the GPU backend (src/backend/cuda/*.cu: cuBLAS + cuDNN)
# with nvcc from CUDA_HOME, into build-cuda/ (so CPU-only objects stay apart).
CUDA      ?=
CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(CUDA_HOME)/bin/nvcc
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
             -gencode arch=compute_90,code=compute_90
CU_SRC    = $(if $(filter 1,$(CUDA)),$(filter-out $(EXCLUDE),$(sort $(wildcard src/backend/cuda/*.cu))))
NVFLAGS   = -std=c++17 -O3 $(CUDA_ARCH) -Iinclude -Isrc -I$(CUDA_HOME)/include -DENEVO_CUDA \
            -Xcompiler -Wall,-Wextra,-Werror,-fPIC -MMD -MP

# EXCLUDE: patterns of sources to leave out (work in progress), e.g. src/evo/%
EXCLUDE  ?=
SRC      := $(filter-out $(EXCLUDE),$(sort $(wildcard src/*/*.c src/*/*/*.c src/*/*/*/*.c)))
GEN_SRC  := $(if $(filter src/config/%,$(EXCLUDE)),,$(BUILD)/gen/defaults_gen.c)
OBJ      := $(SRC:%.c=$(BUILD)/%.o) $(GEN_SRC:%.c=%.o) $(CU_SRC:%.cu=$(BUILD)/%.o)
ifeq ($(CUDA),1)
ALLCFLAGS += -DENEVO_CUDA -I$(CUDA_HOME)/include
LDLIBS    += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudnn -lcublas -lcudart -lstdc++
endif
TEST_SRC := $(filter-out $(EXCLUDE),$(sort $(wildcard tests/*.c)))
TEST_OBJ := $(TEST_SRC:%.c=$(BUILD)/%.o)

.PHONY: all deps test-deps run test check asan bench clean format

all: enevo

# Replaced by rename, so a running ./enevo (a long search) does not block it.
enevo: $(BUILD)/enevo
	cp $< $@.tmp && mv -f $@.tmp $@

# The CLI: tools/enevo.c (flags, command table, main) and every other tools/*.c.
TOOL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tools/*.c)))
$(BUILD)/enevo: $(OBJ) $(TOOL_OBJ)
	$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/enevo-tests: $(OBJ) $(TEST_OBJ)
	$(CC) $(ALLCFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c -o $@ $<

# The default config and grammar are compiled in, so `enevo evolve` needs no files.
$(BUILD)/gen/defaults_gen.c: configs/default.yaml configs/default.grammar scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ enevo__default_config configs/default.yaml \
	  enevo__default_grammar configs/default.grammar

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c
	$(CC) $(ALLCFLAGS) -c -o $@ $<

deps:
	@scripts/deps.sh

# The default job: an evolution with the built-in config on Fashion-MNIST,
# in a new run directory (resume a killed one with `./enevo resume DIR`).
RUN_DIR  ?= runs/run-$(shell date +%Y%m%d-%H%M%S)
RUN_ARGS ?=
run: deps
	$(MAKE) --no-print-directory enevo
	./enevo evolve --run-dir $(RUN_DIR) $(RUN_ARGS)

# The tests also need ONNX Runtime for Node (npm, into .cache/npm) for the
# export checks: `deps.sh npm` installs it with the Debian packages.
test-deps:
	@scripts/deps.sh npm

test: test-deps
	$(MAKE) --no-print-directory $(BUILD)/enevo-tests enevo
	@tests/run

check: test

asan: test-deps
	$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
	  build-asan/enevo-tests build-asan/enevo
	ENEVO_TEST_BIN=build-asan/enevo-tests ENEVO_BIN=build-asan/enevo \
	  ASAN_OPTIONS=detect_leaks=1 tests/run

bench: enevo
	@scripts/deps.sh bench
	bench/run.sh

format:
	clang-format -i $(SRC) $(TEST_SRC) tools/*.c include/enevo/*.h

clean:
	rm -rf build build-asan enevo

# libFuzzer harnesses (clang): `make fuzz FUZZ_SECONDS=N` (tests/fuzz/README.md)
-include tests/fuzz/fuzz.mk

-include $(OBJ:.o=.d) $(TEST_OBJ:.o=.d) $(TOOL_OBJ:.o=.d)
