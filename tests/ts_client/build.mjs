// Bundles the driver and the offline smoke test for Node 20.
// target node20 lowers the `using` declarations in spacetimedb's dist, which Node 20 cannot parse.
// undici stays external: it is resolved from ./node_modules at run time, like the SDK would.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));

await build({
  absWorkingDir: here,
  entryPoints: {
    chat_driver: 'src/chat_driver.ts',
    smoke_offline: 'src/smoke_offline.ts',
  },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['undici'],
  // Wire types the package does not export, taken from its shipped src/ (smoke test only).
  alias: { 'spacetimedb-src': './node_modules/spacetimedb/src' },
  sourcemap: true,
  logLevel: 'warning',
  // Some bundled dependencies are CommonJS and may require() Node built-ins.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
