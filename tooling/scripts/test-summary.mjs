// The closing summary of a test run: sums the vitest JSON reports the packages wrote
// (test-results/vitest.json) and names what failed, so that the tail of a CI log says which tests to
// look at. Used by run-tests.mjs; kept apart so that its rules are tested on made-up reports.
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** The first lines of a test's failure messages: its assertion or error, without the stack. */
function firstLines(messages) {
  const text = (messages ?? [])
    .join('\n')
    .split('\n')
    .filter((line) => line.trim() !== '' && !/^\s+at /.test(line));
  return text.slice(0, 6).join('\n    ') || '(no message)';
}

/**
 * Sums the reports of `workspaces` (folders; those without a `test` script are skipped).
 * `failedTasks` names the packages whose test task exited non-zero (turbo's run summary), so that a
 * package whose report shows no failure is still counted and named.
 *
 * @param {string[]} workspaces
 * @param {Set<string>} [failedTasks]
 * @returns {{ passed: number, failed: number, problems: string[] }} `problems`: one line (or block) per
 *   failure, in the order found.
 */
export function summariseReports(workspaces, failedTasks = new Set()) {
  let passed = 0;
  let failed = 0;
  const problems = [];
  for (const ws of workspaces) {
    const pkgPath = join(ws, 'package.json');
    if (!existsSync(pkgPath)) continue;
    const pkg = JSON.parse(readFileSync(pkgPath, 'utf8'));
    if (!pkg.scripts?.test) continue;
    const report = join(ws, 'test-results', 'vitest.json');
    if (!existsSync(report)) {
      problems.push(`${pkg.name}: no test report, its test run did not finish`);
      failed += 1;
      continue;
    }
    const json = JSON.parse(readFileSync(report, 'utf8'));
    passed += json.numPassedTests ?? 0;
    let pkgFailed = 0;
    for (const file of json.testResults ?? []) {
      const where = relative(ws, file.name);
      const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
      for (const t of failedTests) problems.push(`${pkg.name}: ${where} > ${t.fullName}\n    ${firstLines(t.failureMessages)}`);
      pkgFailed += failedTests.length;
      // A file that failed without a failed test (an import error, a failing beforeAll/afterAll) counts
      // as one failure. (numFailedTestSuites would count every failed describe block as well.)
      if (file.status === 'failed' && failedTests.length === 0) {
        problems.push(`${pkg.name}: ${where} failed outside its tests\n    ${firstLines([file.message ?? ''])}`);
        pkgFailed += 1;
      }
    }
    if (pkgFailed === 0 && (json.success === false || failedTasks.has(pkg.name))) {
      // e.g. an unhandled error after the tests passed, or a worker that did not stop: vitest fails the
      // run but its report shows no failed test.
      problems.push(`${pkg.name}: its test task failed although every reported test passed (unhandled error?): see its log`);
      pkgFailed = 1;
    }
    failed += pkgFailed;
  }
  return { passed, failed, problems };
}

/**
 * The packages whose task exited non-zero in a turbo run summary (`turbo run --summarize` writes one
 * to `.turbo/runs/<id>.json`); an empty set when there is none.
 *
 * @param {string | undefined} summaryPath
 * @returns {Set<string>}
 */
export function failedTurboTasks(summaryPath) {
  if (summaryPath === undefined || !existsSync(summaryPath)) return new Set();
  const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
  return new Set((summary.tasks ?? []).filter((t) => (t.execution?.exitCode ?? 0) !== 0).map((t) => t.package));
}
