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
# V=1 shows full compiler command lines.
ifeq ($(V),1)
Q :=
else
Q := @
endif
CONFIG      ?= release
BUILD       ?= build/$(CONFIG)
FUZZ_SECONDS ?= 30
JOBS        ?= 2

CXX         := g++
CXXSTD      := -std=c++20
WARNINGS    := -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor -Wformat=2 -Wno-missing-field-initializers
CPPFLAGS    := -I. -I$(BUILD)/gen
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
LIBS_CORE   := -lsqlite3 -lldap -llber -lcrypto
LIBS_MILTER := -lmilter -lcpp-httplib
GTEST_LIBS  := -lgtest -lgtest_main

CORE_SRCS   := $(filter-out milter/main.cpp milter/callbacks.cpp,$(wildcard milter/*.cpp milter/*/*.cpp backends/*.cpp)) \
               ctl/recipient_db.cpp
CTL_SRCS    := ctl/rcptguard_ctl.cpp
DAEMON_SRCS := milter/main.cpp milter/callbacks.cpp
UNIT_SRCS   := $(wildcard tests/*_test.cpp tests/fakes/*.cpp)
FUZZ_SRCS   := $(wildcard tests/fuzz/*_fuzz.cpp)
BENCH_BINS  := $(BUILD)/milter_load $(BUILD)/null_milter $(BUILD)/bounce_bench
TOOL_SRCS   := $(wildcard tests/tools/*.cpp)

CORE_OBJS   := $(CORE_SRCS:%.cpp=$(BUILD)/obj/%.o)
DAEMON_OBJS := $(DAEMON_SRCS:%.cpp=$(BUILD)/obj/%.o)
CTL_OBJS    := $(CTL_SRCS:%.cpp=$(BUILD)/obj/%.o)
UNIT_OBJS   := $(UNIT_SRCS:%.cpp=$(BUILD)/obj/%.o)
CORE_LIB    := $(BUILD)/librcptguard.a

PROGRAMS    := $(BUILD)/rcptguard $(BUILD)/rcptguard-ctl
UNIT_BIN    := $(BUILD)/unit_tests
FUZZ_BINS   := $(FUZZ_SRCS:tests/fuzz/%.cpp=$(BUILD)/fuzz/%)
# Test tools (e.g. bounce_strip for the corpus test), built next to the programs.
TOOL_BINS   := $(TOOL_SRCS:tests/tools/%.cpp=$(BUILD)/%)

PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
SYSCONFDIR  ?= /etc
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR     ?=
SHARE       := $(DATADIR)/rcptguard
SHARE_FILES := etc/schema.sql etc/users.txt etc/postfix-main.cf.snippet etc/sendmail.mc.snippet

.PHONY: all programs tests fuzz-targets deps check bench soak install uninstall test-unit test-integration demo asan tsan fuzz clean
.DEFAULT_GOAL := all
.SECONDARY:

all: programs
programs: $(PROGRAMS) $(BENCH_BINS)
tests: $(UNIT_BIN) $(TOOL_BINS)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX     $(BUILD)/$<"
	$(Q)$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(DEPFLAGS) -c $< -o $@

# etc/schema.sql compiled into rcptguard-ctl (init), so the binary needs no data files.
$(BUILD)/gen/ctl/schema_sql.inc: etc/schema.sql
	@mkdir -p $(dir $@)
	$(Q){ printf '// generated from etc/schema.sql\nstatic const char kSchemaSql[] = R"RCPTGUARD_SCHEMA('; cat $<; \
	  printf ')RCPTGUARD_SCHEMA";\n'; } > $@
$(BUILD)/obj/ctl/recipient_db.o: $(BUILD)/gen/ctl/schema_sql.inc

$(BUILD)/rcptguard-ctl: $(CTL_OBJS) $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(CTL_OBJS) $(CORE_LIB) $(LIBS_CORE)

$(CORE_LIB): $(CORE_OBJS)
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/rcptguard: $(DAEMON_OBJS) $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(DAEMON_OBJS) $(CORE_LIB) $(LIBS_MILTER) $(LIBS_CORE)

$(BUILD)/obj/tests/%.o: CPPFLAGS += -DRCPTGUARD_SOURCE_DIR='"$(CURDIR)"'

$(BUILD)/milter_load: $(BUILD)/obj/bench/milter_load.o $(BUILD)/obj/bench/milter_client.o
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^

$(BUILD)/bounce_bench: $(BUILD)/obj/bench/bounce_bench.o $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $< $(CORE_LIB) $(LIBS_CORE)

$(BUILD)/null_milter: $(BUILD)/obj/bench/null_milter.o
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $^ $(LIBS_MILTER)

$(UNIT_BIN): $(UNIT_OBJS) $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(UNIT_OBJS) $(CORE_LIB) $(LIBS_CORE) $(GTEST_LIBS)

$(TOOL_BINS): $(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(CORE_LIB)
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -o $@ $(filter %.o,$^) $(CORE_LIB) $(LIBS_CORE)

# bounce_strip and bounce_fuzz prepare messages exactly like the bounce unit tests do.
$(BUILD)/bounce_strip $(BUILD)/fuzz/bounce_fuzz: $(BUILD)/obj/tests/fakes/bounce_message.o

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(CORE_LIB)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CXX) $(LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(CORE_LIB) $(LIBS_CORE)

fuzz-targets: $(FUZZ_BINS)

-include $(wildcard $(BUILD)/obj/bench/*.d)
-include $(CORE_OBJS:.o=.d) $(DAEMON_OBJS:.o=.d) $(CTL_OBJS:.o=.d) $(UNIT_OBJS:.o=.d) \
         $(FUZZ_SRCS:%.cpp=$(BUILD)/obj/%.d) $(TOOL_SRCS:%.cpp=$(BUILD)/obj/%.d)

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

# The fault-injection suite for longer (SOAK_SECONDS, default 600, at most 3600).
SOAK_SECONDS ?= 600
soak: deps
	$(MAKE) -j$(JOBS) CONFIG=release programs tests
	RCPTGUARD_SOAK_SECONDS=$(SOAK_SECONDS) tools/run-tests --integration-only build/release -- test_faults

# Benchmarks print figures (see BENCHMARKS.md); they assert nothing about time.
bench: deps
	$(MAKE) -j$(JOBS) CONFIG=release programs
	tools/bench build/release $(BENCH_ARGS)

# FUZZ_SECONDS per target (default 30); CI uses the default.
fuzz: deps
	$(MAKE) -j$(JOBS) CONFIG=fuzz fuzz-targets
	tools/run-fuzz build/fuzz $(FUZZ_SECONDS)

# GNU conventions: PREFIX, DESTDIR, SBINDIR, SYSCONFDIR, DATADIR, MANDIR,
# SYSTEMDUNITDIR. An existing rcptguard.conf is never overwritten.
install: programs
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(SHARE) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/rcptguard
	install -m 0755 $(BUILD)/rcptguard $(BUILD)/rcptguard-ctl $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/rcptguard.8 man/rcptguard-ctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/rcptguard.conf.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 $(SHARE_FILES) $(DESTDIR)$(SHARE)/
	install -m 0644 etc/rcptguard.conf $(DESTDIR)$(SHARE)/rcptguard.conf.sample
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' etc/rcptguard.service.in \
	  > $(DESTDIR)$(SYSTEMDUNITDIR)/rcptguard.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/rcptguard.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf (the new sample is $(SHARE)/rcptguard.conf.sample)"; \
	else \
	  install -m 0644 etc/rcptguard.conf $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf; \
	fi

# Leaves the configuration and the database alone, as a package "remove" does.
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/rcptguard $(DESTDIR)$(SBINDIR)/rcptguard-ctl
	rm -f $(DESTDIR)$(MANDIR)/man8/rcptguard.8 $(DESTDIR)$(MANDIR)/man8/rcptguard-ctl.8
	rm -f $(DESTDIR)$(MANDIR)/man5/rcptguard.conf.5 $(DESTDIR)$(SYSTEMDUNITDIR)/rcptguard.service
	rm -f $(addprefix $(DESTDIR)$(SHARE)/,$(notdir $(SHARE_FILES)) rcptguard.conf.sample)
	-rmdir $(DESTDIR)$(SHARE) 2>/dev/null
	@echo "left in place: $(DESTDIR)$(SYSCONFDIR)/rcptguard/ and the recipient database"

clean:
	rm -rf build
