// Imported first by every entry point: routes all console output (the SDK logs with
// console.log) to stderr, so stdout carries only the driver's JSON lines.
import { Console } from 'node:console';

const stderrConsole = new Console({ stdout: process.stderr, stderr: process.stderr });
globalThis.console = stderrConsole;

/** Writes one JSON object as one line on the real stdout. */
export function writeJsonLine(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}
