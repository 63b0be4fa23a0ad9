#!/usr/bin/env node
// Runs every package's tests through turbo (continuing past failures), then sums the vitest JSON
// reports each package wrote to test-results/vitest.json and prints the closing line
// `N passed, N failed`. Exits non-zero when turbo failed or any test failed or no test ran.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { failedTurboTasks, summariseReports } from './test-summary.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const workspaces = ['packages', 'apps', 'tooling']
  .map((dir) => join(root, dir))
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).map((name) => join(dir, name)));

for (const ws of [root, ...workspaces]) rmSync(join(ws, 'test-results'), { recursive: true, force: true });

// A watchdog: a test stuck in a synchronous loop cannot be stopped by vitest's own timeouts, and CI
// must still end with the summary line. After TEST_TIMEOUT_MINUTES (default 60) every process of the
// run (turbo, its tasks, vitest workers) is killed, and each package without a report counts as failed.
const timeoutMinutes = Number(process.env.TEST_TIMEOUT_MINUTES) > 0 ? Number(process.env.TEST_TIMEOUT_MINUTES) : 60;
// Packages are tested CONCURRENCY at a time (default: the machine's cores). Each package's vitest runs
// its own workers, so turbo's default of 10 packages at once put dozens of busy processes on a 2-core
// machine: every test ran several times slower than alone, and the heaviest ones reached their
// hang-guard timeouts.
const concurrency = Number(process.env.TEST_CONCURRENCY) > 0 ? Number(process.env.TEST_CONCURRENCY) : availableParallelism();
// --summarize: turbo writes each task's exit code to .turbo/runs/, which names a package whose vitest
// failed after all its tests passed.
const turboArgs = ['exec', 'turbo', 'run', 'test', '--continue', '--summarize', `--concurrency=${concurrency}`, ...process.argv.slice(2)];
const runsDir = join(root, '.turbo', 'runs');
const runsBefore = new Set(existsSync(runsDir) ? readdirSync(runsDir) : []);
/** The run summary this run wrote, if any. */
function newestRunSummary() {
  if (!existsSync(runsDir)) return undefined;
  const fresh = readdirSync(runsDir).filter((f) => f.endsWith('.json') && !runsBefore.has(f));
  return fresh.length === 1 ? join(runsDir, fresh[0]) : undefined;
}
const child = spawn('pnpm', turboArgs, {
  cwd: root,
  stdio: 'inherit',
});
// Ctrl-C reaches turbo too (same process group); wait for it to stop its tasks, then print the summary.
process.on('SIGINT', () => {});
const watchdog = setTimeout(() => {
  console.error(`\ntests stopped after ${timeoutMinutes} minutes (TEST_TIMEOUT_MINUTES): something hangs`);
  for (const pid of processTree(child.pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}, timeoutMinutes * 60_000);
const turboStatus = await new Promise((resolve) => {
  child.on('error', (err) => {
    console.error(`could not start turbo: ${err.message}`);
    resolve(1);
  });
  child.on('exit', (code) => resolve(code ?? 1));
});
clearTimeout(watchdog);

/** `pid` and all its descendants (turbo runs tasks in their own process groups, so a group kill misses them). */
function processTree(pid) {
  const children = new Map();
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (!children.has(ppid)) children.set(ppid, []);
        children.get(ppid).push(Number(entry));
      } catch {
        // the process ended meanwhile
      }
    }
  } catch {
    return [pid]; // no /proc (not Linux): the direct child only
  }
  const all = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    all.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return all;
}

const { passed, failed: reportedFailed, problems } = summariseReports(workspaces, failedTurboTasks(newestRunSummary()));
let failed = reportedFailed;
if (turboStatus !== 0 && failed === 0) {
  problems.push('turbo failed although every package reported its tests passed: see the log above');
  failed += 1;
}
// What failed, again, just above the summary: a CI log is often read from its tail, where the
// reporters' own failure blocks have long scrolled away.
if (problems.length > 0) console.error(`\nwhat failed:\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
const summary = `${passed} passed, ${failed} failed`;
// Also kept in a file: .ci/run prints it again as its last line when the run failed (pnpm prints its
// own lines after a failed script).
mkdirSync(join(root, 'test-results'), { recursive: true });
writeFileSync(join(root, 'test-results', 'summary.txt'), `${summary}\n`);
console.log(summary);
process.exit(turboStatus !== 0 || failed > 0 || passed === 0 ? 1 : 0);
