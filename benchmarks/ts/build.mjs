// Bundles the TypeScript comparison benchmark with the pinned client installed in tests/ts_client
// (run `npm ci` there first). Output: dist/bench_apply_ts.mjs, dist/bench_roundtrip_ts.mjs.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const tsClient = path.join(here, '..', '..', 'tests', 'ts_client', 'node_modules');
const { build } = createRequire(path.join(tsClient, 'noop.js'))('esbuild');

await build({
  absWorkingDir: here,
  entryPoints: {
    bench_apply_ts: 'src/bench_apply_ts.ts',
    bench_roundtrip_ts: 'src/bench_roundtrip_ts.ts',
  },
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  nodePaths: [tsClient],
  external: ['undici'],
  logLevel: 'warning',
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
});
