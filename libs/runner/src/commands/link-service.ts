import path from 'node:path';
import { linkService, type LinkServiceReport } from '../service/service-image.ts';

/**
 * `snippets link-service`: run by the snippet image's build after `npm ci`, so the service
 * code the snippets import is the code of the image they extend (see linkService).
 */
export function linkServiceCommand(cwd: string, options: { package: string; serviceDir: string }): Promise<LinkServiceReport> {
  return linkService(path.resolve(cwd), options.package, options.serviceDir);
}
