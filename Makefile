# pyexec: build, test and benchmark scaffolding (GNU make).
#
#   make setup      venv + editable install, toolchain (gcc-multilib, musl-tools)
#   make samples    samples/build/<name>-{x86_64,i386,pie,musl}
#   make run        pyexec --maps samples/build/hello-x86_64
#   make test       pytest (fails when no test is collected)
#   make bench      bench/bench.py (installs qemu-user when missing)
#   make typecheck  mypy on the emulator packages
#   make clean      build outputs and caches (distclean: also .venv)

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
.DELETE_ON_ERROR:
MAKEFLAGS   += --no-builtin-rules

PYTHON3  ?= python3
VENV     := .venv
PY       := $(VENV)/bin/python
STAMPS   := .stamps
APT_GET  := DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=600

PACKAGES := emulator loader mmu syscalls

CC       := gcc
MUSLCC   := musl-gcc
CFLAGS   := -O2 -Wall -Wextra
BUILD    := samples/build
SAMPLES  := $(basename $(notdir $(wildcard samples/*.c)))
VARIANTS := x86_64 i386 pie musl
BINS     := $(foreach s,$(SAMPLES),$(foreach v,$(VARIANTS),$(BUILD)/$(s)-$(v)))
# -nostdlib assembly samples with instruction counts known by construction (test_icount.py).
ASM      := $(basename $(notdir $(wildcard samples/asm/*.S)))
ASM_BINS := $(foreach s,$(ASM),$(BUILD)/asm-$(s)-x86_64 $(BUILD)/asm-$(s)-i386)
# The per-block instruction counter's hook (emulator/icount.py loads it with ctypes).
ICOUNT_SO := emulator/_icount.so

PYTEST_ARGS ?=
BENCH_ARGS  ?=

.PHONY: all setup samples busybox-i386 run test bench typecheck clean distclean
all: samples

# ---------------------------------------------------------------- setup
setup: $(STAMPS)/venv $(STAMPS)/toolchain $(ICOUNT_SO)

$(STAMPS):
	mkdir -p $@

$(ICOUNT_SO): emulator/_icount.c
	$(CC) $(CFLAGS) -shared -fPIC -o $@ $<

$(VENV)/pyvenv.cfg:
	$(PYTHON3) -m venv $(VENV)

$(STAMPS)/venv: pyproject.toml $(VENV)/pyvenv.cfg | $(STAMPS)
	$(PY) -m pip install -q -e '.[test]'
	touch $@

# True when static i386 linking works and musl-gcc is present.
TOOLCHAIN_OK = command -v $(MUSLCC) >/dev/null 2>&1 && \
	echo 'int main(void){return 0;}' | $(CC) -m32 -static -x c - -o $(STAMPS)/m32-check >/dev/null 2>&1

# The tests' oracles besides the kernel: real strace, gdb and valgrind (lackey) to compare with.
ORACLES_OK = command -v strace >/dev/null 2>&1 && command -v gdb >/dev/null 2>&1 && \
	command -v valgrind >/dev/null 2>&1

$(STAMPS)/toolchain: | $(STAMPS)
	@if ! { $(TOOLCHAIN_OK); }; then \
	  echo "setup: installing gcc-multilib musl-tools"; \
	  $(APT_GET) update && $(APT_GET) install -y gcc-multilib musl-tools; \
	  $(TOOLCHAIN_OK) || { echo "setup: gcc -m32 -static or musl-gcc still unusable" >&2; exit 1; }; \
	fi
	@if ! { $(ORACLES_OK); }; then \
	  echo "setup: installing strace gdb valgrind"; \
	  $(APT_GET) update && $(APT_GET) install -y strace gdb valgrind || \
	    echo "setup: warning: strace/gdb/valgrind unavailable: their comparison tests will skip" >&2; \
	fi
	rm -f $(STAMPS)/m32-check
	touch $@

# -------------------------------------------------------------- samples
samples: $(BINS) $(ASM_BINS)

$(BUILD):
	mkdir -p $@

$(BUILD)/%-x86_64: samples/%.c | $(BUILD) $(STAMPS)/toolchain
	$(CC) $(CFLAGS) -static -o $@ $<

$(BUILD)/%-i386: samples/%.c | $(BUILD) $(STAMPS)/toolchain
	$(CC) -m32 $(CFLAGS) -static -o $@ $<

$(BUILD)/%-pie: samples/%.c | $(BUILD) $(STAMPS)/toolchain
	$(CC) $(CFLAGS) -static-pie -o $@ $<

$(BUILD)/%-musl: samples/%.c | $(BUILD) $(STAMPS)/toolchain
	$(MUSLCC) $(CFLAGS) -static -o $@ $<

$(BUILD)/asm-%-x86_64: samples/asm/%.S | $(BUILD) $(STAMPS)/toolchain
	$(CC) -nostdlib -static -o $@ $<

$(BUILD)/asm-%-i386: samples/asm/%.S | $(BUILD) $(STAMPS)/toolchain
	$(CC) -m32 -nostdlib -static -o $@ $<

# Debian's busybox-static for i386, for tests/native/test_busybox.py (the x86-64 one is
# /bin/busybox). The test fixture fetches it by itself too when this was not run, and skips
# the i386 cases with the reason when apt cannot: so a failed fetch only warns here.
BUSYBOX_I386 := $(BUILD)/busybox-i386/bin/busybox
busybox-i386: $(BUSYBOX_I386)

$(BUSYBOX_I386):
	$(PYTHON3) tools/fetch_busybox.py i386 $@ || \
	  echo "busybox-i386: not fetched, the i386 busybox tests will be skipped" >&2

# ------------------------------------------------------- run/test/bench
run: setup samples
	$(VENV)/bin/pyexec --maps $(BUILD)/hello-x86_64

# pytest exits 5 when it collected nothing: that is a failure here too.
test: setup samples busybox-i386
	@rc=0; $(PY) -m pytest -q tests $(PYTEST_ARGS) || rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests" >&2; exit 1; fi; \
	exit $$rc

bench: setup samples
	@if ! command -v qemu-x86_64 >/dev/null 2>&1; then \
	  echo "bench: installing qemu-user"; \
	  $(APT_GET) update && $(APT_GET) install -y qemu-user; \
	fi
	$(PY) bench/bench.py $(BENCH_ARGS)

typecheck: $(STAMPS)/venv
	$(VENV)/bin/mypy $(addprefix -p ,$(PACKAGES))

# ---------------------------------------------------------------- clean
clean:
	rm -rf $(BUILD) $(STAMPS) $(ICOUNT_SO) .pytest_cache .mypy_cache .hypothesis *.egg-info
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
