#!/usr/bin/env node
import { reportFailure, runCommandLine } from './cli/command-line-run.js';

runCommandLine(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  // A failure ends the process at once, whatever the command had started.
  (error: unknown) => process.exit(reportFailure(error)),
);
