import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load.ts';
import { registerAnalyzeCommand } from './analyze.ts';
import { registerConfigCommand } from './config-command.ts';
import { registerPredictCommands } from './predict.ts';
import { registerServeCommand, softwareVersion } from './serve.ts';

const program = new Command();
program
  .name('bonemet')
  .description('T11 body composition and breast-cancer metastasis-risk service beside a PACS (research use only)')
  .version(softwareVersion())
  .showHelpAfterError();

registerServeCommand(program);
registerConfigCommand(program);
registerAnalyzeCommand(program);
registerPredictCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof ConfigError) {
    process.stderr.write(`${e.message}\n`);
    process.exit(2);
  }
  if (e instanceof CommanderError) process.exit(e.exitCode);
  process.stderr.write(`bonemet: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
