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
FROM base AS deps
COPY package.json package-lock.json ./
RUN npm ci

# Compile all apps into dist/ (rspack bundles our code; packages stay in node_modules).
FROM deps AS build
COPY . .
RUN npm run build

# Production dependencies only.
FROM base AS prod-deps
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM base AS runtime
ENV NODE_ENV=production
# package.json carries "type": "module", which the ESM bundles in dist/ need.
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
CMD ["node", "dist/apps/api/main.js"]
