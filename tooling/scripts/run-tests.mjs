#!/usr/bin/env node
// Runs every package's tests through turbo (continuing past failures), then sums the vitest JSON
// reports each package wrote to test-results/vitest.json and prints the closing line
// `N passed, N failed`. Exits non-zero when turbo failed or any test failed or no test ran.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const child = spawn('pnpm', ['exec', 'turbo', 'run', 'test', '--continue', ...process.argv.slice(2)], {
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

let passed = 0;
let failed = 0;
const missing = [];
for (const ws of workspaces) {
  const pkgPath = join(ws, 'package.json');
  if (!existsSync(pkgPath)) continue;
  const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
  if (!pkg.scripts?.test) continue;
  const report = join(ws, 'test-results', 'vitest.json');
  if (!existsSync(report)) {
    missing.push(pkg.name);
    continue;
  }
  const json = JSON.parse(readFileSync(report, 'utf8'));
  passed += json.numPassedTests ?? 0;
  let pkgFailed = json.numFailedTests ?? 0;
  // A test file that failed without a failed test (an import error, a failing beforeAll/afterAll)
  // counts as one failure. (numFailedTestSuites would count every failed describe block as well.)
  for (const file of json.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) {
      pkgFailed += 1;
      console.error(`${pkg.name}: ${file.name} failed outside its tests: ${file.message || 'see the log above'}`);
    }
  }
  if (pkgFailed === 0 && json.success === false) {
    pkgFailed = 1;
    console.error(`${pkg.name}: vitest reported a failed run without a failed test (no test files?): see the log above`);
  }
  failed += pkgFailed;
}
for (const name of missing) console.error(`no test report from ${name}: its test run did not finish`);
failed += missing.length;
if (turboStatus !== 0 && failed === 0) {
  // e.g. an unhandled error after the tests passed: vitest fails the run but the report shows no failure.
  console.error('a test task failed although every reported test passed (unhandled error?): see the log above');
  failed += 1;
}
const summary = `${passed} passed, ${failed} failed`;
// Also kept in a file: .ci/run prints it again as its last line when the run failed (pnpm prints its
// own lines after a failed script).
mkdirSync(join(root, 'test-results'), { recursive: true });
writeFileSync(join(root, 'test-results', 'summary.txt'), `${summary}\n`);
console.log(summary);
process.exit(turboStatus !== 0 || failed > 0 || passed === 0 ? 1 : 0);
