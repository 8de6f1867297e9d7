// The deployment record: the JSON handed from job to job (the `record` output and input) and the
// source of the runbook's deployment log. This is its one entry point; every mode, decision and
// renderer imports the record from here:
//   record/schema.ts  every part of the record, typed (extra and the canary's evidence included)
//   record/parse.ts   parseRecord: the untrusted JSON checked part by part
//   record/values.ts  checkRecordValues: its values held to the inputs' patterns (passed in)
//   record/size.ts    the 1 MB job-output limit and what is cut to stay under it
//   record/build.ts   new records, phases and command ids
//   record/view.ts    readable names over the short keys (instance entries, samples, criteria)
//   record/write.ts   writeRecord: the record and record-file outputs
export * from './record/schema.js';
export * from './record/parse.js';
export * from './record/size.js';
export * from './record/build.js';
export * from './record/view.js';
export * from './record/write.js';
export * from './record/values.js';
