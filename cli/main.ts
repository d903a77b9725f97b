#!/usr/bin/env node
// The hearth command: the runtime's and the agent's commands under one entry point. This is
// the one module that imports from both runtime/ and agent/.
import { isHearthError } from '../shared/errors.js';
import { parseCommand, type Command } from '../shared/command.js';
import { demo } from './demo.js';
import { deploy, invoke, ls, rm, workers } from '../runtime/cli/functions.js';
import { serve } from '../runtime/cli/serve.js';
import { agent } from '../agent/cli/agent.js';
import { coldstarts } from '../agent/cli/coldstarts.js';
import { profile } from '../agent/cli/profile.js';
import { tuner } from '../agent/cli/tuner.js';

const COMMANDS: Command[] = [serve, deploy, invoke, ls, workers, rm, agent, coldstarts, profile, tuner, demo] as unknown as Command[];

function usage(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length));
  return `hearth: a serverless function host with warm pools and shared, memory-mapped state

usage: hearth COMMAND [options]   (hearth COMMAND --help for details)

commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`).join('\n')}
`;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage());
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS.find((candidate) => candidate.name === name);
  if (command === undefined) {
    process.stderr.write(`hearth: unknown command ${JSON.stringify(name)}\n\n${usage()}`);
    return 2;
  }
  const { values, positionals } = parseCommand(command, rest);
  if (values['help'] === true) {
    process.stdout.write(`usage: ${command.usage}\n\n${command.help}\n`);
    return 0;
  }
  return command.run(values, positionals);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = isHearthError(error) ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error);
    process.stderr.write(`hearth: ${message}\n`);
    process.exitCode = isHearthError(error) && error.code === 'HEARTH_ERR_BAD_REQUEST' ? 2 : 1;
  },
);
