# rcptguard - build, test, run. See README.md.
#
#   make            build rcptguard (and rcptguard-ctl) in build/release
#   make demo       install missing packages, build, run against a throwaway Postfix
#   make check      install missing packages, build, run every test
#   make asan       build with AddressSanitizer+UBSan in build/asan, run the tests
#   make tsan       build with ThreadSanitizer in build/tsan, run the tests
#   make fuzz       build libFuzzer targets (clang) in build/fuzz, run each briefly
#   make bench      benchmarks (prints figures, asserts nothing)
#   make install    PREFIX, DESTDIR, SYSCONFDIR, MANDIR as in the GNU conventions
#
# One build directory per configuration; objects are reused between targets.

SHELL       := /bin/bash
CONFIG      ?= release
BUILD       ?= build/$(CONFIG)
FUZZ_SECONDS ?= 30
JOBS        ?= 2

CXX         := g++
CXXSTD      := -std=c++20
WARNINGS    := -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wformat=2 -Wno-missing-field-initializers
CPPFLAGS    := -I.
DEPFLAGS     = -MMD -MP
OPT_release := -O2 -g
OPT_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
OPT_tsan    := -O1 -g -fsanitize=thread
OPT_fuzz    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link
ifeq ($(CONFIG),fuzz)
CXX         := clang++
endif
CXXFLAGS    := $(CXXSTD) $(WARNINGS) $(OPT_$(CONFIG)) -pthread
LDFLAGS     := $(filter -fsanitize=%,$(OPT_$(CONFIG))) -pthread
LIBS_CORE   := -lsqlite3
LIBS_MILTER := -lmilter
GTEST_LIBS  := -lgtest -lgtest_main

CORE_SRCS   := $(filter-out milter/main.cpp milter/callbacks.cpp,$(wildcard milter/*.cpp milter/*/*.cpp backends/*.cpp))
DAEMON_SRCS := milter/main.cpp milter/callbacks.cpp
UNIT_SRCS   := $(wildcard tests/*_test.cpp tests/fakes/*.cpp)
FUZZ_SRCS   := $(wildcard tests/fuzz/*_fuzz.cpp)
TOOL_SRCS   := $(wildcard tests/tools/*.cpp)

CORE_OBJS   := $(CORE_SRCS:%.cpp=$(BUILD)/obj/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.cpp=$(BUILD)/obj/%.o)
UNIT_OBJS   := $(UNIT_SRCS:%.cpp=$(BUILD)/obj/%.o)
CORE_LIB    := $(BUILD)/librcptguard.a

PROGRAMS    := $(BUILD)/rcptguard
UNIT_BIN    := $(BUILD)/unit_tests
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.cpp=$(BUILD)/fuzz/%)
# Test tools (e.g. bounce_strip for the corpus test), built next to the programs.
TOOL_BINS   := $(TOOL_SRCS:tests/tools/%.cpp=$(BUILD)/%)

PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
SYSCONFDIR  ?= /etc
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DESTDIR     ?=

.PHONY: all programs tests fuzz-targets deps check test test-unit test-integration demo asan tsan fuzz bench clean lint-man
.DEFAULT_GOAL := all
.SECONDARY:

all: programs
programs: $(PROGRAMS)
tests: $(UNIT_BIN) $(TOOL_BINS)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -c $< -o $@

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(BUILD)/rcptguard: $(DAEMON_OBJS) $(CORE_LIB)
	$(CXX) $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(CORE_LIB) $(LIBS_MILTER) $(LIBS_CORE)

$(BUILD)/obj/tests/%.o: CPPFLAGS += -DRCPTGUARD_SOURCE_DIR='"$(CURDIR)"'

$(UNIT_BIN): $(UNIT_OBJS) $(CORE_LIB)
	$(CXX) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(CORE_LIB) $(LIBS_CORE) $(GTEST_LIBS)

$(TOOL_BINS): $(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(CORE_LIB)
	$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CORE_LIB) $(LIBS_CORE)

# bounce_strip and bounce_fuzz prepare messages exactly like the bounce unit tests do.
$(BUILD)/bounce_strip $(BUILD)/fuzz/bounce_fuzz: $(BUILD)/obj/tests/fakes/bounce_message.o

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(CORE_LIB) $(LIBS_CORE)

fuzz-targets: $(FUZZ_BINS)

-include $(CORE_OBJS:.o=.d) $(DAEMON_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) $(FUZZ_SRCS:%.cpp=$(BUILD)/obj/%.d) \
         $(TOOL_SRCS:%.cpp=$(BUILD)/obj/%.d)

# Installs the Debian packages listed in packages.debian that are missing.
deps:
	@tools/install-deps

# The README's test command: everything a user can run, on the release build.
check: deps
	$(MAKE) -j$(JOBS) CONFIG=release programs tests
	tools/run-tests build/release

test-unit: tests
	$(UNIT_BIN)

test-integration: programs
	tools/run-tests --integration-only $(BUILD)

demo: deps
	$(MAKE) -j$(JOBS) CONFIG=release programs
	tools/demo build/release

asan: deps
	$(MAKE) -j$(JOBS) CONFIG=asan programs tests
	tools/run-tests build/asan

tsan: deps
	$(MAKE) -j$(JOBS) CONFIG=tsan programs tests
	tools/run-tests build/tsan

# FUZZ_SECONDS per target (default 30); CI uses the default.
fuzz: deps
	$(MAKE) -j$(JOBS) CONFIG=fuzz fuzz-targets
	tools/run-fuzz build/fuzz $(FUZZ_SECONDS)

clean:
	rm -rf build
