// Helpers for the Node tests: the package as Node loads it, temp dirs, and child processes
// that run a snippet against the package (a second process on the same directory, a process
// that must exit on its own, a process killed with SIGKILL).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The Node entry of the built package (what `import 'settee'` resolves to in Node). */
export const entry = pathToFileURL(join(root, 'pkg/node.js')).href;

export function tempDir(tag) {
  return mkdtempSync(join(tmpdir(), `settee-node-${tag}-`));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));

/**
 * Runs `code` (an ES module body; `Settee` is imported for it) in a child Node process with
 * working directory `cwd`. Resolves to {code, signal, stdout, stderr, ms} when it exits, or
 * rejects after `timeoutMs` (killing it): a child that does not exit is a failure to report.
 */
export function runChild(code, { cwd, timeoutMs = 30_000, env = {} } = {}) {
  const body = `import { Settee } from ${JSON.stringify(entry)};\n${code}`;
  const started = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', body], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      fail(new Error(`child still running after ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      ok({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** The JSON lines a child printed, parsed. */
export function jsonLines(text) {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}
