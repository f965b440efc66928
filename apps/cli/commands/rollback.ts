/** `decisions rollback`: back to the previously active release (role publisher). */
import type { Command } from '../command.js';
import { CliError, describeRelease } from '../output.js';

export const rollback: Command = {
  name: 'rollback',
  args: '',
  summary: 'go back to the previously active release (POST /v1/releases/rollback; role publisher)',
  async run({ io, positionals, client }) {
    if (positionals.length) throw new CliError('rollback takes no arguments', 2);
    const answer = await client().post('/v1/releases/rollback');
    if (io.json) io.out(JSON.stringify(answer.body, null, 2));
    else io.out(`rolled back; active: ${describeRelease(answer.body)}`);
    return 0;
  },
};
