/** Which release decides now, and compiled releases for replay. Built-in release: newest `releases/default/*`. */
import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import {
  compareSemver,
  type FileComponentSource,
  ReleaseCompiler,
  type CompiledRelease,
  type ReleaseManifest,
  type ReleaseRef,
} from '../../../libs/decisions/index.js';
import { CONTENT_SOURCE } from '../tokens.js';

export const BUILTIN_RELEASE_NAME = 'default';

@Injectable()
export class ReleaseRegistry implements OnModuleInit {
  private readonly logger = new Logger('ReleaseRegistry');
  private readonly compiler: ReleaseCompiler;
  private builtin?: CompiledRelease;

  constructor(@Inject(CONTENT_SOURCE) private readonly source: FileComponentSource) {
    this.compiler = new ReleaseCompiler(source);
  }

  async onModuleInit(): Promise<void> {
    const manifests = (await this.source.releases()).filter((m) => m.name === BUILTIN_RELEASE_NAME);
    manifests.sort((a, b) => compareSemver(b.version, a.version));
    const newest = manifests[0];
    if (!newest) throw new Error(`no built-in release under releases/${BUILTIN_RELEASE_NAME}/`);
    this.builtin = await this.compiler.compile(newest);
    this.logger.log(`built-in release ${this.builtin.id} loaded (${Object.entries(newest.components).map(([n, v]) => `${n}@${v}`).join(', ')})`);
  }

  get ready(): boolean {
    return this.builtin !== undefined;
  }

  /** The release deciding for this tenant now. Callers keep the object they got: in-flight work finishes on it. */
  active(_tenant: string): CompiledRelease {
    if (!this.builtin) throw new Error('release registry not initialised');
    return this.builtin;
  }

  /** Compiles a release manifest against this tenant's components (built-in and uploaded), cached per content. */
  compileFor(_tenant: string, manifest: ReleaseManifest): Promise<CompiledRelease> {
    return this.compiler.compile(manifest);
  }

  /** The exact release a stored decision pinned, compiled once and cached. */
  pinned(ref: ReleaseRef): Promise<CompiledRelease> {
    return this.compiler.compile({ name: ref.name, version: ref.version, components: ref.components });
  }
}
