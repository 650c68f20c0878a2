# enevo — GNU Makefile. `make` builds ./enevo and the library; `make run`,
# `make test`, `make asan`, `make bench`, `make install`, `make uninstall`.
# `make run` and `make test` first install missing Debian packages (as root)
# via scripts/deps.sh.

CC       ?= cc
BUILD    ?= $(if $(filter 1,$(CUDA)),build-cuda,build)
OPT      ?= -O3 -fno-math-errno
CFLAGS   ?= $(OPT) -g
WARN     := -Wall -Wextra -Wshadow -Werror
# Every object is position-independent (it goes into libenevo.so too) and
# hidden unless its declaration says ENEVO_API (include/enevo/api.h); no
# semantic interposition, so calls inside the library stay direct.
ALLCFLAGS = -std=c11 $(WARN) $(CFLAGS) -fopenmp -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE \
            -fPIC -fvisibility=hidden -fno-semantic-interposition \
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
            -Xcompiler -Wall,-Wextra,-Werror,-fPIC,-fvisibility=hidden -MMD -MP

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

.PHONY: all lib deps test-deps run test check asan bench clean format install uninstall FORCE print-flags

all: enevo lib

# Replaced by rename, so a running ./enevo (a long search) does not block it.
enevo: $(BUILD)/enevo
	cp $< $@.tmp && mv -f $@.tmp $@

