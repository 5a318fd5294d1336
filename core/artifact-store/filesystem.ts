/** The embedded default: objects are files under one root directory, written by rename(2) of a complete file. */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ArtifactStore } from './types.js';
import { checkKey, checkPrefix } from './keys.js';

export class FilesystemArtifactStore implements ArtifactStore {
  readonly uri: string;
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    this.uri = pathToFileURL(this.root).href;
  }

  async put(key: string, bytes: Uint8Array): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${randomUUID()}.partial`;
    const handle = await open(temporary, 'w');
    try {
      await handle.writeFile(bytes);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      return new Uint8Array(await readFile(this.pathOf(key)));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return null;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    const start = join(this.root, ...prefix.split('/').filter(Boolean));
    const keys: string[] = [];
    await this.walk(start, keys);
    return keys.filter((k) => k.startsWith(prefix)).sort();
  }

  async children(prefix: string): Promise<string[]> {
    checkPrefix(prefix);
    let entries;
    try {
      entries = await readdir(join(this.root, ...prefix.split('/').filter(Boolean)), { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return [];
      throw err;
    }
    const names: string[] = [];
    for (const entry of entries) {
      // A directory counts once it holds an object (as on S3, where empty "folders" do not exist).
      if (entry.isFile() && !entry.name.endsWith('.partial')) names.push(entry.name);
      else if (entry.isDirectory() && (await this.holdsObject(join(this.root, ...prefix.split('/').filter(Boolean), entry.name)))) names.push(entry.name);
    }
    return names.sort();
  }

  async delete(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  /** Whether any object lies below `dir`: stops at the first one instead of walking the whole tree. */
  private async holdsObject(dir: string): Promise<boolean> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
      throw err;
    }
    for (const entry of entries) if (entry.isFile() && !entry.name.endsWith('.partial')) return true;
    for (const entry of entries) if (entry.isDirectory() && (await this.holdsObject(join(dir, entry.name)))) return true;
    return false;
  }

  private async walk(dir: string, keys: string[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw err;
    }
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await this.walk(path, keys);
      else if (entry.isFile() && !entry.name.endsWith('.partial')) keys.push(path.slice(this.root.length + 1).split(sep).join('/'));
    }
  }
}
