# Two commands: `make run` (serve on PORT, default 8000) and `make test` (the whole suite).
# Both create .venv on first use and reinstall only when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Extra pytest arguments, e.g. `make test ARGS="tests/live -x"`.
ARGS   ?=

.PHONY: run test setup system-packages test-packages runtimes

run: setup
	$(PY) scripts/run.py

# pytest exits 5 when it collected no test: that is a failure here, not a pass.
test: setup test-packages
	@$(PY) -m pytest $(ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: no tests ran" >&2; exit 1; fi; \
	exit $$status

setup: $(STAMP) system-packages runtimes

# Debian's python3 needs python3-venv for `-m venv`; install it when we can.
$(PY):
	@$(PYTHON) -c 'import sys; sys.version_info >= (3, 11) or sys.exit("Python 3.11 or newer is required, found " + sys.version)'
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing python3-venv"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; }; \
	  fi; \
	  $(PYTHON) -m venv $(VENV); }

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $@

# The function sandbox (invocations/engine/sandbox/): bubblewrap, slirp4netns (egress), nftables
# (egress rules, libnftables), libseccomp2 (the seccomp filter), e2fsprogs (/tmp file systems),
# util-linux (nsenter), and runsc (gVisor) when LAMBDA_SANDBOX=gvisor. Without them a node refuses
# to run functions and says why.

system-packages:
	@missing=""; \
	command -v bwrap >/dev/null || missing="$$missing bubblewrap"; \
	command -v slirp4netns >/dev/null || missing="$$missing slirp4netns"; \
	command -v nft >/dev/null || [ -x /usr/sbin/nft ] || missing="$$missing nftables"; \
	ldconfig -p 2>/dev/null | grep -q 'libseccomp\.so\.2' || [ -e /usr/lib/x86_64-linux-gnu/libseccomp.so.2 ] || missing="$$missing libseccomp2"; \
	command -v mkfs.ext4 >/dev/null || [ -x /usr/sbin/mkfs.ext4 ] || [ -x /sbin/mkfs.ext4 ] || missing="$$missing e2fsprogs"; \
	command -v nsenter >/dev/null || missing="$$missing util-linux"; \
	if [ "$${LAMBDA_SANDBOX:-}" = gvisor ]; then command -v runsc >/dev/null || missing="$$missing runsc"; fi; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing$$missing"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null \
	      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	      || echo "warning: could not install$$missing; functions will not run until they are installed" >&2; \
	  else \
	    echo "warning: missing$$missing (apt-get install$$missing); functions will not run until they are installed" >&2; \
	  fi; \
	fi

# What only the tests need: Chromium (browser tier), RabbitMQ (its event source), Redis (the
# Redis broker transport), nginx (the scale-out test's TLS proxy) and runsc (the sandbox's attack
# tests run under gVisor too). Installed when
# running as root; otherwise those tests fail and say which package is missing.
test-packages:
	@missing=""; \
	command -v runsc >/dev/null || missing="$$missing runsc"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || command -v rabbitmq-server >/dev/null || missing="$$missing rabbitmq-server"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "Installing$$missing"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; } \
	      || echo "warning: could not install$$missing; the tests that need them will fail" >&2; \
	  else \
	    echo "warning: missing$$missing (apt-get install$$missing); the tests that need them will fail" >&2; \
	  fi; \
	fi

# awslambdaric + boto3 for each Python runtime, into LAMBDA_RUNTIMES_DIR (skips what is installed).
runtimes: $(STAMP)
	@if [ -f scripts/install_runtimes.py ]; then $(PY) scripts/install_runtimes.py; \
	else echo "scripts/install_runtimes.py not present yet; skipping runtime installation"; fi
