# SPDX-License-Identifier: Apache-2.0
# mod_iocwatch — build, test, bench, demo.  See README.md.
CC        ?= gcc
APXS      ?= apxs
PYTHON    ?= /usr/bin/python3
BUILD     ?= build
PKGS       = libhs libpcre2-8 yaml-0.1 apr-1 apr-util-1
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEP_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
OPT       ?= -O2
CFLAGS_W   = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter
CFLAGS    ?= $(OPT) -g
# Hardened as Debian builds its packages (dpkg-buildflags): the engine parses
# requests and log lines an attacker writes.  apxs links the module with
# RELRO and BIND_NOW already; the CLI gets them here.  Empty for the
# sanitizer and fuzz builds (ASan replaces the _FORTIFY_SOURCE checks).
HARDEN_CFLAGS  ?= -fstack-protector-strong -D_FORTIFY_SOURCE=2 -Wformat -Werror=format-security
HARDEN_LDFLAGS ?= -Wl,-z,relro -Wl,-z,now
ALL_CFLAGS = $(CFLAGS_W) $(CPPFLAGS) $(CFLAGS) $(HARDEN_CFLAGS) -fPIC -Isrc $(DEP_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS   += $(HARDEN_LDFLAGS) $(EXTRA_LDFLAGS)
VERSION   := $(shell cat VERSION)
# the CLI alone reads gzip logs (the module never links zlib)
CLI_LIBS  := $(shell pkg-config --libs zlib 2>/dev/null || echo -lz)

LIB_SRC   := $(filter-out src/iw_cli.c,$(wildcard src/*.c))
LIB_OBJ   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRC))
UNIT_SRC  := $(wildcard tests/unit/*.c)
UNIT_OBJ  := $(patsubst tests/unit/%.c,$(BUILD)/unit/%.o,$(UNIT_SRC))
FUZZ_SRC  := $(wildcard tests/fuzz/*.c)
FUZZ_BIN  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
BENCH_SRC := $(wildcard tests/bench/*.c)
BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))

comma := ,

.PHONY: all lib cli module module-asan unit fuzz fuzz-build test test-unit test-asan test-integration \
        bench demo detect detect-tools deps deps-test deps-bench deps-tools install uninstall deb man \
        test-container clean check-rules rules

all: deps-check lib cli module

deps-check:
	@pkg-config --exists $(PKGS) zlib && command -v $(APXS) >/dev/null || $(MAKE) --no-print-directory deps

# build dependencies only; `make test` and `make bench` add theirs
# (tools/install-deps.sh build|test|bench)
deps:
	@sh tools/install-deps.sh build

deps-test:
	@sh tools/install-deps.sh test

deps-bench:
	@sh tools/install-deps.sh bench

deps-tools:
	@sh tools/install-deps.sh tools

lib: $(BUILD)/libiocwatch.a
cli: $(BUILD)/iocwatch
module: $(BUILD)/mod_iocwatch.so

# hidden: inside mod_iocwatch.so the engine's functions call each other
# directly, not through the PLT (only iocwatch_module is exported)
$(BUILD)/obj/%.o: src/%.c $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -fvisibility=hidden -c $< -o $@

$(BUILD)/libiocwatch.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/iocwatch: src/iw_cli.c $(BUILD)/libiocwatch.a VERSION
	$(CC) $(ALL_CFLAGS) -DIW_VERSION='"$(VERSION)"' $< -o $@ $(BUILD)/libiocwatch.a \
	    $(DEP_LIBS) $(CLI_LIBS) $(LDFLAGS)

# The module's thread-local variables (its per-thread state, read on every
# request) through TLS descriptors: a load instead of a __tls_get_addr call
# each time (x86-64; elsewhere the compiler's default).
MODULE_TLS ?= $(if $(filter x86_64,$(shell uname -m)),-Wc$(comma)-mtls-dialect=gnu2)

# The module: apxs compiles the glue; the engine is linked in statically
# (built -fPIC) so LoadModule needs nothing else from the build tree.
$(BUILD)/mod_iocwatch.so: mod_iocwatch.c $(BUILD)/libiocwatch.a $(wildcard src/*.h)
	@mkdir -p $(BUILD)/apxs
	cp mod_iocwatch.c $(BUILD)/apxs/
	cd $(BUILD)/apxs && $(APXS) -c -Wc,-Wall -Wc,-Wextra -Wc,-Werror -Wc,-Wno-unused-parameter \
	    -Wc,-std=gnu11 $(MODULE_TLS) $(MODULE_CFLAGS) -I$(CURDIR)/src $(DEP_CFLAGS) mod_iocwatch.c \
	    $(abspath $(BUILD))/libiocwatch.a $(DEP_LIBS) $(MODULE_LIBS) >apxs.log 2>&1 \
	    || { cat apxs.log; exit 1; }
	@# a new inode (rename), never rewrite in place: an httpd running from
	@# the build tree has the old file mapped and would crash
	cp $(BUILD)/apxs/.libs/mod_iocwatch.so $@.tmp && mv -f $@.tmp $@

# Source install (PREFIX=/usr/local): module, CLI, the pack in
# PREFIX/share/iocwatch, configuration files only where the admin has not
# edited them (tools/install.sh says which were kept); `make uninstall`
# removes it all but edited configuration files and /etc/iocwatch/rules.
install: all
	@BUILD=$(BUILD) APXS=$(APXS) sh tools/install.sh install

uninstall:
	@BUILD=$(BUILD) APXS=$(APXS) sh tools/install.sh uninstall

# Debian package from a staged tree: build/iocwatch_VERSION_ARCH.deb, built
# with dpkg-buildflags' flags in build/pkg (tools/mkdeb.sh)
deb: deps-check
	@BUILD=$(BUILD) APXS=$(APXS) MAKE="$(MAKE)" sh tools/mkdeb.sh

# docs/man/iocwatch.conf.5 from the directive table of docs/MODULE.md
man:
	@$(PYTHON) tools/gen-man.py

$(BUILD)/unit/%.o: tests/unit/%.c $(wildcard tests/unit/*.h) $(wildcard src/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -c $< -o $@

$(BUILD)/unit_tests: $(UNIT_OBJ) $(BUILD)/libiocwatch.a
	$(CC) $(ALL_CFLAGS) $(UNIT_OBJ) -o $@ $(BUILD)/libiocwatch.a $(DEP_LIBS) $(LDFLAGS)

$(BUILD)/fuzz/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) $(BUILD)/libiocwatch.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libiocwatch.a $(DEP_LIBS) $(LDFLAGS)

$(BUILD)/bench/%: tests/bench/%.c tests/common/hs_record.h $(BUILD)/libiocwatch.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libiocwatch.a $(DEP_LIBS) $(LDFLAGS)

# the differential test of Vectorscan against PCRE2 (tests/cli/test_vectorscan.py)
$(BUILD)/vs_verify: tests/vs/vs_verify.c tests/common/hs_record.h $(BUILD)/libiocwatch.a
	$(CC) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libiocwatch.a $(DEP_LIBS) $(LDFLAGS)

# bench_rewrite captures the databases the engine compiles (tests/bench/bench_rewrite.c)
$(BUILD)/bench/bench_rewrite: LDFLAGS += -Wl,--wrap=iw_engine_dbcache_compile_multi

unit: $(BUILD)/unit_tests $(FUZZ_BIN) $(BUILD)/vs_verify

# ---- tests -----------------------------------------------------------------
# make test = unit tests (normal build), the same under ASan+UBSan with the
# fuzz drivers, rule-pack check, then the integration suite on a real httpd.
test: deps-test
	@sh tools/run-tests.sh

test-unit: unit cli
	IW_SRCDIR=$(CURDIR) $(BUILD)/unit_tests

ASAN_CFLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ASAN_MAKE   = $(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 HARDEN_CFLAGS= \
	    EXTRA_CFLAGS="$(ASAN_CFLAGS)" EXTRA_LDFLAGS="-fsanitize=address,undefined"

test-asan:
	$(ASAN_MAKE) unit
	IW_SRCDIR=$(CURDIR) ASAN_OPTIONS=detect_leaks=1 build-asan/unit_tests
	@for f in build-asan/fuzz/*; do [ -x "$$f" ] || continue; \
	    echo "fuzz: $$f"; IW_SRCDIR=$(CURDIR) "$$f" || exit 1; done

# ---- coverage-guided fuzzing (docs/FUZZING.md) ---------------------------------
# make fuzz: each tests/fuzz target built with clang's libFuzzer + ASan + UBSan
# (engine in build-fuzz/, instrumented), then run for FUZZ_SECONDS each, one
# after the other (seeds, corpus, crash artifacts and logs in build-fuzz/).
# make test-asan runs the same targets briefly through their standalone
# driver (gcc).
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?=               # empty: every target
FUZZ_SAN      = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_LF      := $(patsubst tests/fuzz/%.c,build-fuzz/lf/%,$(FUZZ_SRC))

fuzz-build:
	@$(FUZZ_CC) -print-file-name=libclang_rt.fuzzer-x86_64.a 2>/dev/null | grep -q / || sh tools/install-deps.sh test
	$(MAKE) --no-print-directory CC=$(FUZZ_CC) BUILD=build-fuzz OPT=-O1 HARDEN_CFLAGS= \
	    EXTRA_CFLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" build-fuzz/libiocwatch.a
	$(MAKE) --no-print-directory $(FUZZ_LF)

build-fuzz/lf/%: tests/fuzz/%.c $(wildcard tests/fuzz/*.h) build-fuzz/libiocwatch.a
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_W) -O1 -g -DIW_LIBFUZZER $(FUZZ_SAN) -fsanitize=fuzzer -Isrc $(DEP_CFLAGS) \
	    $< -o $@ build-fuzz/libiocwatch.a $(DEP_LIBS)

fuzz: deps-test fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tools/run-fuzz.sh $(FUZZ_TARGETS)

# The module and the CLI under ASan+UBSan in build-asan/ (same objects as
# test-asan), for the integration suite inside a real httpd:
#   make module-asan && cd tests/integration && IW_ASAN=1 \
#     IW_MODULE=$PWD/../../build-asan/mod_iocwatch.so IW_CLI=$PWD/../../build-asan/iocwatch \
#     /usr/bin/python3 -m pytest -q
module-asan:
	$(ASAN_MAKE) MODULE_CFLAGS="$(addprefix -Wc$(comma),$(ASAN_CFLAGS))" \
	    MODULE_LIBS="-lasan -lubsan" lib cli module

check-rules: cli
	$(BUILD)/iocwatch check conf/rules

test-integration: all
	cd tests/integration && $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: deps-bench all cli $(BENCH_BIN)
	@sh tools/run-bench.sh

demo: deps-test all
	@sh tools/demo.sh

detect: deps-bench all
	@$(PYTHON) tools/detect.py

# held-out check: Debian's attack tools live against both engines (not part of make test;
# needs sqlmap wapiti nmap wfuzz dirb whatweb, docs/DETECTION.md)
detect-tools: deps-tools all
	@$(PYTHON) tools/detect_tools.py

# the pack's long alternations, generated from conf/lists/ into conf/rules/ (committed)
rules:
	@$(PYTHON) tools/genrules.py

clean:
	rm -rf build build-asan build-fuzz
