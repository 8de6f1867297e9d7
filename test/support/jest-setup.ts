// aws-sdk-client-mock's jest matchers (toHaveReceivedCommandTimes, toHaveReceivedCommandWith, …).
// The package's ES build is not marked as a module, so its CommonJS build is loaded, which extends
// jest's global expect.
import { createRequire } from 'node:module';

createRequire(import.meta.url)('aws-sdk-client-mock-jest');
// Their type declarations, for every test file in the program (erased at run time).
import type {} from 'aws-sdk-client-mock-jest';
