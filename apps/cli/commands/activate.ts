/** `decisions activate <name> <version>`: makes a release the tenant's active one (role publisher). */
import type { Command } from '../command.js';
import { CliError, describeRelease } from '../output.js';

export const activate: Command = {
  name: 'activate',
  args: '<name> <version>',
  summary: "make a release the tenant's active one (POST /v1/releases/{name}/{version}/activate; role publisher)",
  async run({ io, positionals, client }) {
    const [name, version, ...extra] = positionals;
    if (!name || !version || extra.length) throw new CliError('activate needs a release name and version', 2);
    const answer = await client().post(`/v1/releases/${encodeURIComponent(name)}/${encodeURIComponent(version)}/activate`);
    if (io.json) io.out(JSON.stringify(answer.body, null, 2));
    else io.out(`${(answer.body as { changed?: boolean } | undefined)?.changed === false ? 'already active' : 'active'}: ${describeRelease(answer.body)}`);
    return 0;
  },
};
