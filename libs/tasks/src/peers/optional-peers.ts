import { TasksConfigurationError } from '../errors/tasks.errors.js';
import { peerMissing } from '../errors/tasks.messages.js';
import { loadNestjsPino, loadTypeorm, requireFromHere } from './peer-loader.js';

/**
 * Features that need an optional peer dependency, the packages each needs and
 * how to install them. The library imports these packages only when the
 * feature is used, so an app without them still loads and boots.
 */
const FEATURES = {
  logContext: {
    feature: 'Running tasks and cron jobs (every log line of a run carries its task, jobId and attempt)',
    packages: ['nestjs-pino'],
    install: 'npm install nestjs-pino pino pino-http',
  },
  tracking: {
    feature: 'Cron run tracking (every run of a @Cron() job is a row of cron_job_runs)',
    packages: ['typeorm', '@nestjs/typeorm', 'pg'],
    install: 'npm install typeorm @nestjs/typeorm pg',
  },
  metrics: {
    feature: 'Prometheus metrics (metrics: true)',
    packages: ['prom-client'],
    install: 'npm install prom-client',
  },
} as const;

export type PeerFeature = keyof typeof FEATURES;

/** Throws a message naming the package, the feature and the install command when one of the feature's packages is missing. */
export function assertPeersInstalled(feature: PeerFeature): void {
  const { packages, install } = FEATURES[feature];
  for (const pkg of packages) {
    if (!isInstalled(pkg)) throw new TasksConfigurationError(peerMissing(pkg, FEATURES[feature].feature, install));
  }
}

function isInstalled(pkg: string): boolean {
  try {
    requireFromHere.resolve(`${pkg}/package.json`);
    return true;
  } catch {
    try {
      // A package whose exports map hides package.json.
      requireFromHere.resolve(pkg);
      return true;
    } catch {
      return false;
    }
  }
}

export async function importNestjsPino(): Promise<typeof import('nestjs-pino')> {
  assertPeersInstalled('logContext');
  return loadNestjsPino();
}

export async function importTypeorm(): Promise<typeof import('typeorm')> {
  assertPeersInstalled('tracking');
  return loadTypeorm();
}

/** nestjs-pino when it is installed, else undefined (for processes that only use it when present). */
export async function importNestjsPinoIfInstalled(): Promise<typeof import('nestjs-pino') | undefined> {
  return isInstalled('nestjs-pino') ? loadNestjsPino() : undefined;
}

/**
 * prom-client, loaded synchronously (it is CommonJS) when metrics are wanted:
 * `true` requires it, undefined (the default) uses it when installed, `false` never.
 */
export function loadPromClient(wanted: boolean | undefined): typeof import('prom-client') | undefined {
  if (wanted === false) return undefined;
  if (wanted === undefined && !isInstalled('prom-client')) return undefined;
  assertPeersInstalled('metrics');
  return requireFromHere('prom-client') as typeof import('prom-client');
}
