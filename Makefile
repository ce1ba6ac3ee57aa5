# rcptguard - build, test, run. See README.md.
#
#   make            build rcptguard and rcptguard-ctl in build/release
#   make demo       install missing packages, build, run against a throwaway Postfix
#   make check      install missing packages, build, run every test
#   make test-unit  the unit tests only (no root, no servers, seconds)
#   make test-integration   the integration tests only (real Postfix, slapd, ...)
#   make asan       build with AddressSanitizer+UBSan in build/asan, run the tests
#   make tsan       build with ThreadSanitizer in build/tsan, run the tests
#   make fuzz       build libFuzzer targets (clang) in build/fuzz, run each briefly
#   make bench      benchmarks (prints figures, asserts nothing)
#   make deb        install missing packages, build the Debian package into build/deb/, lintian it
#   make check-deb  install, exercise, upgrade and purge build/deb's package on this machine (root)
#   make install    PREFIX, DESTDIR, SYSCONFDIR, MANDIR as in the GNU conventions
#
# CXX, CXXFLAGS, CPPFLAGS, LDFLAGS and BUILD from the environment or the command
# line are honoured (CXXFLAGS/CPPFLAGS/LDFLAGS are added to the project's own).
# One build directory per configuration; objects are reused between targets.
#
# Layers (doc/architecture.md): the doors (milter/, policyd/, ctl/) over
# core/, over backends/, over util/. Each layer is one archive, linked in
# that order, and tests/integration/test_repository.py checks that no folder
# uses a folder above it.

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

# The C++ standard, named here once (README says the same).
CXXSTD      := c++20
ifeq ($(origin CXX),default)
CXX         := g++
endif
ifeq ($(CONFIG),fuzz)
CXX         := clang++
endif
WERROR      ?= -Werror
WARNINGS    := -Wall -Wextra $(WERROR) -Wshadow -Wnon-virtual-dtor -Wformat=2 -Wno-missing-field-initializers
OPT_release := -O2 -g
# No vptr check: to test a vtable pointer UBSan first probes the memory through
# a pipe(2), which fails when the process is out of descriptors - exactly what
# the policy service's EMFILE test brings about - and then it reports every
# virtual call as one on an invalid object and stops the daemon.
OPT_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=all
OPT_tsan    := -O1 -g -fsanitize=thread
OPT_fuzz    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link
# libpq's and MariaDB Connector/C's headers live in their own directories.
SQL_CPPFLAGS := -I/usr/include/postgresql -I/usr/include/mariadb
ALL_CPPFLAGS = -I. -I$(BUILD)/gen $(SQL_CPPFLAGS) $(CPPFLAGS)
ALL_CXXFLAGS = -std=$(CXXSTD) $(WARNINGS) $(OPT_$(CONFIG)) $(CXXFLAGS) -pthread
ALL_LDFLAGS  = $(filter -fsanitize=%,$(OPT_$(CONFIG))) $(LDFLAGS) -pthread
DEPFLAGS     = -MMD -MP

# System libraries, by the layer that needs them.
LIBS_UTIL     := -lhiredis -lidn2 -lunistring
LIBS_BACKENDS := -lsqlite3 -lldap -llber -lpq -lmariadb -lssl -lcrypto
LIBS_CORE     := -lcrypto
LIBS_MILTER   := -lmilter -lcpp-httplib
LIBS_LAYERS   := $(LIBS_CORE) $(LIBS_BACKENDS) $(LIBS_UTIL)
GTEST_LIBS    := -lgtest -lgtest_main

