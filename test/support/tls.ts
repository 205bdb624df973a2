import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { StopWaiting, waitFor } from './wait-for.js';

// Throwaway TLS infrastructure for test/tls: a private CA and certificates
// made with openssl, a redis-server that speaks only TLS, and a Postgres
// cluster that accepts only SSL connections. Everything lives in temp dirs
// (and, for Postgres, a cluster of its own) that dispose()/drop() remove;
// a run that dies before its afterAll still removes them on process exit,
// and the next run removes what a killed one (SIGKILL) left behind.

const exitCleanups = new Set<() => void>();
process.once('exit', () => {
  for (const cleanup of exitCleanups) {
    try {
      cleanup();
    } catch {
      // Best effort: the process is exiting.
    }
  }
});

/** Runs a command to completion within `timeoutMs`; rejects with its output when it fails. */
export function run(command: string, args: string[], timeoutMs = 30_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { timeout: timeoutMs, killSignal: 'SIGKILL' }, (error, stdout, stderr) => {
      if (error) {
        const missing = (error as NodeJS.ErrnoException).code === 'ENOENT' ? ` (${command} is not installed)` : '';
        reject(new Error(`${command} ${args.join(' ')} failed${missing}: ${error.message}\n${stdout}${stderr}`, { cause: error }));
      } else {
        resolve(stdout);
      }
    });
  });
}

/** A certificate and its key, as files (PEM) and as text. */
export interface IssuedCertificate {
  /** The certificate followed by the CA's: what a server presents. */
  readonly chainFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: string;
  readonly key: string;
}

const OPENSSL_CONFIG = `[req]
distinguished_name = dn
prompt = no
[dn]
CN = placeholder
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
`;

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

// Temp dirs and clusters carry the pid of the test process that made them, so a
// later run can remove those of a run that was killed before its cleanup ran.
const TEMP_PREFIX = 'nestjs-tasks-tls-';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes what killed runs left: their redis-servers, then their temp dirs. */
async function removeStaleTempDirs(): Promise<void> {
  const stale = (path: string) => {
    const pid = new RegExp(`^${join(tmpdir(), TEMP_PREFIX)}(\\d+)-`).exec(path)?.[1];
    return pid !== undefined && !processAlive(Number(pid));
  };
  // redis-server rewrites its command line, but runs in its --dir.
  for (const pid of readdirSync('/proc').filter((entry) => /^\d+$/.test(entry))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server' && stale(readlinkSync(`/proc/${pid}/cwd`))) {
        process.kill(Number(pid), 'SIGKILL');
      }
    } catch {
      // Gone meanwhile, or not ours to look at.
    }
  }
  for (const entry of readdirSync(tmpdir())) {
    const pid = new RegExp(`^${TEMP_PREFIX}(\\d+)-`).exec(entry)?.[1];
    if (pid !== undefined && !processAlive(Number(pid))) await rm(join(tmpdir(), entry), { recursive: true, force: true });
  }
}

/** A private CA in a temp dir of its own, which issues server and client certificates. */
export class TestPki {
  private constructor(
    readonly dir: string,
    /** PEM file of the CA certificate (what REDIS_TLS_CA_FILE and sslrootcert point at). */
    readonly caFile: string,
    /** The CA certificate, PEM. */
    readonly ca: string,
    private readonly removeOnExit: () => void,
  ) {}

  static async create(label: string): Promise<TestPki> {
    await removeStaleTempDirs();
    const dir = await mkdtemp(join(tmpdir(), `${TEMP_PREFIX}${process.pid}-${label}-`));
    const removeDir = () => execFileSync('rm', ['-rf', dir]);
    exitCleanups.add(removeDir);
    try {
      await writeFile(join(dir, 'openssl.cnf'), OPENSSL_CONFIG);
      const caFile = join(dir, 'ca.pem');
      await run('openssl', [
        'req', '-x509', '-new', ...EC_KEY, '-keyout', join(dir, 'ca.key'), '-out', caFile, '-days', '2',
        '-subj', `/CN=nestjs-tasks test CA ${randomBytes(4).toString('hex')}`,
        '-config', join(dir, 'openssl.cnf'), '-extensions', 'ca',
      ]);
      return new TestPki(dir, caFile, await readFile(caFile, 'utf8'), removeDir);
    } catch (error) {
      exitCleanups.delete(removeDir);
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /**
   * Issues a certificate signed by the CA. `altNames` are subjectAltName
   * entries such as `IP:127.0.0.1` or `DNS:localhost`; `usage` is its extendedKeyUsage.
   */
  async issue(name: string, altNames: string[], usage: 'serverAuth' | 'clientAuth' = 'serverAuth'): Promise<IssuedCertificate> {
    const file = (ext: string) => join(this.dir, `${name}.${ext}`);
    const extensions = [
      `[${name}]`,
      'basicConstraints = critical, CA:FALSE',
      'keyUsage = critical, digitalSignature, keyEncipherment',
      `extendedKeyUsage = ${usage}`,
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid, issuer',
      ...(altNames.length > 0 ? [`subjectAltName = ${altNames.join(', ')}`] : []),
      '',
    ].join('\n');
    await writeFile(file('ext'), extensions);
    await run('openssl', [
      'req', '-new', ...EC_KEY, '-keyout', file('key'), '-out', file('csr'),
      '-subj', `/CN=${name}`, '-config', join(this.dir, 'openssl.cnf'),
    ]);
    await run('openssl', [
      'x509', '-req', '-in', file('csr'), '-CA', this.caFile, '-CAkey', join(this.dir, 'ca.key'),
      '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-days', '2',
      '-extfile', file('ext'), '-extensions', name, '-out', file('crt'),
    ]);
    const [cert, key] = await Promise.all([readFile(file('crt'), 'utf8'), readFile(file('key'), 'utf8')]);
    await writeFile(file('chain.pem'), cert + this.ca);
    return { chainFile: file('chain.pem'), certFile: file('crt'), keyFile: file('key'), cert, key };
  }

  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
    exitCleanups.delete(this.removeOnExit);
  }
}

/** A redis-server of the test's own that listens only on a TLS port (plain port 0: none). */
export class TlsRedisServer {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly output: string[],
    private readonly exited: Promise<void>,
    private readonly kill: () => void,
  ) {}

