import { InputError } from '../errors.ts';
import { importFromFirst } from './schema-tables.ts';

/** A function of the service's code that a generated call snippet imports and calls as `fn(db, params)`. */
export interface ServiceFunction {
  /** The module the snippet imports it from, e.g. `@acme/payments-service/domain`. */
  module: string;
  exportName: string;
}

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Where call snippets import service functions from unless `--from` says otherwise. */
export function defaultFunctionModule(service: string): string {
  return `${service}/domain`;
}

/**
 * Finds `exportName` among the functions `module` exports, importing the module as the
 * snippet will (resolved from the repo first). A missing module or function is refused,
 * naming what the module does export.
 */
export async function findServiceFunction(exportName: string, module: string, resolveFrom: string[]): Promise<ServiceFunction> {
  if (!IDENTIFIER.test(exportName)) {
    throw new InputError(`--function '${exportName}' is not a JavaScript name; pass the function's export name, e.g. --function=mergeDuplicateDeals`, { subject: 'function' });
  }
  const errors: string[] = [];
  const exports = await importFromFirst(module, resolveFrom, errors);
  if (!exports) {
    throw new InputError(`--from ${module}: cannot be imported (${errors[0]}); install the service in the repo first (npm install), or name the module that exports the function with --from`, {
      subject: 'from',
    });
  }
  if (typeof exports[exportName] !== 'function') {
    const functions = Object.keys(exports).filter((name) => typeof exports[name] === 'function' && /^[a-z]/.test(name));
    throw new InputError(`--function ${exportName}: ${module} exports no function ${exportName}; its functions are ${functions.join(', ') || 'none'}`, {
      subject: 'function',
    });
  }
  return { module, exportName };
}
