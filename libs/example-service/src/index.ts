export * from './schema.ts';
export { seed, type SeedCounts, type SeedOptions } from './seed.ts';
export { migrate, migrationsFolder } from './migrations.ts';