  /** `rediss://127.0.0.1:<port>` */
  get url(): string {
    return `rediss://127.0.0.1:${this.port}`;
  }

  /**
   * Starts it with `certificate` (its chain) and waits until it accepts
   * connections. `authClients: 'yes'` asks every client for a certificate signed by the CA (mTLS).
   */
  static async start(pki: TestPki, certificate: IssuedCertificate, authClients: 'no' | 'yes' = 'no'): Promise<TlsRedisServer> {
    const port = await freePort();
    const child = spawn(
      'redis-server',
      [
        '--port', '0',
        '--tls-port', String(port),
        '--tls-cert-file', certificate.chainFile,
        '--tls-key-file', certificate.keyFile,
        '--tls-ca-cert-file', pki.caFile,
        '--tls-auth-clients', authClients,
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
        '--dir', pki.dir,
      ],
      { cwd: pki.dir, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    exitCleanups.add(kill);
    const output: string[] = [];
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    let spawnError: Error | undefined;
    const exited = new Promise<void>((resolve) => {
      child.once('error', (error) => {
        spawnError = error;
        resolve();
      });
      child.once('exit', () => resolve());
    });
    void exited.then(() => exitCleanups.delete(kill));
    const server = new TlsRedisServer(port, child, output, exited, kill);
    try {
      await waitFor(
        () => {
          if (spawnError) throw new StopWaiting(`redis-server could not start (is it installed, built with TLS?): ${spawnError.message}`);
          if (child.exitCode !== null) throw new StopWaiting(`redis-server exited (code ${child.exitCode}):\n${output.join('')}`);
          return output.join('').includes('Ready to accept connections');
        },
        { timeoutMs: 15_000, what: `redis-server on TLS port ${port}` },
      );
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** Its log so far, for failure messages. */
  log(): string {
    return this.output.join('');
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(this.kill, 5_000);
      await this.exited;
      clearTimeout(timer);
    }
    await this.exited;
  }
}

/** The newest PostgreSQL major version installed (as in /etc/postgresql/<version>). */
function postgresVersion(): string {
  const versions = existsSync('/etc/postgresql')
    ? readdirSync('/etc/postgresql').filter((entry) => /^\d+$/.test(entry) && existsSync(`/usr/lib/postgresql/${entry}/bin/postgres`))
    : [];
  const newest = versions.sort((a, b) => Number(b) - Number(a))[0];
  if (!newest) throw new Error('No PostgreSQL server found in /etc/postgresql (the postgresql-NN and postgresql-common packages are needed)');
  return newest;
}

const CLUSTER_PREFIX = 'tasks_tls_';

/** Drops clusters this helper made in runs that died without cleaning up (their process is gone). */
async function dropStaleClusters(version: string): Promise<void> {
  for (const name of readdirSync(`/etc/postgresql/${version}`)) {
    const pid = new RegExp(`^${CLUSTER_PREFIX}(\\d+)_[0-9a-f]+$`).exec(name)?.[1];
    if (pid === undefined || processAlive(Number(pid))) continue;
    await run('pg_dropcluster', ['--stop', version, name], 30_000).catch(() => undefined);
    // pg_dropcluster leaves the files it did not create (conf.d/tasks-tls-test.conf).
    await rm(`/etc/postgresql/${version}/${name}`, { recursive: true, force: true });
    await rm(`/var/lib/postgresql/${version}/${name}`, { recursive: true, force: true });
  }
}

/**
 * A PostgreSQL cluster of the test's own (pg_createcluster) on 127.0.0.1,
 * with `certificate` as its server certificate and a pg_hba.conf that
 * trusts SSL connections from 127.0.0.1 (or, with `password`, asks the
 * postgres user for it) and rejects every other TCP one.
 */
export class TlsPostgresCluster {
  private constructor(
    readonly version: string,
    readonly name: string,
    readonly port: number,
    private readonly pki: TestPki,
    private readonly dropOnExit: () => void,
  ) {}

  static async create(pki: TestPki, certificate: IssuedCertificate, { password }: { password?: string } = {}): Promise<TlsPostgresCluster> {
    if (process.getuid?.() !== 0) throw new Error('TlsPostgresCluster needs root (pg_createcluster, files owned by postgres)');
    const version = postgresVersion();
    await dropStaleClusters(version);
    const name = `${CLUSTER_PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`;
    const port = await freePort();
    const dataDir = `/var/lib/postgresql/${version}/${name}`;
    const configDir = `/etc/postgresql/${version}/${name}`;
    const dropOnExit = () => {
      try {
        execFileSync('pg_dropcluster', ['--stop', version, name], { stdio: 'ignore', timeout: 30_000 });
      } finally {
        execFileSync('rm', ['-rf', dataDir, configDir]);
      }
    };
    exitCleanups.add(dropOnExit);
    const cluster = new TlsPostgresCluster(version, name, port, pki, dropOnExit);
    try {
      await run(
        'pg_createcluster',
        [version, name, '-p', String(port), '--start-conf', 'manual', '-q', '--', '--auth-local=trust', '--auth-host=reject', '--no-sync'],
        60_000,
      );
      const pgUser = await postgresIds();
      // The certificate goes in the data directory, which pg_dropcluster removes with everything in it.
      const owned: Array<[string, string, number]> = [
        [`${dataDir}/server-chain.crt`, certificate.cert + pki.ca, 0o644],
        [`${dataDir}/server.key`, certificate.key, 0o600],
        [
          `${configDir}/conf.d/tasks-tls-test.conf`,
          [
            "listen_addresses = '127.0.0.1'",
            'ssl = on',
            `ssl_cert_file = '${dataDir}/server-chain.crt'`,
            `ssl_key_file = '${dataDir}/server.key'`,
            // A throwaway cluster: durability only costs time.
            'fsync = off',
            'synchronous_commit = off',
            'full_page_writes = off',
            '',
          ].join('\n'),
          0o644,
        ],
        [
          `${configDir}/pg_hba.conf`,
          ['local all all trust', `hostssl all all 127.0.0.1/32 ${password ? 'scram-sha-256' : 'trust'}`, 'hostnossl all all 127.0.0.1/32 reject', ''].join('\n'),
          0o640,
        ],
      ];
      for (const [file, content, mode] of owned) {
        await writeFile(file, content, { mode });
        await chmod(file, mode);
        await chown(file, pgUser.uid, pgUser.gid);
      }
      await run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'start'], 60_000);
      if (password) {
        // Over the local socket, which stays trusted.
        const local = new pg.Client({ host: '/var/run/postgresql', port, user: 'postgres', database: 'postgres' });
        await local.connect();
        try {
          await local.query(`ALTER USER postgres PASSWORD ${local.escapeLiteral(password)}`);
        } finally {
          await local.end();
        }
      }
    } catch (error) {
      await cluster.drop().catch(() => undefined);
      throw error;
    }
    return cluster;
  }

  /**
   * `postgres://postgres@<host>:<port>/<database>?<params>`, e.g.
   * `{ sslmode: 'verify-full', sslrootcert: pki.caFile }`.
   */
  url(database: string, params: Record<string, string> = {}, host = '127.0.0.1'): string {
    const url = new URL(`postgres://postgres@${host}:${this.port}/${database}`);
    for (const [key, value] of Object.entries(params)) url.searchParams.set(key, value);
    return url.toString();
  }

  /** Runs `sql` in `database` over a verified TLS connection. */
  async query<T extends pg.QueryResultRow>(database: string, sql: string, params: unknown[] = []): Promise<T[]> {
    const client = new pg.Client({
      host: '127.0.0.1',
      port: this.port,
      user: 'postgres',
      database,
      ssl: { ca: this.pki.ca },
      connectionTimeoutMillis: 5_000,
    });
    await client.connect();
    try {
      return (await client.query<T>(sql, params)).rows;
    } finally {
      await client.end();
    }
  }

  /** Stops the cluster and removes its data and configuration. */
  async drop(): Promise<void> {
    try {
      if (existsSync(`/etc/postgresql/${this.version}/${this.name}`)) {
        await run('pg_dropcluster', ['--stop', this.version, this.name], 30_000);
      }
    } finally {
      await rm(`/var/lib/postgresql/${this.version}/${this.name}`, { recursive: true, force: true });
      await rm(`/etc/postgresql/${this.version}/${this.name}`, { recursive: true, force: true });
      exitCleanups.delete(this.dropOnExit);
    }
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]);
  return { uid: Number(uid.trim()), gid: Number(gid.trim()) };
}
