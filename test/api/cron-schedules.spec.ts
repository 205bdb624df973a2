import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CronScenario, schedulerReady } from '../support/cron.js';
import { ENTRY, apiReady, type AppProcess } from '../support/processes.js';
import { freePort } from '../support/ports.js';
import { AUTH_ENV, authHeaders, operatorHeaders } from '../support/auth.js';

// Once a year: no tick of the example cron falls while the test runs, so its
// row, last tick and next ticks are exact. The api and the scheduler read the
// same variable, as every process of a deployment runs the same code.
const CLEANUP_CRON = '0 0 1 1 *';
const CRON_ENV = { EXAMPLE_CLEANUP_CRON: CLEANUP_CRON };

const OPERATOR = 'ops-carol';
const operator = operatorHeaders(OPERATOR);

/** A cron as GET /cron answers it: CronJobInfo, dates as ISO strings. */
interface CronJson {
  name: string;
  expression: string;
  timeZone: string;
  catchUp: string;
  overlap: string;
  source: string | null;
  internal: boolean;
  paused: { reason: string | null; by: string | null; since: string | null } | null;
  removedAt: string | null;
  lastTick: string | null;
  nextTicks: string[];
  lastRun: unknown;
  declared?: { lockTtlMs: number; attempts: number; track: boolean };
}

interface ScheduleRow {
  name: string;
  expression: string;
  paused: boolean;
  paused_reason: string | null;
  paused_by: string | null;
  paused_at: Date | null;
  removed_at: Date | null;
  last_tick_at: Date | null;
}

const HOUR = 3_600_000;

const BIDI_REFUSED =
  'Field "reason" must not contain bidirectional-text controls (U+061C, U+200E, U+200F, U+202A-U+202E, U+2066-U+2069): ' +
  'they make text display in another order than it is stored.';

/** The next `count` 1 January midnights (UTC) after `at`: the example cron's ticks under CLEANUP_CRON. */
const newYearsAfter = (at: number, count: number) => {
  const year = new Date(at).getUTCFullYear();
  return Array.from({ length: count }, (_, i) => new Date(Date.UTC(year + 1 + i, 0, 1)).toISOString());
};

/** The next `count` multiples of `stepMs` after `at`, shifted by `offsetMs` (an hourly "17 * * * *" is 1 h steps + 17 min). */
const gridAfter = (at: number, count: number, stepMs: number, offsetMs = 0) =>
  Array.from({ length: count }, (_, i) => new Date((Math.floor((at - offsetMs) / stepMs) + 1 + i) * stepMs + offsetMs).toISOString());

/** The example cron as the api describes it from its code, unpaused, never run. */
const cleanupInfo = (nextTicks: string[], paused: CronJson['paused'] = null): CronJson => ({
  name: 'cleanupExpiredData',
  expression: CLEANUP_CRON,
  timeZone: 'UTC',
  catchUp: 'skip',
  overlap: 'skip',
  source: 'MaintenanceJobs.cleanupExpiredData',
  internal: false,
  paused,
  removedAt: null,
  lastTick: null,
  nextTicks,
  lastRun: null,
  declared: { lockTtlMs: 120_000, attempts: 1, track: true },
});

