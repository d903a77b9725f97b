import fs from 'node:fs';
import path from 'node:path';
import { HearthError } from '../../shared/errors.js';
import type { ToolProfileFile } from '../../shared/tool-profiles.js';

/** Every file under `dir`, by '/'-separated relative path, in name order. */
export function listFiles(dir: string): ToolProfileFile[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[])
    .map((name) => ({ name: name.split(path.sep).join('/'), stat: fs.statSync(path.join(dir, name)) }))
    .filter(({ stat }) => stat.isFile())
    .map(({ name, stat }) => ({ name, bytes: stat.size }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** Makes `dir` ready for a run's files: created when missing; a directory that has files in it is refused. */
export function prepareRunDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `dir: cannot create ${dir}: ${(error as Error).message}`, { details: { field: 'dir' } });
  }
  const present = fs.readdirSync(dir);
  if (present.length > 0) {
    throw new HearthError('HEARTH_ERR_BAD_REQUEST', `dir: ${dir} is not empty (${present.slice(0, 3).join(', ')}${present.length > 3 ? ', ...' : ''}); name a new or empty directory`, { details: { field: 'dir' } });
  }
}
