// The closing summary of a test run, on made-up vitest reports and turbo run summaries.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error -- a plain .mjs script without type declarations
import { failedTurboTasks, summariseReports } from '../test-summary.mjs';

type Summary = { passed: number; failed: number; problems: string[] };
const summarise = summariseReports as (workspaces: string[], failedTasks?: Set<string>) => Summary;

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A workspace folder with a package.json (a test script unless `test` is false) and, if given, a report. */
function workspace(name: string, report?: object, test = true): string {
  const ws = join(dir, name.replace(/\W/g, '_'));
  mkdirSync(join(ws, 'test-results'), { recursive: true });
  writeFileSync(join(ws, 'package.json'), JSON.stringify({ name, scripts: test ? { test: 'vitest run' } : {} }));
  if (report !== undefined) writeFileSync(join(ws, 'test-results', 'vitest.json'), JSON.stringify(report));
  return ws;
}

/** A vitest JSON report of one file with the given test statuses. */
function report(ws: string, statuses: string[], extra: object = {}): object {
  return {
    numPassedTests: statuses.filter((s) => s === 'passed').length,
    numFailedTests: statuses.filter((s) => s === 'failed').length,
    success: !statuses.includes('failed'),
    testResults: [
      {
        name: join(ws, 'test', 'a.test.ts'),
        status: statuses.includes('failed') ? 'failed' : 'passed',
        assertionResults: statuses.map((status, i) => ({
          fullName: `suite test ${i}`,
          status,
          failureMessages:
            status === 'failed' ? [`Error: Test timed out in 60000ms.\n    at task (runner.js:1:1)\n    at chain (runner.js:2:2)`] : [],
        })),
      },
    ],
    ...extra,
  };
}

describe('summariseReports', () => {
  it('sums passed and failed tests over packages and names each failed test with its message, not its stack', () => {
    dir = mkdtempSync(join(tmpdir(), 'summary-'));
    const a = join(dir, 'a');
    const b = join(dir, 'b');
    workspace('a', report(a, ['passed', 'failed', 'passed']));
    workspace('b', report(b, ['passed', 'failed']));
    const s = summarise([a, b]);
    expect([s.passed, s.failed]).toEqual([3, 2]);
    expect(s.problems).toEqual([
      `a: ${join('test', 'a.test.ts')} > suite test 1\n    Error: Test timed out in 60000ms.`,
      `b: ${join('test', 'a.test.ts')} > suite test 1\n    Error: Test timed out in 60000ms.`,
    ]);
  });

  it('counts a missing report, a file that failed outside its tests, and a failed task with a clean report', () => {
    dir = mkdtempSync(join(tmpdir(), 'summary-'));
    const missing = workspace('missing');
    const c = join(dir, 'c');
    const fileFailure = report(c, ['passed']) as { testResults: { status: string; message?: string }[]; success: boolean };
    fileFailure.testResults[0]!.status = 'failed';
    fileFailure.testResults[0]!.message = 'Cannot find module x';
    fileFailure.success = false;
    workspace('c', fileFailure);
    const d = join(dir, 'd');
    workspace('d', report(d, ['passed', 'passed']));
    const noTests = workspace('no-tests', undefined, false);
    const s = summarise([missing, c, d, noTests], new Set(['d']));
    expect([s.passed, s.failed]).toEqual([3, 3]);
    expect(s.problems[0]).toBe('missing: no test report, its test run did not finish');
    expect(s.problems[1]).toBe(`c: ${join('test', 'a.test.ts')} failed outside its tests\n    Cannot find module x`);
    expect(s.problems[2]).toMatch(/^d: its test task failed although every reported test passed/);
    // Without the turbo summary the same clean report counts as passed.
    expect(summarise([d]).failed).toBe(0);
  });
});

describe('failedTurboTasks', () => {
  it('names the packages whose task exited non-zero; none without a summary', () => {
    dir = mkdtempSync(join(tmpdir(), 'summary-'));
    const path = join(dir, 'run.json');
    writeFileSync(
      path,
      JSON.stringify({
        tasks: [
          { package: 'a', execution: { exitCode: 0 } },
          { package: 'b', execution: { exitCode: 1 } },
          { package: 'c', execution: { exitCode: 0 } },
        ],
      }),
    );
    expect([...(failedTurboTasks(path) as Set<string>)]).toEqual(['b']);
    expect((failedTurboTasks(join(dir, 'none.json')) as Set<string>).size).toBe(0);
    expect((failedTurboTasks(undefined) as Set<string>).size).toBe(0);
  });
});
