// Builds the console into dist/console, which the gateway serves at /console (make build, after tsc).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  // Asset addresses are absolute under /console/, so that /console and /console/ load the same files.
  base: '/console/',
  // Preact's automatic JSX runtime, without a plugin: JSX is compiled by Vite's own transformer.
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  // Nothing is copied from a public folder: every file the page loads is a hashed build output.
  publicDir: false,
  build: {
    outDir: fileURLToPath(new URL('../../../dist/console', import.meta.url)),
    emptyOutDir: true,
    // Chromium of the test machine and any browser of the last years: no legacy bundle.
    target: 'es2022',
    // One script and one stylesheet: the console is a handful of views, and the hub serves them
    // from memory.
    chunkSizeWarningLimit: 600,
    reportCompressedSize: false,
  },
  logLevel: 'warn',
});