# The CLI: tools/enevo.c (flags, command table, main) and every other tools/*.c.
TOOL_OBJ := $(patsubst %.c,$(BUILD)/%.o,$(sort $(wildcard tools/*.c)))
$(BUILD)/enevo: $(OBJ) $(TOOL_OBJ)
	$(CC) $(ALLCFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/enevo-tests: $(OBJ) $(TEST_OBJ)
	$(CC) $(ALLCFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

# The library, from the same objects as the binary: libenevo.a, and
# libenevo.so.VERSION (soname libenevo.so.MAJOR) exporting only the ENEVO_API
# functions (-fvisibility=hidden; scripts/libenevo.map is the safety net for
# symbols a compiler makes visible by itself). The version is written once,
# in include/enevo/version.h.
VERSION := $(shell sed -n 's/^.define ENEVO_VERSION_STRING "\(.*\)"$$/\1/p' include/enevo/version.h)
SOMAJOR := $(firstword $(subst ., ,$(VERSION)))
SONAME  := libenevo.so.$(SOMAJOR)
LIB_FILES := $(BUILD)/libenevo.a $(BUILD)/libenevo.so $(BUILD)/enevo.1 $(BUILD)/enevo.bash
lib: $(LIB_FILES)

$(BUILD)/libenevo.a: $(OBJ)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/libenevo.so.$(VERSION): $(OBJ) scripts/libenevo.map
	$(CC) $(ALLCFLAGS) -shared -Wl,-soname,$(SONAME) -Wl,--version-script=scripts/libenevo.map \
	  -Wl,-z,defs -o $@ $(OBJ) $(LDLIBS)

$(BUILD)/libenevo.so: $(BUILD)/libenevo.so.$(VERSION)
	ln -sf libenevo.so.$(VERSION) $(BUILD)/$(SONAME) && ln -sf $(SONAME) $@

# The man page and the bash completion are printed by the binary from its
# command table (tools/enevo.c), the one `enevo help` prints, so they cannot
# drift from it.
$(BUILD)/enevo.1: $(BUILD)/enevo
	$< help --man >$@.tmp && mv -f $@.tmp $@
$(BUILD)/enevo.bash: $(BUILD)/enevo
	$< help --bash-completion >$@.tmp && mv -f $@.tmp $@

# make install [PREFIX=/usr/local] [DESTDIR=stage]: the binary, the library
# (static and shared), the public headers, enevo.pc, the man page, the bash
# completion, and copies of the built-in config and grammar in
# DATADIR/enevo (the binary has them compiled in; the copies are the files
# to start a config of one's own from). make CUDA=1 install installs the
# CUDA build. make uninstall removes exactly these files (and, under a
# DESTDIR, the directories left empty).
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
LIBDIR      ?= $(PREFIX)/lib
INCLUDEDIR  ?= $(PREFIX)/include
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
INSTALL     ?= install
HEADERS     := $(sort $(wildcard include/enevo/*.h))
SHARE_FILES := configs/default.yaml configs/default.grammar configs/pareto.yaml
INSTALLED   := $(BINDIR)/enevo $(LIBDIR)/libenevo.a $(LIBDIR)/libenevo.so.$(VERSION) \
               $(LIBDIR)/$(SONAME) $(LIBDIR)/libenevo.so $(PKGCONFIGDIR)/enevo.pc \
               $(MANDIR)/man1/enevo.1 $(BASHCOMPDIR)/enevo \
               $(HEADERS:include/%=$(INCLUDEDIR)/%) $(addprefix $(DATADIR)/enevo/,$(notdir $(SHARE_FILES)))
INSTALL_DIRS := $(sort $(dir $(INSTALLED)))
# enevo.pc names its directories from ${prefix} where they are under PREFIX,
# so `pkg-config --define-variable=prefix=STAGE/usr` can point at a staged
# install (PKG_CONFIG_SYSROOT_DIR=STAGE works too).
pc_rel = $(patsubst $(PREFIX)/%,$${prefix}/%,$(1))
# Libs.private: what a static link (pkg-config --static) also needs.
PC_PRIVATE  := $(filter-out -fopenmp,$(LDLIBS)) -lgomp

install: $(BUILD)/enevo $(LIB_FILES)
	$(INSTALL) -d $(addprefix $(DESTDIR),$(INSTALL_DIRS))
	$(INSTALL) -m 755 $(BUILD)/enevo $(DESTDIR)$(BINDIR)/enevo
	$(INSTALL) -m 644 $(BUILD)/libenevo.a $(DESTDIR)$(LIBDIR)/libenevo.a
	$(INSTALL) -m 755 $(BUILD)/libenevo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libenevo.so.$(VERSION)
	ln -sf libenevo.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libenevo.so
	$(INSTALL) -m 644 $(HEADERS) $(DESTDIR)$(INCLUDEDIR)/enevo/
	$(INSTALL) -m 644 $(BUILD)/enevo.1 $(DESTDIR)$(MANDIR)/man1/enevo.1
	$(INSTALL) -m 644 $(BUILD)/enevo.bash $(DESTDIR)$(BASHCOMPDIR)/enevo
	$(INSTALL) -m 644 $(SHARE_FILES) $(DESTDIR)$(DATADIR)/enevo/
	printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$(call pc_rel,$(LIBDIR))' \
	  'includedir=$(call pc_rel,$(INCLUDEDIR))' '' \
	  'Name: enevo' 'Description: energy-aware neuroevolution of convolutional networks' \
	  'Version: $(VERSION)' 'Cflags: -I$${includedir}' 'Libs: -L$${libdir} -lenevo' \
	  'Libs.private: $(PC_PRIVATE)' >$(DESTDIR)$(PKGCONFIGDIR)/enevo.pc
	@if [ -z "$(DESTDIR)" ] && command -v ldconfig >/dev/null 2>&1; then ldconfig 2>/dev/null || true; fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	rmdir $(DESTDIR)$(INCLUDEDIR)/enevo $(DESTDIR)$(DATADIR)/enevo 2>/dev/null || true
	@if [ -n "$(DESTDIR)" ]; then for d in $(INSTALL_DIRS); do d=$(DESTDIR)$${d%/}; \
	  while [ "$$d" != "$(DESTDIR)" ] && [ "$${d#$(DESTDIR)}" != "$$d" ]; do \
	    rmdir "$$d" 2>/dev/null || [ ! -e "$$d" ] || break; d=$${d%/*}; done; done; fi

$(BUILD)/%.o: %.c $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	$(CC) $(ALLCFLAGS) -c -o $@ $<

$(BUILD)/%.o: %.cu $(BUILD)/flags.txt
	@mkdir -p $(dir $@)
	$(NVCC) $(NVFLAGS) -c -o $@ $<

# The objects depend on the flags they were compiled with: this file is
# rewritten only when they change (another CFLAGS, a Makefile edit such as
# -fvisibility=hidden), and then every object is rebuilt, so a build
# directory never mixes objects of two flag sets (libenevo.so needs -fPIC).
BUILD_FLAGS = $(CC) $(ALLCFLAGS) $(NVCC) $(NVFLAGS)
$(BUILD)/flags.txt: FORCE
	@mkdir -p $(dir $@)
	@echo '$(BUILD_FLAGS)' | cmp -s - $@ || echo '$(BUILD_FLAGS)' >$@
FORCE:
# What flags.txt would say (tests/test_install.c: is BUILD a build of these flags?).
print-flags:
	@echo '$(BUILD_FLAGS)'

# The default config and grammar are compiled in, so `enevo evolve` needs no files.
$(BUILD)/gen/defaults_gen.c: configs/default.yaml configs/default.grammar scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ enevo__default_config configs/default.yaml \
	  enevo__default_grammar configs/default.grammar

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(BUILD)/flags.txt
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
	$(MAKE) --no-print-directory $(BUILD)/enevo-tests enevo lib
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