// End to end: the built apps/api (and apps/scheduler) as child processes on
// their own TASKS_PREFIX and Postgres schema, the cron routes called over HTTP.
describe('apps/api cron schedules (GET /cron, pause, resume)', () => {
  let scenario: CronScenario;
  let api: AppProcess;
  let base: string;

  const call = (path: string, init: RequestInit = {}) => fetch(`${base}${path}`, init);
  const get = (path: string, headers: Record<string, string> = operator) => call(path, { headers });
  /** POST with `body` sent as JSON (none when undefined). */
  const post = (path: string, body?: unknown, headers: Record<string, string> = operator) =>
    call(path, {
      method: 'POST',
      headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  const postRaw = (path: string, body: string, contentType: string) =>
    call(path, { method: 'POST', headers: { ...operator, 'content-type': contentType }, body });
  const json = async <T>(response: Response) => (await response.json()) as T;
  const message = async (response: Response) => (await json<{ message: string }>(response)).message;
  const schedules = async (): Promise<ScheduleRow[]> =>
    (await scenario.schema.dataSource.query(
      `SELECT name, expression, paused, paused_reason, paused_by, paused_at, removed_at, last_tick_at
         FROM cron_schedules WHERE namespace = $1 ORDER BY name`,
      [scenario.prefix],
    )) as ScheduleRow[];
  const cleanupRow = async () => (await schedules()).find((row) => row.name === 'cleanupExpiredData');

  beforeAll(async () => {
    scenario = await CronScenario.create('api_cron');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    api = scenario.spawn('api', ENTRY.api, { PORT: String(port), ...AUTH_ENV, ...CRON_ENV });
    await api.waitForLog(apiReady, 'ready', 60_000);
  });

  afterAll(async () => {
    await scenario?.dispose();
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => console.error(`Processes of ${scenario.prefix}:\n${scenario.tails()}`));
  });

  it('before any scheduler booted, lists the example cron from the code; pausing it is a 409 (there is no schedule row yet)', async () => {
    const before = Date.now();
    const listed = await get('/cron');
    expect(listed.status).toBe(200);
    expect(await json<CronJson[]>(listed)).toEqual([cleanupInfo(newYearsAfter(before, 5))]);

    const pause = await post('/cron/cleanupExpiredData/pause', { reason: 'too early' });
    expect(pause.status).toBe(409);
    expect(await message(pause)).toBe(
      'Cron job "cleanupExpiredData" has no schedule row yet, so it cannot be paused: a scheduler creates it when it boots. Start the scheduler once, then try again.',
    );
    const resume = await post('/cron/cleanupExpiredData/resume');
    expect(resume.status).toBe(409);
    expect(await message(resume)).toBe(
      'Cron job "cleanupExpiredData" has no schedule row yet, so it cannot be resumed: a scheduler creates it when it boots. Start the scheduler once, then try again.',
    );
    expect(await schedules()).toEqual([]);
  });

  describe('with the example scheduler booted', () => {
    beforeAll(async () => {
      const scheduler = scenario.spawn('scheduler', ENTRY.scheduler, CRON_ENV);
      await scheduler.waitForLog(schedulerReady, 'scheduling', 60_000);
    });

    // A test that fails half-way must not leave the cron paused for the ones after it.
    afterEach(async () => {
      await post('/cron/cleanupExpiredData/resume');
    });

    it('the scheduler reconciled one row per cron of the example code', async () => {
      expect((await schedules()).map((row) => [row.name, row.expression, row.paused, row.removed_at, row.paused_by])).toEqual([
        ['cleanupExpiredData', CLEANUP_CRON, false, null, null],
        ['tasks.pruneCronRuns', '17 * * * *', false, null, null],
        ['tasks.sweepLostRuns', '*/5 * * * * *', false, null, null],
      ]);
      expect((await cleanupRow())?.last_tick_at).toBeNull();
    });

    it('lists the crons with their next ticks; the library’s own with ?internal=true; ?ticks= previews 1 to 50', async () => {
      const before = Date.now();
      const listed = await get('/cron');
      expect(listed.status).toBe(200);
      expect(await json<CronJson[]>(listed)).toEqual([cleanupInfo(newYearsAfter(before, 5))]);
      // No cron of this namespace was removed from the code.
      expect(await json<CronJson[]>(await get('/cron?removed=true&internal=false'))).toEqual([cleanupInfo(newYearsAfter(before, 5))]);

      const two = await get('/cron?ticks=2');
      expect(await json<CronJson[]>(two)).toEqual([cleanupInfo(newYearsAfter(before, 2))]);
      const fifty = await json<CronJson[]>(await get('/cron?ticks=50'));
      expect(fifty[0]?.nextTicks).toEqual(newYearsAfter(before, 50));

      const from = Date.now();
      const all = await json<CronJson[]>(await get('/cron?internal=true&ticks=3'));
      const to = Date.now();
      expect(all.map((cron) => cron.name)).toEqual(['cleanupExpiredData', 'tasks.pruneCronRuns', 'tasks.sweepLostRuns']);
      expect(all[0]).toEqual(cleanupInfo(newYearsAfter(from, 3)));
      const [, prune, sweep] = all as [CronJson, CronJson, CronJson];
      // Previews depend on the moment the api answered, somewhere between `from` and `to`.
      expect([gridAfter(from, 3, HOUR, 17 * 60_000), gridAfter(to, 3, HOUR, 17 * 60_000)]).toContainEqual(prune.nextTicks);
      expect([gridAfter(from, 3, 5_000), gridAfter(to, 3, 5_000)]).toContainEqual(sweep.nextTicks);
      expect({ ...prune, nextTicks: [], lastTick: null }).toEqual({
        name: 'tasks.pruneCronRuns',
        expression: '17 * * * *',
        timeZone: 'UTC',
        catchUp: 'skip',
        overlap: 'skip',
        source: 'CronMaintenance.pruneCronRuns',
        internal: true,
        paused: null,
        removedAt: null,
        lastTick: null,
        nextTicks: [],
        lastRun: null,
        declared: { lockTtlMs: 300_000, attempts: 1, track: true },
      });
      expect({ ...sweep, nextTicks: [], lastTick: null }).toEqual({
        name: 'tasks.sweepLostRuns',
        expression: '*/5 * * * * *',
        timeZone: 'UTC',
        catchUp: 'skip',
        overlap: 'skip',
        source: 'CronMaintenance.sweepLostRuns',
        internal: true,
        paused: null,
        removedAt: null,
        lastTick: null,
        nextTicks: [],
        lastRun: null,
        declared: { lockTtlMs: 5_000, attempts: 1, track: false },
      });
      // The scheduler fires the sweep every 5 s (no worker runs it here): its last tick, if any yet, is one of those.
      const sweepRow = (await schedules()).find((row) => row.name === 'tasks.sweepLostRuns');
      const sweepTick = sweep.lastTick === null ? null : Date.parse(sweep.lastTick);
      expect(sweepTick === null || sweepTick % 5_000 === 0, String(sweep.lastTick)).toBe(true);
      expect(sweepTick === null || sweepTick <= (sweepRow?.last_tick_at?.getTime() ?? -1), String(sweep.lastTick)).toBe(true);
    });

    it('answers one cron by name (internal ones too), 404 naming the known ones', async () => {
      const before = Date.now();
      const one = await get('/cron/cleanupExpiredData');
      expect(one.status).toBe(200);
      expect(await json<CronJson>(one)).toEqual(cleanupInfo(newYearsAfter(before, 5)));
      expect(await json<CronJson>(await get('/cron/cleanupExpiredData?ticks=1'))).toEqual(cleanupInfo(newYearsAfter(before, 1)));

      const internal = await get('/cron/tasks.pruneCronRuns');
      expect(internal.status).toBe(200);
      expect(await json<CronJson>(internal)).toMatchObject({ name: 'tasks.pruneCronRuns', internal: true, paused: null });

      const unknown = await get('/cron/noSuchJob');
      expect(unknown.status).toBe(404);
      expect(await message(unknown)).toBe(
        'Unknown cron job "noSuchJob". Known cron jobs: cleanupExpiredData, tasks.pruneCronRuns, tasks.sweepLostRuns.',
      );
    });

    it('pauses with a reason, noting the operator: the row says paused, the list shows it; resume clears it', async () => {
      const before = Date.now();
      const paused = await post('/cron/cleanupExpiredData/pause', { reason: 'migrating the records table' });
      expect(paused.status).toBe(200);
      const row = await cleanupRow();
      expect(row).toMatchObject({
        paused: true,
        paused_reason: 'migrating the records table',
        paused_by: OPERATOR,
        paused_at: expect.any(Date),
        removed_at: null,
      });
      const pausedAt = (row?.paused_at ?? null) as Date;
      const since = pausedAt.toISOString();
      // The database's clock, the test's: the same machine.
      expect(pausedAt.getTime()).toBeGreaterThanOrEqual(before - 1_000);
      expect(pausedAt.getTime()).toBeLessThanOrEqual(Date.now() + 1_000);
      const expectedPause = { reason: 'migrating the records table', by: OPERATOR, since };
      expect(await json<CronJson>(paused)).toEqual(cleanupInfo(newYearsAfter(before, 5), expectedPause));
      expect(await json<CronJson[]>(await get('/cron'))).toEqual([cleanupInfo(newYearsAfter(before, 5), expectedPause)]);
      expect(await json<CronJson>(await get('/cron/cleanupExpiredData?ticks=1'))).toEqual(
        cleanupInfo(newYearsAfter(before, 1), expectedPause),
      );

      // Paused again by someone else, without a body: the note is replaced, the time it is paused since is kept.
      const again = await post('/cron/cleanupExpiredData/pause', undefined, operatorHeaders('ops-dave'));
      expect(again.status).toBe(200);
      expect((await json<CronJson>(again)).paused).toEqual({ reason: null, by: 'ops-dave', since });
      expect(await cleanupRow()).toMatchObject({ paused: true, paused_reason: null, paused_by: 'ops-dave', paused_at: new Date(since) });

      // A paused cron can still be triggered by hand.
      const trigger = await post('/cron/cleanupExpiredData/trigger');
      expect(trigger.status).toBe(202);
      expect((await json<{ jobId: string }>(trigger)).jobId).toMatch(/^cleanupExpiredData@manual-[0-9a-f-]{36}$/);

      const resumed = await post('/cron/cleanupExpiredData/resume');
      expect(resumed.status).toBe(200);
      expect(await json<CronJson>(resumed)).toEqual(cleanupInfo(newYearsAfter(before, 5)));
      expect(await cleanupRow()).toMatchObject({ paused: false, paused_reason: null, paused_by: null, paused_at: null });
      expect(await json<CronJson[]>(await get('/cron'))).toEqual([cleanupInfo(newYearsAfter(before, 5))]);
      // Resuming a cron that is not paused is fine, and changes nothing.
      const twice = await post('/cron/cleanupExpiredData/resume');
      expect(twice.status).toBe(200);
      expect((await json<CronJson>(twice)).paused).toBeNull();
    });

    it('keeps a reason of exactly 500 characters (code points) with line breaks and emoji as given', async () => {
      const head = 'line one\nline two\t';
      const reason = `${head}${'🛠'.repeat(100)}${'x'.repeat(500 - head.length - 100)}`;
      // 500 code points, 600 UTF-16 units: the limit counts what a person sees as characters.
      expect(reason.length).toBe(600);
      const paused = await post('/cron/cleanupExpiredData/pause', { reason });
      expect(paused.status).toBe(200);
      expect((await json<CronJson>(paused)).paused?.reason).toBe(reason);
      expect((await cleanupRow())?.paused_reason).toBe(reason);
      expect((await post('/cron/cleanupExpiredData/resume')).status).toBe(200);
    });

    it('keeps a reason that is HTML as text, answers it as JSON data (markup characters escaped), and logs the pause with the reason escaped', async () => {
      const reason = '<img src=x onerror="alert(1)"> & more\nsecond line';
      const paused = await post('/cron/cleanupExpiredData/pause', { reason });
      expect(paused.status).toBe(200);
      expect(paused.headers.get('content-type')).toMatch(/^application\/json/);
      expect(paused.headers.get('x-content-type-options')).toBe('nosniff');
      const text = await paused.text();
      // As JSON data, never as markup: no "<", ">" or "&" a browser could take for HTML if it sniffed the answer.
      expect(text).not.toMatch(/[<>&]/);
      expect(text).toContain('\\u003cimg src=x onerror=\\"alert(1)\\"\\u003e \\u0026 more\\nsecond line');
      expect((JSON.parse(text) as CronJson).paused?.reason).toBe(reason);
      expect((await cleanupRow())?.paused_reason).toBe(reason);
      expect((await json<CronJson>(await get('/cron/cleanupExpiredData'))).paused?.reason).toBe(reason);
      // The api notes who paused what, with the reason on one line: its line break escaped.
      const line = await api.waitForLog((l) => typeof l.msg === 'string' && l.msg.includes('paused by') && l.msg.includes('onerror'), 'the pause log line');
      expect(line.msg).toBe(`Cron job "cleanupExpiredData" paused by ${OPERATOR}: <img src=x onerror="alert(1)"> & more\\nsecond line`);
    });

    it.each<[string, () => Promise<Response>, string]>([
      ['a name with a space', () => post('/cron/bad%20name/pause', { reason: 'x' }), 'Cron job name must be 1-200 characters of letters, digits, "_", "." or "-".'],
      ['a name with a slash', () => post('/cron/a%2Fb/resume'), 'Cron job name must be 1-200 characters of letters, digits, "_", "." or "-".'],
      ['a name with a NUL byte', () => get('/cron/a%00b'), 'Cron job name must be 1-200 characters of letters, digits, "_", "." or "-".'],
      ['a name of 201 characters', () => post(`/cron/${'a'.repeat(201)}/pause`), 'Cron job name must be 1-200 characters of letters, digits, "_", "." or "-".'],
      ['a reason that is a number', () => post('/cron/cleanupExpiredData/pause', { reason: 42 }), 'Field "reason" must be a string.'],
      ['a reason that is null', () => post('/cron/cleanupExpiredData/pause', { reason: null }), 'Field "reason" must be a string.'],
      ['a reason that is an object', () => post('/cron/cleanupExpiredData/pause', { reason: { text: 'x' } }), 'Field "reason" must be a string.'],
      ['a reason of 501 characters', () => post('/cron/cleanupExpiredData/pause', { reason: 'x'.repeat(501) }), 'Field "reason" must be 1-500 characters (leave it out for none).'],
      ['an empty reason', () => post('/cron/cleanupExpiredData/pause', { reason: '' }), 'Field "reason" must be 1-500 characters (leave it out for none).'],
      ['a reason with a NUL byte', () => post('/cron/cleanupExpiredData/pause', { reason: 'a\u0000b' }), 'Field "reason" must not contain control characters other than tab and line breaks.'],
      ['a reason with an escape character', () => post('/cron/cleanupExpiredData/pause', { reason: '\u001b[31mred' }), 'Field "reason" must not contain control characters other than tab and line breaks.'],
      ['a reason with a C1 control (0x9B, a terminal escape)', () => post('/cron/cleanupExpiredData/pause', { reason: 'a\u009b2Jb' }), 'Field "reason" must not contain control characters other than tab and line breaks.'],
      ['a reason with a right-to-left override', () => post('/cron/cleanupExpiredData/pause', { reason: 'invoice\u202efdp.exe' }), BIDI_REFUSED],
      ['a reason with a bidi isolate', () => post('/cron/cleanupExpiredData/pause', { reason: '\u2067x\u2069' }), BIDI_REFUSED],
      ['a reason with a right-to-left mark', () => post('/cron/cleanupExpiredData/pause', { reason: 'a\u200fb' }), BIDI_REFUSED],
      ['a reason with an unpaired surrogate', () => postRaw('/cron/cleanupExpiredData/pause', '{"reason":"a\\ud800b"}', 'application/json'), 'Field "reason" must be valid Unicode (it has an unpaired surrogate).'],
      ['an extra key', () => post('/cron/cleanupExpiredData/pause', { reason: 'ok', by: 'mallory' }), 'Unknown field "by" in the body: it takes "reason".'],
      ['a __proto__ key', () => postRaw('/cron/cleanupExpiredData/pause', '{"__proto__":{"reason":"x"}}', 'application/json'), 'Unknown field "__proto__" in the body: it takes "reason".'],
      ['an array body', () => post('/cron/cleanupExpiredData/pause', ['reason']), 'The body must be a JSON object: { "reason"?: string }.'],
      ['an unknown query parameter on GET /cron', () => get('/cron?bogus=1'), 'Unknown query parameter "bogus": it takes "internal", "removed", "ticks".'],
      ['internal=yes', () => get('/cron?internal=yes'), 'Query parameter "internal" must be "true" or "false".'],
      ['removed=1', () => get('/cron?removed=1'), 'Query parameter "removed" must be "true" or "false".'],
      ['ticks=0', () => get('/cron?ticks=0'), 'Query parameter "ticks" must be a whole number from 1 to 50.'],
      ['ticks=51', () => get('/cron?ticks=51'), 'Query parameter "ticks" must be a whole number from 1 to 50.'],
      ['ticks=1.5', () => get('/cron?ticks=1.5'), 'Query parameter "ticks" must be a whole number from 1 to 50.'],
      ['ticks=-1', () => get('/cron/cleanupExpiredData?ticks=-1'), 'Query parameter "ticks" must be a whole number from 1 to 50.'],
      ['ticks given twice', () => get('/cron?ticks=1&ticks=2'), 'Query parameter "ticks" must be given once.'],
      ['a list-only parameter on GET /cron/:name', () => get('/cron/cleanupExpiredData?internal=true'), 'Unknown query parameter "internal": it takes "ticks".'],
      ['a query parameter on pause', () => post('/cron/cleanupExpiredData/pause?reason=x'), 'Unknown query parameter "reason": it takes none.'],
      ['a query parameter on resume', () => post('/cron/cleanupExpiredData/resume?force=true'), 'Unknown query parameter "force": it takes none.'],
    ])('400 for %s, with the reason, and nothing paused', async (_what, send, expected) => {
      const response = await send();
      expect(response.status).toBe(400);
      expect(await message(response)).toBe(expected);
      expect(await cleanupRow()).toMatchObject({ paused: false, paused_reason: null, paused_by: null, paused_at: null });
    });

    it('400 for a body that is not valid JSON; 415 for a body that is not JSON at all', async () => {
      const malformed = await postRaw('/cron/cleanupExpiredData/pause', '{"reason":', 'application/json');
      expect(malformed.status).toBe(400);
      for (const [body, type] of [
        ['reason=x', 'application/x-www-form-urlencoded'],
        ['x', 'text/plain'],
      ]) {
        const response = await postRaw('/cron/cleanupExpiredData/pause', body as string, type as string);
        expect(response.status, type).toBe(415);
        expect(await message(response)).toBe('The body, if any, must be JSON: send it with "Content-Type: application/json".');
      }
      expect(await cleanupRow()).toMatchObject({ paused: false, paused_reason: null, paused_by: null });
    });

    it('404 for an unknown cron on pause, resume and trigger, naming the ones that can be', async () => {
      for (const action of ['paused', 'resumed', 'triggered'] as const) {
        const route = { paused: 'pause', resumed: 'resume', triggered: 'trigger' }[action];
        const response = await post(`/cron/noSuchJob/${route}`);
        expect(response.status, route).toBe(404);
        expect(await message(response)).toBe(`Unknown cron job "noSuchJob". Cron jobs that can be ${action}: cleanupExpiredData.`);
      }
    });

    it.each(['tasks.sweepLostRuns', 'tasks.pruneCronRuns'])('403 for pausing, resuming or triggering the library’s internal cron %s', async (name) => {
      for (const [route, action] of [
        ['pause', 'paused'],
        ['resume', 'resumed'],
        ['trigger', 'triggered'],
      ]) {
        const response = await post(`/cron/${name}/${route}`, route === 'pause' ? { reason: 'please' } : undefined);
        expect(response.status, route).toBe(403);
        expect(await message(response)).toBe(
          `"${name}" is one of the library's internal maintenance crons: it runs on its own schedule and cannot be ${action} over HTTP.`,
        );
      }
      expect((await schedules()).find((row) => row.name === name)).toMatchObject({ paused: false, paused_by: null });
    });

    it('keeps every cron route to operators: 403 for a user token, 401 without one', async () => {
      const user = authHeaders('alice', 'user');
      for (const [method, path] of [
        ['GET', '/cron'],
        ['GET', '/cron?internal=true'],
        ['GET', '/cron/cleanupExpiredData'],
        ['GET', '/cron/runs'],
        ['POST', '/cron/cleanupExpiredData/pause'],
        ['POST', '/cron/cleanupExpiredData/resume'],
        ['POST', '/cron/cleanupExpiredData/trigger'],
      ] as const) {
        const forbidden = await call(path, { method, headers: user });
        expect(forbidden.status, `${method} ${path}`).toBe(403);
        expect(await message(forbidden)).toBe('This endpoint needs an operator token; this token\'s role is "user".');
        const anonymous = await call(path, { method });
        expect(anonymous.status, `${method} ${path}`).toBe(401);
      }
      expect(await cleanupRow()).toMatchObject({ paused: false, paused_by: null });
    });

    it('still answers GET /cron/runs (not taken for a cron named "runs")', async () => {
      const runs = await get('/cron/runs');
      expect(runs.status).toBe(200);
      // No worker runs here: nothing was recorded, though a trigger and ticks were enqueued.
      expect(await json<unknown[]>(runs)).toEqual([]);
      const bad = await get('/cron/runs?status=MISSED&ticks=1');
      expect(bad.status).toBe(400);
      expect(await message(bad)).toBe('Unknown query parameter "ticks": it takes "job", "status", "limit".');
      expect(await json<unknown[]>(await get('/cron/runs?status=MISSED'))).toEqual([]);
      // A cron without runs yet answers an empty list; a name without a schedule (a typo, another prefix) a 404.
      expect(await json<unknown[]>(await get('/cron/runs?job=cleanupExpiredData'))).toEqual([]);
      const unknown = await get('/cron/runs?job=noSuchJob');
      expect(unknown.status).toBe(404);
      expect(await message(unknown)).toBe(
        'Unknown cron job "noSuchJob". Known cron jobs: cleanupExpiredData, tasks.pruneCronRuns, tasks.sweepLostRuns.',
      );
    });
  });
});
