import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Tests share 2 CPU cores with TF.js kernels; run files one at a time so no test starves another.
    fileParallelism: false,
  },
});
