# The README's two commands:
#   make dev    install, check Redis + Postgres, build, create the database, migrate,
#               then run api + worker + scheduler together (Ctrl-C stops all three)
#   make test   install, check Redis + Postgres, create the test database, run the suite
#
# Environment (all optional): REDIS_URL, DATABASE_URL (make dev defaults to the
# `tasks` database, make test to `tasks_test`), and anything in docs/configuration.md's
# configuration table. `make test ARGS=test/infra` passes ARGS on to Vitest.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# Node ^22.13 || >=24.11 (the Docker image runs 24). With an older node on PATH,
# scripts/ensure-node.sh installs Node 24 from the npm registry into .tools/node.
ifneq ($(MAKECMDGOALS),help)
ifneq ($(MAKECMDGOALS),)
NODE_BIN_DIR := $(shell bash scripts/ensure-node.sh)
ifneq ($(NODE_BIN_DIR),)
export PATH := $(NODE_BIN_DIR):$(PATH)
endif
endif
endif

DEV_DATABASE_URL  := postgres://postgres@127.0.0.1:5432/tasks
TEST_DATABASE_URL := postgres://postgres@127.0.0.1:5432/tasks_test
APPS              := api worker scheduler

# npm ci writes node_modules/.package-lock.json: when it is missing or older than
# package-lock.json, the installed packages are not the locked ones.
NODE_MODULES := node_modules/.package-lock.json

.PHONY: help install dev test services build

help:
	@echo 'make dev       install, check services, build, create + migrate the database, run $(APPS)'
	@echo 'make test      install, check services, create the test database, run the test suite'
	@echo 'make services  start Redis and Postgres with Docker (docker compose up -d redis postgres)'
	@echo 'make install   npm ci, when node_modules is missing or older than package-lock.json'

install: $(NODE_MODULES)

$(NODE_MODULES): package-lock.json
	npm ci
	@touch $@

# The api needs API_AUTH_SECRET: scripts/dev-env.mjs writes a random one into the
# git-ignored .env.dev once, and the apps read it from there (a variable set in
# the environment wins). Mint tokens with `node scripts/mint-token.mjs <userId>`.
dev: export DATABASE_URL ?= $(DEV_DATABASE_URL)
dev: install
	@node scripts/check-services.mjs
	@node scripts/dev-env.mjs
	npm run build
	npm run db:migrate
	@node --env-file-if-exists=.env.dev scripts/run-apps.mjs $(APPS)

test: export DATABASE_URL ?= $(TEST_DATABASE_URL)
test: install
	@node scripts/check-services.mjs
	npm test $(if $(ARGS),-- $(ARGS))

services:
	docker compose up -d redis postgres

build: install
	npm run build
