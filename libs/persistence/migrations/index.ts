/** Every migration, in order. Listed explicitly so the compiled service and the tests need no file discovery. */
import { Migration20261122000000_initial } from './Migration20261122000000_initial.js';

export const migrationsList = [{ name: 'Migration20261122000000_initial', class: Migration20261122000000_initial }];
