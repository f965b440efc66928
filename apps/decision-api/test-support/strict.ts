/** Strict fakes for service unit tests: a stand-in that throws on any member a test did not stub (immich's test/utils.ts). */

// Looked up by `await` and by jest's matchers and printer; answering "absent" keeps them from tripping the fake.
const PROBED = new Set(['then', 'asymmetricMatch', '$$typeof', 'nodeType', 'toJSON', 'constructor']);

export function strict<T extends object>(name: string, stubs: Partial<T> = {}): T {
  return new Proxy(stubs, {
    get(target, prop) {
      if (prop in target) return target[prop as keyof typeof target];
      if (typeof prop === 'symbol' || PROBED.has(prop)) return undefined;
      throw new Error(`${name}.${prop} is not stubbed in this test`);
    },
  }) as T;
}
