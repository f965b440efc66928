/** `decisions release <name> <version> --component a=1.0.0…`: an immutable release naming exact component versions. */
import { isName, isSemver } from '../../../libs/names/index.js';
import { str, type Command } from '../command.js';
import { CliError, describeRelease } from '../output.js';

/** `<name>=<version>`, with the platform's own name and version rules. */
function component(spec: string): [string, string] | undefined {
  const at = spec.indexOf('=');
  const [name, version] = [spec.slice(0, at), spec.slice(at + 1)];
  return at > 0 && isName(name) && isSemver(version) ? [name, version] : undefined;
}

export const release: Command = {
  name: 'release',
  args: '<name> <version> --component <name>=<version>… [--description <text>]',
  summary: 'create an immutable release naming exact component versions (POST /v1/releases)',
  options: { component: { type: 'string', multiple: true, short: 'c' }, description: { type: 'string' } },
  async run({ io, positionals, values, client }) {
    const [name, version, ...extra] = positionals;
    if (!name || !version || extra.length) throw new CliError('release needs a name and a version', 2);
    const specs = ((values.component as (string | boolean)[] | undefined) ?? []).map(String);
    if (!specs.length) throw new CliError('name at least one --component <name>=<version>', 2);
    const components: Record<string, string> = {};
    for (const spec of specs) {
      const m = component(spec);
      if (!m) throw new CliError(`--component ${spec}: expected <name>=<version> (a lower-kebab-case name, a semantic version)`, 2);
      if (components[m[0]] !== undefined) throw new CliError(`--component ${m[0]} given twice`, 2);
      components[m[0]] = m[1];
    }
    const description = str(values, 'description');
    const answer = await client().post('/v1/releases', { name, version, components, ...(description ? { description } : {}) });
    if (io.json) io.out(JSON.stringify(answer.body, null, 2));
    else io.out(`${answer.status === 201 ? 'created' : 'already exists (same content)'} release ${describeRelease({ name, version, components })}`);
    return 0;
  },
};
