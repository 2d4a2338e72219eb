import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { ParsedConfig } from '../config.ts';

/**
 * The service package the snippets import, as installed: the nearest named package.json
 * above the service's schema (the config finds it with packageDir, so in an image built
 * with `snippets link-service` it is the image's own package). Null without a service.
 */
export async function installedService(config: ParsedConfig): Promise<{ name: string; version: string | null } | null> {
  const source = config.service?.migrationsFolder ?? config.service?.schemaFile;
  if (!source) return null;
  for (let dir = path.dirname(path.resolve(source)); ; dir = path.dirname(dir)) {
    const manifest = await readFile(path.join(dir, 'package.json'), 'utf8').then(
      (text) => JSON.parse(text) as { name?: string; version?: string },
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
        throw error;
      },
    );
    // A package.json without a name only sets options for its folder (`"type": "module"`).
    if (manifest?.name) return { name: manifest.name, version: manifest.version ?? null };
    if (path.dirname(dir) === dir) return null;
  }
}
