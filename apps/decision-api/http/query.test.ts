import 'reflect-metadata';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import type { Database } from '../../../libs/persistence/index.js';
import { AppModule } from '../app.module.js';
import { loadConfig } from '../config.js';
import { QUERY_PARAMS_KEY } from './query.js';

describe('@QueryParams', () => {
  it('every handler that reads its query declares which parameters it takes (the guard refuses all others)', () => {
    const controllers = AppModule.forRoot(loadConfig({}), {} as Database).controllers ?? [];
    const readers: string[] = [];
    const undeclared: string[] = [];
    for (const controller of controllers) {
      const cls = controller as unknown as { name: string; prototype: Record<string, unknown> };
      for (const method of Object.getOwnPropertyNames(cls.prototype)) {
        const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, cls, method) ?? {}) as Record<string, unknown>;
        if (!Object.keys(args).some((k) => k.startsWith(`${RouteParamtypes.QUERY}:`))) continue;
        readers.push(`${cls.name}.${method}`);
        const declared = Reflect.getMetadata(QUERY_PARAMS_KEY, cls.prototype[method] as object) as string[] | undefined;
        if (!declared || declared.length === 0) undeclared.push(`${cls.name}.${method}`);
      }
    }
    expect(readers.length).toBeGreaterThanOrEqual(12);
    expect(undeclared).toEqual([]);
  });
});
