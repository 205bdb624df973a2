import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestingModule } from '@nestjs/testing';
import { TaskClient, TaskFailedError, type TaskHandle } from 'nestjs-tasks';
import { AppProcess, ENTRY, workerReady, type LogLine } from '../support/processes.js';
import { createTasksApp, rejectionOf } from '../support/in-process.js';
import { deletePrefix, uniquePrefix } from '../support/redis.js';
import { waitFor } from '../support/wait-for.js';
import { RollingV1Module, RollingV2Module, type RollingRun } from '../fixtures/rolling-tasks.js';

/**
 * Old (v1) and new (v2) workers of one application side by side on one prefix,
 * as during a rolling deploy; v2 removes `rolling.removed`, renames
 * `rolling.oldName` to `rolling.newName` and moves `rolling.moved` from the
 * default queue to `reports` (test/fixtures/rolling-tasks.ts).
 */
// Each case waits for handovers bounded by HANDOVER_MS (and a worker's boot), so
// the case itself must be allowed longer than those bounds added up.
describe('a rolling deploy from v1 to v2 on one prefix', { timeout: 300_000 }, () => {
  const prefix = uniquePrefix('rolling');
  const processes: AppProcess[] = [];
  const apps: TestingModule[] = [];
  let v1: AppProcess[];
  let v2: AppProcess;
  /** The api of each version: producers only, with that version's tasks. */
  let v1Api: TestingModule;
  let v1Client: TaskClient;
  let v2Client: TaskClient;
  /** A producer with none of the tasks, enqueueing by name: still there once v1 is gone. */
  let bareClient: TaskClient;

  const worker = async (name: string, version: 'v1' | 'v2', env: Record<string, string> = {}) => {
    const app = new AppProcess(name, ENTRY.fixtureWorker, { TASKS_PREFIX: prefix, FIXTURE_ROLLING: version, ...env });
    processes.push(app);
    await app.waitForLog(workerReady, `${name} to consume`, 60_000);
    return app;
  };
  const producer = async (version?: typeof RollingV1Module | typeof RollingV2Module) => {
    const app = await createTasksApp({ tasks: { prefix, allowUnregisteredTasks: !version }, imports: version ? [version] : [] });
    apps.push(app);
    return app;
  };
  const v1Pids = () => new Set(v1.map((app) => app.pid));
  /**
   * Each time a held-back job is due, every idle worker of its queue races for
   * it, those that lack its task too: where two workers lack it and one has it,
   * it reaches that one within seconds on average, and now and then only after
   * more than ten rounds (src/worker/hold-back.ts). The bound is for that tail.
   */
  const HANDOVER_MS = 120_000;
  const results = (handles: TaskHandle<unknown>[]) => Promise.all(handles.map((h) => h.waitResult({ timeoutMs: HANDOVER_MS }) as Promise<RollingRun>));
  /** Keeps both v1 workers busy (one slot each on the default queue): only v2 takes jobs of that queue meanwhile. */
  const busyV1 = async () => {
    const started = (app: AppProcess) => app.lines.filter((line) => line.msg === 'rolling hold started').length;
    const before = v1.map(started);
    const holds = await Promise.all([v1Client.enqueue('rolling.hold', {}), v1Client.enqueue('rolling.hold', {})]);
    await waitFor(() => v1.every((app, i) => started(app) > (before[i] as number)), { timeoutMs: HANDOVER_MS, what: 'each v1 worker to run a hold' });
    return holds;
  };
  /** Waits until v2 has held the job back for a worker that has its task. */
  const heldBack = (handle: TaskHandle<unknown>) =>
    waitFor(
      async () => {
        const info = await v1Client.getJob(handle.id);
        return info?.state === 'delayed' ? info : undefined;
      },
      { timeoutMs: 30_000, what: `job ${handle.id} (${handle.name}) to wait for a v1 worker` },
    );

  beforeAll(async () => {
    // One slot on the default queue each: two holds keep both v1 workers busy.
    // A short grace: stopped with a hold running, they hand it back within a second.
    v1 = await Promise.all(['v1-a', 'v1-b'].map((name) => worker(name, 'v1', { WORKER_QUEUES: 'default:1,reports,mail', TASKS_SHUTDOWN_GRACE_MS: '1000' })));
    let v2Api: TestingModule;
    let bare: TestingModule;
    [v1Api, v2Api, bare] = await Promise.all([producer(RollingV1Module), producer(RollingV2Module), producer()]);
    [v1Client, v2Client, bareClient] = [v1Api, v2Api, bare].map((app) => app.get(TaskClient)) as [TaskClient, TaskClient, TaskClient];
  });

  afterAll(async () => {
    await Promise.all(processes.map((app) => app.stop()));
    for (const app of apps.reverse()) await app.close().catch(() => undefined);
    await deletePrefix(prefix);
  });

  it('the v2 worker boots while the v1 workers run, naming each task it lacks once; a task v2 adds waited for it', async () => {
    // v2's api is out first: a job of the task v2 adds waits, held back by the v1 workers, for a v2 worker.
    const added = await v2Client.enqueue('rolling.newName', {});
    await heldBack(added);
    v2 = await worker('v2', 'v2');
    const [ran] = await results([added]);
    expect(ran).toEqual({ pid: v2.pid, version: 'v2' });
    const lacking = v2.lines.filter((line) => line.context === 'TaskWorkerHost' && String(line.msg).includes('rolling.removed'));
    expect(lacking, v2.tail()).toHaveLength(1);
    const msg = String((lacking[0] as LogLine).msg);
    // Two v1 workers have each task: each is named once.
    for (const task of ['rolling.removed', 'rolling.oldName', 'rolling.moved', 'rolling.hold']) {
      expect(msg.split(`"${task}"`), msg).toHaveLength(2);
    }
    expect(msg).toContain('2 running worker(s)');
    expect(msg).not.toContain('rolling.newName');
  });

  it('while the v1 workers are busy, v2 holds back the jobs it cannot run, without spending their attempts; v1 runs them once free', async () => {
    const holds = await busyV1();
    const handles = await Promise.all(['rolling.removed', 'rolling.oldName', 'rolling.moved'].map((name) => v1Client.enqueue(name, {})));
    for (const handle of handles) expect((await heldBack(handle)).attemptsMade).toBe(0);
    expect(await Promise.all(holds.map((hold) => hold.cancel()))).toEqual(['signalled', 'signalled']);
    const runs = await results(handles);
    for (const run of runs) {
      expect(run.version).toBe('v1');
      expect(v1Pids()).toContain(run.pid);
    }
    for (const handle of handles) expect(await v1Client.getJob(handle.id)).toMatchObject({ state: 'completed', attemptsMade: 1 });
    expect(v2.running).toBe(true);
  });

  it('removed task: its jobs, enqueued by the v1 api, run on the v1 workers', async () => {
    const runs = await results(await Promise.all(Array.from({ length: 4 }, () => v1Client.enqueue('rolling.removed', {}))));
    for (const run of runs) expect(v1Pids()).toContain(run.pid);
  });

  it('renamed task: the old name runs on v1, the new name on v2, whichever worker takes the job', async () => {
    const old = await results(await Promise.all(Array.from({ length: 4 }, () => v1Client.enqueue('rolling.oldName', {}))));
    for (const run of old) expect(v1Pids()).toContain(run.pid);
    const renamed = await results(await Promise.all(Array.from({ length: 4 }, () => v2Client.enqueue('rolling.newName', {}))));
    expect(new Set(renamed.map((run) => run.pid))).toEqual(new Set([v2.pid]));
  });

  it('moved task: jobs on its old queue run on v1, jobs on its new queue on v2 (though v1 consumes that queue too)', async () => {
    const onDefault = await Promise.all(Array.from({ length: 4 }, () => v1Client.enqueue('rolling.moved', {})));
    for (const run of await results(onDefault)) expect(v1Pids()).toContain(run.pid);
    const onReports = await Promise.all(Array.from({ length: 4 }, () => v2Client.enqueue('rolling.moved', {})));
    expect(onReports[0]?.id).toMatch(/^reports:/);
    expect(new Set((await results(onReports)).map((run) => run.version))).toEqual(new Set(['v2']));
  });

  it('once the v1 workers and api have stopped, jobs of the removed, renamed and moved tasks fail, naming the task, without retries', async () => {
    const holds = await busyV1();
    const waiting = await v1Client.enqueue('rolling.removed', {});
    await heldBack(waiting);
    // They leave the list of running apps, then hand their holds back: no worker left has those either.
    expect(await Promise.all(v1.map((app) => app.stop()))).toEqual([0, 0]);
    // While v1's api runs, it still has the tasks: the jobs wait for a worker. Once it stops, nobody has them.
    await v1Api.close();
    const failedAs = (name: string, message: string) => {
      expect(message, name).toContain(`No handler for task "${name}" in this worker, and no other running app has it on queue "default"`);
      if (name === 'rolling.moved') expect(message).toContain('this worker has it on queue "reports"');
    };
    for (const handle of [waiting, ...holds]) {
      const info = await waitFor(
        async () => {
          const job = await bareClient.getJob(handle.id);
          return job?.state === 'failed' ? job : undefined;
        },
        { timeoutMs: 30_000, what: `job ${handle.id} (${handle.name}) to fail` },
      );
      failedAs(handle.name, info.error ?? '');
      expect(info.attemptsMade).toBe(1);
    }
    // By name, from an api without the tasks (on the default queue): they fail at once.
    const later = await Promise.all(['rolling.removed', 'rolling.oldName', 'rolling.moved'].map((name) => bareClient.enqueue(name, {})));
    for (const handle of later) {
      const error = await rejectionOf(handle.waitResult({ timeoutMs: 30_000 }));
      expect(error, handle.name).toBeInstanceOf(TaskFailedError);
      failedAs(handle.name, error.message);
      expect(error).toMatchObject({ attemptsMade: 1 });
    }
    // v2 itself is unaffected.
    const [after] = await results([await v2Client.enqueue('rolling.newName', {})]);
    expect(after?.pid).toBe(v2.pid);
  });
});
