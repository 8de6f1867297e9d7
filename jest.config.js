// ESM + TypeScript: ts-jest compiles each file as an ES module; run jest with
// --experimental-vm-modules (see package.json scripts). Type checking is `npm run typecheck`'s job,
// so ts-jest only transpiles (isolatedModules in tsconfig.json), which keeps the suite fast on two cores.
const transform = { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.test.json' }] };
const moduleNameMapper = { '^(\\.{1,2}/.*)\\.js$': '$1' };
const common = { extensionsToTreatAsEsm: ['.ts'], transform, moduleNameMapper, testEnvironment: 'node' };

export default {
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/test/unit/**/*.unit.test.ts'],
      setupFilesAfterEnv: ['<rootDir>/test/support/jest-setup.ts'],
    },
    { ...common, displayName: 'emulator', testMatch: ['<rootDir>/test/emulator/**/*.int.test.ts'] },
  ],
};
