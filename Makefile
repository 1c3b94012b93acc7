# spliced — one Makefile, every output under build/.
#   make            build/spliced (BPF object -> skeleton -> binary) and build/tools/*
#   make deps       install every package the project needs (Debian 12, root)
#   make test       unit + integration + swarm tests; ends with "N passed, N failed"
#   make asan       ASan/UBSan build of everything, then the unit and smoke tests on it
#   make demo       the seed scenario, printed; make demo-clean removes what it made
#   make V=1        show full commands

.DELETE_ON_ERROR:
.SUFFIXES:

V ?= 0
ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BUILD    ?= build
CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
PKGS     := libbpf libelf libevent libevent_pthreads libcjson libcurl zlib
SANITIZE ?=

PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
	    -fno-strict-aliasing -pthread $(SANITIZE)
CPPFLAGS += -D_GNU_SOURCE -Iinclude -Iuserspace -I$(BUILD) $(PKG_CFLAGS)
LDFLAGS  += -pthread $(SANITIZE)
LDLIBS   += $(PKG_LIBS) -lm

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/%.bpf.o,$(BPF_SRCS))
BPF_SKELS := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))

LIB_SRCS  := $(filter-out userspace/main.c,$(wildcard userspace/*.c))
LIB_OBJS  := $(patsubst userspace/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
MAIN_OBJ  := $(BUILD)/obj/main.o
HDRS      := $(wildcard userspace/*.h include/spliced/*.h)

TOOL_SRCS := $(wildcard tools/*.c)
TOOLS     := $(patsubst tools/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNITS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
# C helpers that integration scripts drive (clients, probes): build/tests/it_<name>
ITEST_SRCS := $(wildcard tests/integration/*.c)
ITESTS    := $(patsubst tests/integration/%.c,$(BUILD)/tests/it_%,$(ITEST_SRCS))

.PHONY: all units deps test test-unit test-integration test-swarm asan demo demo-clean image bench clean soak

all: $(BUILD)/spliced $(TOOLS) $(ITESTS)

units: $(UNITS)

deps:
	@tools/deps.sh

$(BUILD)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h $(wildcard include/spliced/*.h)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Iinclude -I$(BUILD) \
		-Wall -Wno-unused-function -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< > $@

$(BUILD)/obj/%.o: userspace/%.c $(HDRS) $(BPF_SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# The dashboard page, compiled into the binary as a byte array (userspace/api.c includes it).
$(BUILD)/dashboard_html.h: userspace/dashboard.html
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q){ echo 'static const char dashboard_html[] = {'; od -An -v -tx1 $< | \
		sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'; echo '0x00 };'; } > $@
$(BUILD)/obj/api.o: $(BUILD)/dashboard_html.h

$(BUILD)/libspliced.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/spliced: $(MAIN_OBJ) $(BUILD)/libspliced.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tools/%: tools/%.c $(BUILD)/libspliced.a $(HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libspliced.a $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(BUILD)/libspliced.a $(HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libspliced.a $(LDLIBS) -o $@

$(BUILD)/tests/it_%: tests/integration/%.c $(BUILD)/libspliced.a $(HDRS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) $< $(BUILD)/libspliced.a $(LDLIBS) -o $@

# Every entry point that a fresh machine may start with installs the packages first, then
# builds in a sub-make (pkg-config flags are read when the Makefile is parsed).
# Tests: one runner collects every suite's summary line and prints the total.
test: deps
	@$(MAKE) --no-print-directory all units
	@tests/run.sh all

test-unit: deps
	@$(MAKE) --no-print-directory all units
	@tests/run.sh unit

test-integration: deps
	@$(MAKE) --no-print-directory all units
	@tests/run.sh integration

test-swarm: deps
	@$(MAKE) --no-print-directory all
	@tests/run.sh swarm

asan: deps
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan CC=clang \
		SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" \
		CFLAGS="-O1 -g" all units
	@BUILD=build-asan tests/run.sh asan

# tools/demo.sh installs packages and builds by itself
demo:
	@tools/demo.sh

demo-clean:
	@tools/demo.sh clean

image: deps
	@$(MAKE) --no-print-directory all
	@tools/image.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@tools/bench

clean:
	rm -rf build build-asan
