#!/usr/bin/env node
// Runs every package's tests through turbo (continuing past failures), then sums the vitest JSON
// reports each package wrote to test-results/vitest.json and prints the closing line
// `N passed, N failed`. Exits non-zero when turbo failed or any test failed or no test ran.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const workspaces = ['packages', 'apps', 'tooling']
  .map((dir) => join(root, dir))
  .filter((dir) => existsSync(dir))
  .flatMap((dir) => readdirSync(dir).map((name) => join(dir, name)));

for (const ws of workspaces) rmSync(join(ws, 'test-results'), { recursive: true, force: true });

const turbo = spawnSync('pnpm', ['exec', 'turbo', 'run', 'test', '--continue', ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
});

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
  failed += json.numFailedTests ?? 0;
  // A test file that failed without a failed test (an import error, a failing beforeAll/afterAll)
  // counts as one failure. (numFailedTestSuites would count every failed describe block as well.)
  for (const file of json.testResults ?? []) {
    const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed').length;
    if (file.status === 'failed' && failedTests === 0) {
      failed += 1;
      console.error(`${pkg.name}: ${file.name} failed outside its tests: ${file.message || 'see the log above'}`);
    }
  }
}
for (const name of missing) console.error(`no test report from ${name}: its test run did not finish`);
failed += missing.length;
if (turbo.status !== 0 && failed === 0) {
  // e.g. an unhandled error after the tests passed: vitest fails the run but the report shows no failure.
  console.error('a test task failed although every reported test passed (unhandled error?): see the log above');
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(turbo.status !== 0 || failed > 0 || passed === 0 ? 1 : 0);
