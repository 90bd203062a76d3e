# herd's task runner. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Which machine settings to use: sandbox (the project's test machines, the
# default) or workstation (Podman with public images). See README.
HERD_ENV ?= sandbox
include tools/env/$(HERD_ENV).mk

VENV := $(CURDIR)/.venv
# /usr/sbin: netavark needs iptables on PATH when Molecule creates containers.
export PATH := $(VENV)/bin:$(PATH):/usr/sbin:/sbin
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
# Longest first, so running them side by side finishes sooner; any other scenario follows.
SCENARIO_ORDER := production all-in-one upgrade backup data-tier web
SCENARIOS ?= $(SCENARIO_ORDER) $(filter-out $(SCENARIO_ORDER),$(notdir $(patsubst %/molecule.yml,%,$(wildcard molecule/*/molecule.yml))))
SCENARIO ?=

.PHONY: help setup images site test lint unit preflight integration molecule bench clean-local

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: ## install system packages, the pinned toolchain (.venv), collections and test images
	tools/setup.sh $(if $(filter yes,$(HERD_BUILD_IMAGES)),,--no-images)

images: ## build (or reuse) the systemd test images
	tools/build-test-image.sh trixie
	tools/build-test-image.sh bookworm

site: setup ## provision the local example instance (a systemd container) with playbooks/site.yml
	tools/local-target.sh up
	ansible-playbook -i inventories/local/hosts.yml playbooks/site.yml

clean-local: ## remove the local example container
	tools/local-target.sh down

# The Molecule scenarios are the long pole and mostly wait on their containers, so they
# start first and the quick checks run beside them; the result is every part's.
test: setup ## everything CI runs: Molecule, and beside it lint, unit, role input checks, integration
	@mkdir -p .cache/molecule
	@echo "Molecule scenarios started in the background (.cache/molecule/all.log)"
	@tools/run-scenarios.sh $(SCENARIOS) > .cache/molecule/all.log 2>&1 & scenarios=$$!; \
	status=0; $(MAKE) --no-print-directory lint unit preflight integration || status=$$?; \
	wait $$scenarios || status=1; cat .cache/molecule/all.log; exit $$status

lint: ## yamllint, ansible-lint (production profile), ruff, mypy
	yamllint --strict .
	ansible-lint --profile production
	ruff check .
	mypy scripts/herd

unit: ## Python unit tests
	pytest -q tests/unit

preflight: ## every role refuses bad input before any change (ansible-playbook --check on localhost)
	pytest -q tests/roles

integration: ## Python tests against real servers on loopback
	pytest -q tests/integration

molecule: ## every Molecule scenario (HERD_MOLECULE_JOBS at once), or one: make molecule SCENARIO=data-tier
	tools/run-scenarios.sh $(or $(SCENARIO),$(SCENARIOS))

bench: ## benchmarks (not tests): speed and memory against their targets
	for bench in scripts/bench_*.py; do python3 "$$bench"; done
