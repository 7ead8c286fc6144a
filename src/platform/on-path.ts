import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Where `command` is on `path` (PATH by default), as a spawn of it would find it; undefined when it is not there. */
export function onPath(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter).filter((entry) => entry.length > 0)) {
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here, or not executable
    }
  }
  return undefined;
}
