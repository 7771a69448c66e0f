/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  // import() stays a real dynamic import (ignoreDynamic): ESM-only packages (jose) load as they do under node
  transform: { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs', ignoreDynamic: true } }] },
  moduleFileExtensions: ['ts', 'js', 'json'],
  testTimeout: 120000,
  globalSetup: '<rootDir>/test/global-setup.ts',
  // Each file owns a store (PGlite instance or a PostgreSQL schema); two workers fit a 2-core machine.
  maxWorkers: 2,
};
