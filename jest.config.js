// Native ESM jest: run through `npm test` (node --experimental-vm-modules).
const swc = [
  '@swc/jest',
  {
    swcrc: false,
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      target: 'es2023',
      keepClassNames: true,
      transform: { legacyDecorator: true, decoratorMetadata: true },
    },
    module: { type: 'es6' },
  },
];
const common = {
  extensionsToTreatAsEsm: ['.ts'],
  transform: { '^.+\\.ts$': swc },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testEnvironment: 'node',
};
export default {
  // Global, not per project: booting the service on a fresh PGlite or PostgreSQL database takes seconds.
  testTimeout: 60000,
  // Once per run: PostgreSQL in a container when TEST_DATABASE_URL is unset and Docker has the image (README, Testing).
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: [
        '<rootDir>/libs/**/*.test.ts',
        '<rootDir>/apps/**/*.test.ts',
        // The repository's own checks (README links, the test database choice): no service, no database.
        '<rootDir>/test/*.test.ts',
        '<rootDir>/test/support/*.test.ts',
        '!**/*.e2e.test.ts',
      ],
    },
    { ...common, displayName: 'packs', testMatch: ['<rootDir>/test/packs/**/*.test.ts'] },
    { ...common, displayName: 'e2e', testMatch: ['<rootDir>/test/**/*.e2e.test.ts'] },
  ],
};
