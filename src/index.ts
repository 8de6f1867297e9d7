import { run } from './main.js';
import { RECORD_TOOL_COMMAND, runRecordTool } from './record-tool.js';

// The runner starts the action with no arguments. The workflows' report and checkpoint jobs run the
// same bundle as `node dist/index.js record-tool <command> …` to render or pick deployment records.
if (process.argv[2] === RECORD_TOOL_COMMAND) {
  void runRecordTool(process.argv.slice(3)).then((code) => {
    process.exitCode = code;
  });
} else {
  void run();
}
