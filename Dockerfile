# One image for every app (api, worker, scheduler, migrate): docker-compose.yml
# picks the app with `command: ["node", "dist/apps/<app>/main.js"]`.
#
#   docker build -t tasks-app .
#   docker run --rm --network host tasks-app node dist/apps/worker/main.js

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS base
WORKDIR /app
ENV npm_config_update_notifier=false \
    npm_config_fund=false \
    npm_config_audit=false

# Every dependency, exactly as locked; this layer is rebuilt only when the lock changes.
# The library (libs/tasks, the nestjs-tasks workspace) is installed as the apps' dependency.
FROM base AS deps
COPY package.json package-lock.json ./
COPY libs/tasks/package.json libs/tasks/
RUN npm ci

# Compile the library into libs/tasks/dist (tshy: an ESM and a CommonJS build) and all apps into dist/ (rspack
# bundles the apps' own code; packages, nestjs-tasks included, stay in node_modules).
FROM deps AS build
COPY . .
RUN npm run build

# Production dependencies only.
FROM base AS prod-deps
COPY package.json package-lock.json ./
COPY libs/tasks/package.json libs/tasks/
RUN npm ci --omit=dev && npm cache clean --force

FROM base AS runtime
ENV NODE_ENV=production
# package.json carries "type": "module", which the ESM bundles in dist/ need.
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
# node_modules/nestjs-tasks links to the workspace: its manifest and build.
COPY --from=build /app/libs/tasks/package.json ./libs/tasks/package.json
COPY --from=build /app/libs/tasks/dist ./libs/tasks/dist
# The apps only: the build also holds the test fixtures and the bench, which do not ship.
COPY --from=build /app/dist/apps ./dist/apps
# The api's HTTP port, and the health probes of the worker and scheduler (TASKS_HEALTH_PORT in docker-compose.yml).
EXPOSE 3000 8080
USER node
CMD ["node", "dist/apps/api/main.js"]
