import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.rehearsal/**', 'bench/out/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // The layering of src/ (issue #14), also checked on the whole import graph, with cycles, by
  // test/unit/import-rules.unit.test.ts.
  {
    // (a) decisions and renderers import no AWS code: no gateway, no SDK; (d) nor phase code.
    files: ['src/logic/**/*.ts', 'src/summary/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?:\\.\\./)+aws/',
              message: 'logic and summary import no AWS gateway (src/aws): take plain data instead.',
            },
            { regex: '^@aws-sdk/', message: 'logic and summary import no AWS SDK: take plain data instead.' },
            {
              regex: '^(?:\\.\\./)+modes/',
              message: 'logic and summary import no phase code (src/modes): the phase hands them plain data.',
            },
          ],
        },
      ],
    },
  },
  {
    // (b) gateways import no phase code.
    files: ['src/aws/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?:\\.\\./)+(?:logic|modes|summary)/',
              message: 'a gateway (src/aws) imports nothing from src/logic, src/modes or src/summary.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
