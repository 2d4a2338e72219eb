export * from './schema.ts';
export { schemaFile } from './schema-file.ts';
export { applySchema, splitStatements } from './apply-schema.ts';
export { seed, seedRows, type SeedCounts, type SeedOptions } from './seed.ts';
export { seedUserId, seedWorkspaceId } from './seed-ids.ts';
