# tests/fuzz/fuzz.mk — libFuzzer harnesses, included by the top-level Makefile.
#
#   make fuzz-build              build every harness into $(FUZZ_BUILD)/
#   make fuzz FUZZ_SECONDS=N     build, run each harness N seconds, print a table
#   make fuzz FUZZ_HARNESSES="idx model"   only those
#
# The project's sources are compiled by clang with coverage instrumentation
# (-fsanitize=fuzzer-no-link) and AddressSanitizer + UndefinedBehaviorSanitizer
# into one archive; each harness (tests/fuzz/fuzz_<name>.c) links it with
# libFuzzer's main. tests/fuzz/README.md says what each harness reads.

FUZZ_CC       ?= clang
FUZZ_BUILD    ?= build-fuzz
FUZZ_SECONDS  ?= 30
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_OPT      ?= -O1 -g -fno-omit-frame-pointer
# -Wno-pass-failed: with the sanitizers' instrumentation clang cannot honour
# `omp ... simd` on a few loops and says so; plain clang -O3 builds them clean.
FUZZ_CFLAGS    = -std=c11 $(WARN) -Wno-pass-failed $(FUZZ_OPT) $(FUZZ_SAN) -fopenmp \
                 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Iinclude -Isrc -MMD -MP
FUZZ_NAMES    := $(patsubst tests/fuzz/fuzz_%.c,%,$(sort $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_HARNESSES ?= $(FUZZ_NAMES)
FUZZ_BINS      = $(FUZZ_NAMES:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_GEN      := $(if $(filter src/config/%,$(EXCLUDE)),,$(FUZZ_BUILD)/gen/defaults_gen.c)
FUZZ_OBJ      := $(SRC:%.c=$(FUZZ_BUILD)/%.o) $(FUZZ_GEN:%.c=%.o)
FUZZ_LIB      := $(FUZZ_BUILD)/libenevo-fuzz.a

.PHONY: fuzz fuzz-build fuzz-corpus

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	@sh tests/fuzz/run.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_HARNESSES)

# Regenerates the binary seeds (IDX, CIFAR, NumPy, PNG/JPEG, model files,
# checkpoints) from the project's own writers; the results are checked in.
fuzz-corpus: $(FUZZ_BUILD)/make_corpus
	sh tests/fuzz/make_corpus.sh $(FUZZ_BUILD)/make_corpus

$(FUZZ_BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_BUILD)/gen/defaults_gen.c: configs/default.yaml configs/default.grammar scripts/embed.sh
	@mkdir -p $(dir $@)
	sh scripts/embed.sh $@ enevo__default_config configs/default.yaml \
	  enevo__default_grammar configs/default.grammar

$(FUZZ_BUILD)/gen/%.o: $(FUZZ_BUILD)/gen/%.c
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

# An archive, so each harness links only the objects it reaches.
$(FUZZ_LIB): $(FUZZ_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_BUILD)/tests/fuzz/common.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

# The seed generator: a plain program on the same archive (no libFuzzer main).
$(FUZZ_BUILD)/make_corpus: $(FUZZ_BUILD)/tests/fuzz/make_corpus.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -o $@ $^ $(LDLIBS)

-include $(FUZZ_OBJ:.o=.d) $(FUZZ_BUILD)/tests/fuzz/*.d

# Keep the harness objects (make would delete them as intermediates).
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_BUILD)/tests/fuzz/fuzz_%.o) $(FUZZ_BUILD)/tests/fuzz/common.o \
            $(FUZZ_BUILD)/tests/fuzz/make_corpus.o
