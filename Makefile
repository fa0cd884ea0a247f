# ropelab build.
#   make            the `ropelab` tool (./ropelab) and the static library (build/libropelab.a)
#   make test       build and run the test suite (Criterion), prints its summary line
#   make sanitize   the same tests built with AddressSanitizer + UBSan (in build-san/)
#   make bench      benchmarks: ratios against memcpy / sgemm / PyTorch measured in the same run
#   make demo       the main job (see README.md)
#   make fuzz       short libFuzzer runs of every file-format parser
# Sources are picked up by wildcard: src/<part>/*.c is the library, src/cli/*.c the tool,
# tests/*.c the test binary, bench/*.c one program each.

BUILD    ?= build
SAN      ?= 0
CC       ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
BLAS_INC  := /usr/include/$(MULTIARCH)/openblas-openmp
BLAS_LIB  := /usr/lib/$(MULTIARCH)/openblas-openmp

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -fopenmp -D_GNU_SOURCE -Iinclude -isystem $(BLAS_INC) -MMD -MP
LDLIBS   := -L$(BLAS_LIB) -Wl,-rpath,$(BLAS_LIB) -lopenblas -lcjson -lz -lm
ifeq ($(SAN),1)
CFLAGS   += -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS  += -fsanitize=address,undefined
endif
LDFLAGS  += -fopenmp

LIB_SRC   := $(sort $(filter-out src/cli/%,$(wildcard src/*/*.c)))
CLI_SRC   := $(sort $(wildcard src/cli/*.c))
TEST_SRC  := $(sort $(wildcard tests/*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
CLI_OBJ   := $(CLI_SRC:%.c=$(BUILD)/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(BUILD)/%.o)
BENCH_BIN := $(BENCH_SRC:bench/%.c=$(BUILD)/bench/%)
LIBA      := $(BUILD)/libropelab.a
TOOL      := $(if $(filter 1,$(SAN)),$(BUILD)/ropelab,ropelab)
DEPS_OK   := $(BUILD)/.deps-ok

.PHONY: all test sanitize bench demo fuzz clean deps
all: $(TOOL) $(LIBA)

# Every target first checks the Debian packages (installs them as root, else prints the apt-get line).
$(DEPS_OK): scripts/setup.sh
	@mkdir -p $(BUILD)
	@sh scripts/setup.sh
	@touch $@
deps: $(DEPS_OK)

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(LIBA): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(TOOL): $(CLI_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) $(CLI_OBJ) $(LIBA) $(LDLIBS) -o $@

$(BUILD)/run_tests: $(TEST_OBJ) $(LIBA)
	$(CC) $(LDFLAGS) $(TEST_OBJ) $(LIBA) $(LDLIBS) -lcriterion -o $@

$(BUILD)/bench/%: bench/%.c $(LIBA) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(LDFLAGS) $< $(LIBA) $(LDLIBS) -o $@

# The tests find the tool at $ROPELAB_BIN and the shared models at ../shared/models
# (or $ROPELAB_TEST_MODELS). --jobs 2: the machines have two cores.
test: $(BUILD)/run_tests $(TOOL)
	ROPELAB_ROOT=$(CURDIR) ROPELAB_BIN=$(abspath $(TOOL)) ./$(BUILD)/run_tests --jobs 2

sanitize:
	$(MAKE) BUILD=build-san SAN=1 test

bench: $(BENCH_BIN) $(TOOL)
	@sh scripts/bench.sh $(BUILD)/bench

demo: $(TOOL)
	@sh scripts/demo.sh

# FUZZ_SECONDS per target (make fuzz FUZZ_SECONDS=300); see scripts/fuzz.sh.
FUZZ_SECONDS ?= 25
fuzz: $(DEPS_OK)
	@sh scripts/setup.sh fuzz
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh scripts/fuzz.sh

clean:
	rm -rf build build-san ropelab

-include $(LIB_OBJ:.o=.d) $(CLI_OBJ:.o=.d) $(TEST_OBJ:.o=.d)
