import { defineConfig } from 'vite'

// Built once by `make install` into the Python package, which serves it at /__motia/.
// Relative asset URLs: the page works wherever the package mounts it (under /__motia/).
export default defineConfig({
  base: './',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: '../motia_core/workbench/static',
    emptyOutDir: true,
    target: 'es2022',
    // One small page: a single script and stylesheet keep the served file list short.
    chunkSizeWarningLimit: 300,
  },
})