UTIL_SRCS     := $(wildcard util/*.cpp)
BACKENDS_SRCS := $(wildcard backends/*.cpp backends/*/*.cpp)
CORE_SRCS     := $(wildcard core/*.cpp core/*/*.cpp)
MILTER_SRCS   := $(wildcard milter/*.cpp)
POLICYD_SRCS  := $(wildcard policyd/*.cpp)
CTL_SRCS      := $(wildcard ctl/*.cpp)
UNIT_SRCS     := $(wildcard tests/*_test.cpp tests/fakes/*.cpp)
FUZZ_SRCS     := $(wildcard tests/fuzz/*_fuzz.cpp)
TOOL_SRCS     := $(wildcard tests/tools/*.cpp)

objs = $(1:%.cpp=$(BUILD)/obj/%.o)
UTIL_LIB      := $(BUILD)/libutil.a
BACKENDS_LIB  := $(BUILD)/libbackends.a
CORE_LIB      := $(BUILD)/libcore.a
# Layer order: a lower archive cannot resolve a call into a higher one.
LAYER_LIBS    := $(CORE_LIB) $(BACKENDS_LIB) $(UTIL_LIB)

PROGRAMS    := $(BUILD)/rcptguard $(BUILD)/rcptguard-ctl
BENCH_BINS  := $(BUILD)/milter_load $(BUILD)/policy_load $(BUILD)/null_milter $(BUILD)/bounce_bench $(BUILD)/null_policy \
               $(BUILD)/syslog_sink $(BUILD)/call_ahead_bench
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
# The sample configuration, the schema and the MTA snippets (the Debian
# package puts them under /usr/share/doc/rcptguard/examples).
PKGDATADIR  ?= $(DATADIR)/rcptguard
SHARE_FILES := etc/schema.sql etc/users.txt etc/postfix-main.cf.snippet etc/sendmail.mc.snippet
# make install strips the programs with $(STRIP); STRIP= (empty) installs them
# as built (the Debian build does, so that dh_strip keeps the debug symbols).
STRIP       ?= strip
# make install records the directories it had to create here, and make
# uninstall removes them again (those that are empty). Empty = no record.
DIRS_RECORD ?= $(PKGDATADIR)/installed-directories
INSTALL_DIRS = $(SBINDIR) $(MANDIR)/man5 $(MANDIR)/man8 $(PKGDATADIR) $(SYSTEMDUNITDIR) $(SYSCONFDIR)/rcptguard
# Man pages and the sample configuration name the default paths; installed
# with other PREFIX/SYSCONFDIR/PKGDATADIR/SYSTEMDUNITDIR values they name those.
INSTALL_SED := sed -e 's|/etc/rcptguard|$(SYSCONFDIR)/rcptguard|g' -e 's|/usr/local/share/rcptguard/|$(PKGDATADIR)/|g' \
                   -e 's|/usr/local/lib/systemd/system/|$(SYSTEMDUNITDIR)/|g' -e 's|/usr/local/|$(PREFIX)/|g'

.PHONY: all programs tests bench-programs fuzz-targets deps check bench soak install uninstall test-unit \
        test-integration demo asan tsan fuzz deb check-deb clean FORCE
.DEFAULT_GOAL := all
.SECONDARY:

all: programs
programs: $(PROGRAMS)
bench-programs: $(BENCH_BINS)
# What the test suites run: the unit tests, test tools and the load generators.
tests: $(UNIT_BIN) $(TOOL_BINS) $(BENCH_BINS)

$(BUILD)/obj/%.o: %.cpp
	@mkdir -p $(dir $@)
	@echo "  CXX     $(BUILD)/$<"
	$(Q)$(CXX) $(ALL_CPPFLAGS) $(ALL_CXXFLAGS) $(DEPFLAGS) -c $< -o $@

# etc/schema.sql compiled into rcptguard-ctl (init), so the binary needs no data files;
# without the sqlite3 shell's dot-commands, which are not SQL.
$(BUILD)/gen/ctl/schema_sql.inc: etc/schema.sql
	@mkdir -p $(dir $@)
	$(Q){ printf '// generated from etc/schema.sql\nstatic const char kSchemaSql[] = R"RCPTGUARD_SCHEMA('; sed '/^\./d' $<; \
	  printf ')RCPTGUARD_SCHEMA";\n'; } > $@
$(BUILD)/obj/ctl/recipient_db.o: $(BUILD)/gen/ctl/schema_sql.inc

# SYSCONFDIR compiled in as the default configuration directory (util/paths.cpp).
# Rewritten only when it changes, so a different SYSCONFDIR rebuilds that one file.
$(BUILD)/gen/paths.inc: FORCE
	@mkdir -p $(dir $@)
	$(Q)printf '// generated by make from SYSCONFDIR\n#define RCPTGUARD_SYSCONFDIR "%s"\n' '$(SYSCONFDIR)' > $@.new
	$(Q)if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
$(BUILD)/obj/util/paths.o: $(BUILD)/gen/paths.inc
FORCE:

$(UTIL_LIB): $(call objs,$(UTIL_SRCS))
$(BACKENDS_LIB): $(call objs,$(BACKENDS_SRCS))
$(CORE_LIB): $(call objs,$(CORE_SRCS))
$(LAYER_LIBS):
	@mkdir -p $(dir $@)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/rcptguard: $(call objs,$(MILTER_SRCS) $(POLICYD_SRCS)) $(LAYER_LIBS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LAYER_LIBS) $(LIBS_MILTER) $(LIBS_LAYERS)

$(BUILD)/rcptguard-ctl: $(call objs,$(CTL_SRCS)) $(LAYER_LIBS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LAYER_LIBS) $(LIBS_LAYERS)

$(BUILD)/obj/tests/%.o: ALL_CPPFLAGS += -DRCPTGUARD_SOURCE_DIR='"$(CURDIR)"'

$(BUILD)/milter_load: $(BUILD)/obj/bench/milter_load.o $(BUILD)/obj/bench/milter_client.o $(BUILD)/obj/bench/load_run.o
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/policy_load: $(BUILD)/obj/bench/policy_load.o $(BUILD)/obj/bench/load_run.o
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $^

$(BUILD)/bounce_bench: $(BUILD)/obj/bench/bounce_bench.o $(LAYER_LIBS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $< $(LAYER_LIBS) $(LIBS_LAYERS)

$(BUILD)/call_ahead_bench: $(BUILD)/obj/bench/call_ahead_bench.o $(LAYER_LIBS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $< $(LAYER_LIBS) $(LIBS_LAYERS)

$(BUILD)/null_milter: $(BUILD)/obj/bench/null_milter.o
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $^ $(LIBS_MILTER)

$(BUILD)/null_policy $(BUILD)/syslog_sink: $(BUILD)/%: $(BUILD)/obj/bench/%.o
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $^

# The unit tests also drive the policy door and the libmilter callbacks (over
# a fake libmilter in tests/fakes/, so no MTA is needed), and render the status page.
UNIT_DOOR_OBJS := $(call objs,$(POLICYD_SRCS) milter/callbacks.cpp milter/milter_reply.cpp milter/status_page.cpp)
$(UNIT_BIN): $(call objs,$(UNIT_SRCS)) $(UNIT_DOOR_OBJS) $(LAYER_LIBS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LAYER_LIBS) $(LIBS_LAYERS) $(GTEST_LIBS)

$(TOOL_BINS): $(BUILD)/%: $(BUILD)/obj/tests/tools/%.o $(LAYER_LIBS)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LAYER_LIBS) $(LIBS_LAYERS)

# bounce_strip and bounce_fuzz prepare messages exactly like the bounce unit tests do.
$(BUILD)/bounce_strip $(BUILD)/fuzz/bounce_fuzz: $(BUILD)/obj/tests/fakes/bounce_message.o
# Fuzz targets of the doors link the door's object they exercise.
$(BUILD)/fuzz/address_fuzz: $(BUILD)/obj/milter/milter_reply.o
$(BUILD)/fuzz/policy_fuzz: $(BUILD)/obj/policyd/policy_protocol.o

$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $(LAYER_LIBS)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CXX) $(ALL_LDFLAGS) -fsanitize=fuzzer -o $@ $(filter %.o,$^) $(LAYER_LIBS) $(LIBS_LAYERS)

fuzz-targets: $(FUZZ_BINS)

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# Installs the Debian packages listed in packages.debian that are missing.
deps:
	@tools/install-deps

# The README's test command: everything a user can run, on the release build.
check: deps
	$(MAKE) -j$(JOBS) CONFIG=release programs tests
	tools/run-tests build/release

# Fast targets for developers (no package installation, no root needed for
# the unit tests).
test-unit: $(UNIT_BIN)
	tools/run-tests --unit-only $(BUILD)

test-integration: programs tests
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
	$(MAKE) -j$(JOBS) CONFIG=release programs bench-programs
	tools/bench build/release $(BENCH_ARGS)

# FUZZ_SECONDS per target (default 30); CI uses the default.
fuzz: deps
	$(MAKE) -j$(JOBS) CONFIG=fuzz fuzz-targets
	tools/run-fuzz build/fuzz $(FUZZ_SECONDS)

# The Debian package (debian/), built by dpkg-buildpackage in a copy of this
# tree under build/deb/ (dpkg-buildpackage writes into the parent directory,
# and the copy keeps debian/'s build products out of the tree); the .deb,
# -dbgsym .deb, .buildinfo and .changes land in build/deb/. Any lintian error
# or warning fails it. The version is util/version.hpp's; debian/rules refuses
# a debian/changelog that names another.
VERSION     := $(shell sed -n 's/^[#]define RCPTGUARD_VERSION "\(.*\)"$$/\1/p' util/version.hpp)
DEB_DIR     := build/deb
deb: deps
	rm -rf $(DEB_DIR)
	mkdir -p $(DEB_DIR)/src/rcptguard-$(VERSION)
	tar -c --exclude=./build --exclude=./.git --exclude=__pycache__ . | tar -x -C $(DEB_DIR)/src/rcptguard-$(VERSION)
	cd $(DEB_DIR)/src/rcptguard-$(VERSION) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL CXX="$(CXX)" \
	  dpkg-buildpackage -b -us -uc -j$(JOBS)
	mv $(DEB_DIR)/src/*.deb $(DEB_DIR)/src/*.buildinfo $(DEB_DIR)/src/*.changes $(DEB_DIR)/
	rm -rf $(DEB_DIR)/src
	lintian --fail-on error,warning $(DEB_DIR)/rcptguard_$(VERSION)_*.changes
	@echo "built:"; ls -1 $(DEB_DIR)/*.deb; echo "install with: apt install ./$(DEB_DIR)/rcptguard_$(VERSION)_$$(dpkg --print-architecture).deb"

# Installs that package on this machine, runs it, upgrades and purges it, and
# leaves the machine as it was (tests/package/test_deb.py; root, no systemd
# needed). Builds the package first if build/deb/ has none.
check-deb: $(if $(wildcard $(DEB_DIR)/rcptguard_$(VERSION)_*.deb),,deb)
	python3 tests/package/test_deb.py $(DEB_DIR)

# GNU conventions: PREFIX, DESTDIR, SBINDIR, SYSCONFDIR, DATADIR, MANDIR,
# PKGDATADIR, SYSTEMDUNITDIR; STRIP and DIRS_RECORD above. Builds and installs
# the two programs only (no benchmark or test programs). An existing
# rcptguard.conf is never overwritten.
install: programs
	$(Q)new=$$(for d in $(INSTALL_DIRS) $(if $(DIRS_RECORD),$(dir $(DIRS_RECORD))); do \
	    d=$${d%/}; while [ -n "$$d" ] && [ ! -d "$(DESTDIR)$$d" ]; do echo "$$d"; d=$${d%/*}; done; done | sort -u); \
	  install -d $(addprefix $(DESTDIR),$(INSTALL_DIRS)) $(if $(DIRS_RECORD),$(DESTDIR)$(dir $(DIRS_RECORD))) || exit 1; \
	  if [ -n "$(DIRS_RECORD)" ] && [ -n "$$new" ]; then \
	    { cat "$(DESTDIR)$(DIRS_RECORD)" 2>/dev/null; echo "$$new"; } | sort -u > "$(DESTDIR)$(DIRS_RECORD).new" && \
	    mv -f "$(DESTDIR)$(DIRS_RECORD).new" "$(DESTDIR)$(DIRS_RECORD)"; fi
	install -m 0755 $(if $(STRIP),-s --strip-program=$(STRIP)) $(BUILD)/rcptguard $(BUILD)/rcptguard-ctl \
	  $(DESTDIR)$(SBINDIR)/
	for f in man/rcptguard.8 man/rcptguard-ctl.8 man/rcptguard.conf.5; do \
	  s=$${f##*.}; $(INSTALL_SED) $$f > $(DESTDIR)$(MANDIR)/man$$s/$${f#man/} && \
	  chmod 0644 $(DESTDIR)$(MANDIR)/man$$s/$${f#man/} || exit 1; done
	install -m 0644 $(SHARE_FILES) $(DESTDIR)$(PKGDATADIR)/
	$(INSTALL_SED) etc/rcptguard.conf > $(DESTDIR)$(PKGDATADIR)/rcptguard.conf.sample
	chmod 0644 $(DESTDIR)$(PKGDATADIR)/rcptguard.conf.sample
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' etc/rcptguard.service.in \
	  > $(DESTDIR)$(SYSTEMDUNITDIR)/rcptguard.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/rcptguard.service
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf ]; then \
	  echo "kept $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf (the new sample is $(PKGDATADIR)/rcptguard.conf.sample)"; \
	else \
	  install -m 0644 $(DESTDIR)$(PKGDATADIR)/rcptguard.conf.sample $(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf; \
	fi

# Leaves the configuration and the database alone, as a package "remove" does;
# removes the directories install created (when empty), a stale pid file, and
# names the lines of the MTA's configuration that still point at rcptguard.
RUN_PID_FILE := /run/rcptguard/rcptguard.pid
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/rcptguard $(DESTDIR)$(SBINDIR)/rcptguard-ctl
	rm -f $(DESTDIR)$(MANDIR)/man8/rcptguard.8 $(DESTDIR)$(MANDIR)/man8/rcptguard-ctl.8
	rm -f $(DESTDIR)$(MANDIR)/man5/rcptguard.conf.5 $(DESTDIR)$(SYSTEMDUNITDIR)/rcptguard.service
	rm -f $(addprefix $(DESTDIR)$(PKGDATADIR)/,$(notdir $(SHARE_FILES)) rcptguard.conf.sample)
	$(Q)rec="$(DESTDIR)$(DIRS_RECORD)"; \
	  if [ -n "$(DIRS_RECORD)" ] && [ -f "$$rec" ]; then dirs=$$(cat "$$rec"); rm -f "$$rec"; \
	  else dirs="$(PKGDATADIR)"; fi; \
	  for d in $$(printf '%s\n' $$dirs | sort -r); do rmdir "$(DESTDIR)$$d" 2>/dev/null || true; done
	$(Q)if [ -z "$(DESTDIR)" ] && [ -f $(RUN_PID_FILE) ]; then \
	  pid=$$(cat $(RUN_PID_FILE)); \
	  if [ -n "$$pid" ] && kill -0 "$$pid" 2>/dev/null; then \
	    echo "rcptguard is still running (pid $$pid): stop it (systemctl stop rcptguard, or kill $$pid)"; \
	  else rm -f $(RUN_PID_FILE); rmdir $(dir $(RUN_PID_FILE)) 2>/dev/null || true; fi; fi
	@echo "left in place: $(DESTDIR)$(SYSCONFDIR)/rcptguard/, the recipient database and the rcptguard user (deluser --system rcptguard)"
	@if refs=$$(tools/mta-references "$(DESTDIR)$(SYSCONFDIR)/rcptguard/rcptguard.conf"); then \
	  echo "*** Your MTA still sends mail through rcptguard, which is gone: Postfix defers all mail"; \
	  echo "*** (milter_default_action = tempfail). Remove rcptguard from these lines, then postfix reload"; \
	  echo "*** (Sendmail: remove its INPUT_MAIL_FILTER from sendmail.mc and rebuild sendmail.cf):"; \
	  printf '%s\n' "$$refs" | sed 's/^/***   /'; \
	else \
	  echo "If you added rcptguard to Postfix, remove its lines from main.cf, then postfix reload:"; \
	  sed -n 's/^\(smtpd_milters\|non_smtpd_milters\|internal_mail_filter_classes\) *=/  &/p' etc/postfix-main.cf.snippet; \
	  echo "  (and the milter_* lines, if rcptguard was your only milter)"; \
	fi

clean:
	rm -rf build
