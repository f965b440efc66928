/** `decisions active`: the tenant's active release. */
import type { Command } from '../command.js';
import { CliError, describeRelease } from '../output.js';

export const active: Command = {
  name: 'active',
  args: '',
  summary: "show the tenant's active release (GET /v1/releases/active)",
  async run({ io, positionals, client }) {
    if (positionals.length) throw new CliError('active takes no arguments', 2);
    const answer = await client().get('/v1/releases/active');
    if (io.json) io.out(JSON.stringify(answer.body, null, 2));
    else io.out(`active: ${describeRelease(answer.body)}`);
    return 0;
  },
};
