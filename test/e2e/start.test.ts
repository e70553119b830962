/**
 * `tracegate start` as a newcomer runs it: a child process that comes up, serves a first
 * request and stops cleanly on Ctrl-C; and, when something is wrong (a port in use, a bad
 * configuration file, a store folder that cannot be written), one line that says what
 * happened and what to do, never a stack trace.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const CLI = ['--import', 'tsx', 'cli/tracegate.ts'];
let dir: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], until?: (out: string) => boolean, act?: (out: string, stop: () => void) => Promise<void>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, ...args], { cwd: process.cwd(), env: { ...process.env, OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '' } });
    let stdout = '';
    let stderr = '';
    let acted = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out; stdout: ${stdout}\nstderr: ${stderr}`));
    }, 90_000);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!acted && until?.(stdout)) {
        acted = true;
        act?.(stdout, () => child.kill('SIGINT')).catch((err) => {
          child.kill('SIGKILL');
          reject(err);
        });
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const FREE = ['--port', '0', '--grpc-port', '0', '--http-port', '0', '--sql-port', '0'];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'tracegate-start-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function noStack(r: Run) {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  expect(r.stderr.trim().startsWith('tracegate: ')).toBe(true);
}

describe('tracegate start', () => {
  it('comes up, serves a first request and stops cleanly on Ctrl-C', async () => {
    let answer: { choices: Array<{ message: { content: string } }> } | undefined;
    const r = await runCli(
      ['start', '--data', join(dir, 'ok', 'data'), ...FREE],
      (out) => out.includes('Send a first request'),
      async (out, stop) => {
        const url = /gateway \(OpenAI API\)\s+(\S+)\/v1/.exec(out)![1];
        const res = await fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'tracegate-sim-1', messages: [{ role: 'user', content: 'Hello!' }] }),
        });
        answer = (await res.json()) as typeof answer;
        stop();
      },
    );
    expect(r.code).toBe(0);
    expect(answer?.choices[0].message.content.length).toBeGreaterThan(0);
    expect(r.stdout).toContain('tracegate is running');
    expect(r.stdout).toContain('stopped cleanly');
  });

  it('says which port is in use and what to do', async () => {
    const busy: Server = createServer();
    await new Promise<void>((res) => busy.listen(0, '127.0.0.1', res));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await runCli(['start', '--data', join(dir, 'busy', 'data'), ...FREE.slice(2), '--port', String(port)]);
      expect(r.code).toBe(1);
      noStack(r);
      expect(r.stderr).toContain(`port ${port} (gateway) is in use`);
      expect(r.stderr).toContain('--port');
    } finally {
      busy.close();
    }
  });

  it('lists every problem of a bad configuration file with its path', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      `apiVersion: tracegate.dev/v1alpha1
kind: Backend
metadata: { name: openai }
spec: { provider: openai, apiKey: sk-inline-secret }
---
apiVersion: tracegate.dev/v1alpha1
kind: Route
metadata: { name: r }
spec:
  rules:
    - matches: [{ model: "gpt-*" }]
      targets: [{ backend: nowhere }]
`,
    );
    const r = await runCli(['start', '--config', file, '--data', join(dir, 'cfg', 'data'), ...FREE]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toContain('problem');
    // Every problem of the document at once, even when one field already failed.
    expect(r.stderr).toContain('needs a url');
    expect(r.stderr).toMatch(/inline key/);
    expect(r.stderr).toMatch(/nowhere/);
    expect(r.stderr).not.toContain('sk-inline-secret');
  });

  it('says when the store folder cannot be written', async () => {
    const file = join(dir, 'a-file');
    writeFileSync(file, 'not a folder');
    const r = await runCli(['start', '--data', join(file, 'data'), ...FREE]);
    expect(r.code).toBe(1);
    noStack(r);
    expect(r.stderr).toContain('cannot be written');
    expect(r.stderr).toContain('--data');
  });
});
